"""The web dashboard's files over HTTP (GET / and GET /ui/{file}): types,
the browser-facing headers, ETag revalidation, gzip, 404s, and that no
path reaches outside the files built into the binary."""

import gzip
import http.client
import re

import pytest

from apilib import HOST

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
         ".svg": "image/svg+xml", ".txt": "text/plain; charset=utf-8"}


def raw_get(daemon, path, headers=None, method="GET"):
    """A request with the path sent exactly as given (no normalization)."""
    conn = http.client.HTTPConnection(HOST, daemon.port, timeout=10)
    try:
        conn.putrequest(method, path, skip_accept_encoding=True)
        for k, v in (headers or {}).items():
            conn.putheader(k, v)
        conn.endheaders()
        r = conn.getresponse()
        return r.status, dict((k.lower(), v) for k, v in r.getheaders()), r.read()
    finally:
        conn.close()


def assert_browser_headers(h):
    assert h["content-security-policy"] == CSP
    assert h["x-content-type-options"] == "nosniff"
    assert h["referrer-policy"] == "no-referrer"
    assert h["x-frame-options"] == "DENY"
    assert h["cache-control"] == "no-cache"
    assert re.fullmatch(r'"[0-9a-f]{32}(-gz)?"', h["etag"]), h["etag"]


def module_graph(daemon):
    """Every /ui/ file the page loads: its src/href, then the imports of each
    module, transitively. Returns {path: body}."""
    status, h, body = raw_get(daemon, "/")
    assert status == 200
    todo = ["/ui/" + p for p in re.findall(r'(?:src|href)="/ui/([^"]+)"', body.decode())]
    seen = {}
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        status, h, body = raw_get(daemon, path)
        assert status == 200, path
        seen[path] = (h, body)
        if path.endswith(".js"):
            for name in re.findall(r"""(?:from|import\()\s*'\./([A-Za-z0-9_.]+\.js)'""",
                                   body.decode()):
                todo.append("/ui/" + name)
    return seen


def test_index_is_html_with_the_strict_policy(daemon):
    status, h, body = raw_get(daemon, "/")
    assert status == 200
    assert h["content-type"] == "text/html; charset=utf-8"
    assert_browser_headers(h)
    html = body.decode()
    assert '<script type="module" src="/ui/app.js"></script>' in html
    assert "style=" not in html and "http" not in html


def test_every_file_the_page_loads_is_served_with_its_type_and_headers(daemon):
    files = module_graph(daemon)
    # the page, its style sheets, uPlot, the app and every page module
    assert {"/ui/app.js", "/ui/app.css", "/ui/uPlot.iife.min.js", "/ui/uPlot.min.css",
            "/ui/favicon.svg", "/ui/view_overview.js", "/ui/view_incidents.js",
            "/ui/live.js", "/ui/heatmap.js"} <= set(files)
    for path, (h, body) in files.items():
        ext = path[path.rindex("."):]
        assert h["content-type"] == TYPES[ext], path
        assert_browser_headers(h)
        assert int(h["content-length"]) == len(body) > 0


def test_no_token_is_needed_and_a_token_changes_nothing(daemon):
    a = raw_get(daemon, "/ui/app.js")
    b = raw_get(daemon, "/ui/app.js",
                {"Authorization": f"Bearer {daemon.tokens['viewer']}"})
    assert a[0] == b[0] == 200 and a[2] == b[2]


def test_the_etag_revalidates_with_304_and_no_body(daemon):
    status, h, body = raw_get(daemon, "/ui/app.js")
    tag = h["etag"]
    for inm in (tag, f"W/{tag}", f'"nope", {tag}', "*"):
        s2, h2, b2 = raw_get(daemon, "/ui/app.js", {"If-None-Match": inm})
        assert (s2, b2) == (304, b""), inm
        assert h2["etag"] == tag
        assert h2["content-security-policy"] == CSP
    s3, _, b3 = raw_get(daemon, "/ui/app.js", {"If-None-Match": '"0123"'})
    assert s3 == 200 and b3 == body


def test_gzip_when_accepted_with_its_own_etag(daemon):
    _, plain_h, plain = raw_get(daemon, "/ui/uPlot.iife.min.js")
    status, h, body = raw_get(daemon, "/ui/uPlot.iife.min.js", {"Accept-Encoding": "gzip, br"})
    assert status == 200
    assert h["content-encoding"] == "gzip"
    assert h["vary"] == "Accept-Encoding"
    assert gzip.decompress(body) == plain
    assert len(body) * 2 < len(plain)
    assert h["etag"] == plain_h["etag"][:-1] + '-gz"'
    assert raw_get(daemon, "/ui/uPlot.iife.min.js",
                   {"Accept-Encoding": "gzip", "If-None-Match": h["etag"]})[0] == 304
    _, h0, b0 = raw_get(daemon, "/ui/uPlot.iife.min.js", {"Accept-Encoding": "gzip;q=0"})
    assert "content-encoding" not in h0 and b0 == plain


def test_unknown_files_are_404_errors(daemon):
    for path in ("/ui/nope.js", "/ui/", "/index.html", "/ui/app.js.map", "/ui/APP.JS",
                 "/ui/js/app.js", "/favicon.ico"):
        status, h, body = raw_get(daemon, path)
        assert status == 404, path
        assert h["content-type"] == "application/json"


@pytest.mark.parametrize("path", [
    "/ui/../../../../etc/passwd", "/ui/..%2f..%2f..%2fetc%2fpasswd", "/ui/%2e%2e/%2e%2e/etc/passwd",
    "/%2e%2e/%2e%2e/etc/passwd", "/ui/....//....//etc/passwd", "//etc/passwd",
    "/ui/%2fetc%2fpasswd", "/ui/..\\..\\etc\\passwd", "/ui/%00/../../etc/passwd",
])
def test_no_path_reaches_outside_the_built_in_files(daemon, path):
    status, _, body = raw_get(daemon, path)
    assert status in (400, 404), (path, status)
    assert b"root:" not in body


def test_a_nul_byte_ends_the_path_and_serves_nothing_else(daemon):
    """libmicrohttpd decodes %00 and the path ends there: the request gets
    that file exactly as /ui/app.js would, never another one or another type."""
    status, h, body = raw_get(daemon, "/ui/app.js%00.txt")
    _, h0, body0 = raw_get(daemon, "/ui/app.js")
    assert status in (200, 400, 404)
    if status == 200:
        assert body == body0 and h["content-type"] == h0["content-type"]


def test_only_get_is_allowed(daemon):
    for method in ("POST", "PUT", "DELETE"):
        status, h, _ = raw_get(daemon, "/", method=method)
        assert status == 405
        assert "GET" in h["allow"]


def test_head_answers_like_get_without_a_body(daemon):
    status, h, body = raw_get(daemon, "/ui/app.js", method="HEAD")
    if status == 405:
        pytest.skip("the API does not answer HEAD yet (the hardening branch adds it)")
    _, hg, _ = raw_get(daemon, "/ui/app.js")
    assert status == 200 and body == b""
    assert h["etag"] == hg["etag"] and h["content-type"] == hg["content-type"]
    assert h["content-security-policy"] == CSP
