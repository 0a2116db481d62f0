"""Every page of the dashboard for each role, against the live daemon:
the page renders with the kernel's data (its charts hold points, the
heatmaps cells), the console stays free of errors, the navigation and the
buttons follow the role and the routes the daemon has, and a full-page
screenshot of each is written for a person to look at."""

import pytest

from apilib import ADMIN_PASSWORD
from weblib import PAGES

USERS = {"viewer": ("u_viewer", "viewer-password"),
         "operator": ("u_operator", "operator-password"),
         "admin": ("admin", ADMIN_PASSWORD)}
LEVEL = {"none": 0, "viewer": 1, "operator": 2, "admin": 3}

# The charts each page must fill (heatmaps also need cells).
CHARTS = {
    "overview": ["cpu", "memory", "disk", "network", "runqueue-heatmap", "blocklat-heatmap"],
    "processes": ["process-cpu"],
    "events": ["event-rate"],
    "anomalies": ["anomaly-scores"],
    "forecasts": ["forecast"],
}
HEATMAPS = {"runqueue-heatmap", "blocklat-heatmap"}


def min_roles(daemon):
    doc = daemon.request("GET", "/openapi.json").json()
    return {(m.upper(), p): op["x-min-role"] for p, item in doc["paths"].items()
            for m, op in item.items()}


def expected_pages(daemon, role):
    roles = min_roles(daemon)
    out = []
    for page, route in PAGES.items():
        if route is None:
            out.append(page)
        elif route in roles and LEVEL[role] >= LEVEL[roles[route]]:
            out.append(page)
    return out


def short_forecast(browser):
    """A young daemon has too little history at the default horizon's step:
    the forecast of the next 15 minutes (10 s steps) needs 20 s of it."""
    browser.wait(lambda: browser.find("#forecast-series option"), "the series to forecast")
    browser.js("""const s = document.querySelector('#forecast-horizon');
                  s.value = '900'; s.dispatchEvent(new Event('change'));""")


def test_login_page_renders_and_refuses_a_wrong_password(browser):
    browser.open("/")
    browser.wait(lambda: browser.find("#login-form"), "the login form")
    browser.screenshot("login")
    browser.find("#login-user")[0].send_keys("admin")
    browser.find("#login-password")[0].send_keys("not-the-password")
    browser.find("#login-submit")[0].click()
    msg = browser.wait(lambda: [e.text for e in browser.find(".login-status .msg-error")],
                       "the refusal")
    assert msg == ["Wrong user name or password."]
    assert browser.js("return sessionStorage.length") == 0
    assert not browser.find("#logout")
    # The refused login's 401 is the one console error this page may show.
    assert all("auth/login" in e["message"] for e in browser.errors())


@pytest.mark.parametrize("role", ["viewer", "operator", "admin"])
def test_every_page_renders_with_kernel_data_and_no_console_error(browser, daemon, role):
    browser.login(*USERS[role])
    assert browser.find("#role")[0].text.lower() == role
    pages = expected_pages(daemon, role)
    assert browser.nav_pages() == pages
    for page in pages:
        browser.go(page)
        if page == "forecasts":
            short_forecast(browser)
        for name in CHARTS.get(page, []):
            c = browser.wait_chart(name, cells=name in HEATMAPS)
            assert c["points"] > 0 and c["xs"] > 1, (page, name, c)
        if page == "events":
            browser.wait(lambda: browser.find("#event-table tbody tr"), "event rows")
        if page == "processes":
            browser.wait(lambda: browser.find("#process-table tbody tr"), "process rows")
        if page == "admin":
            browser.wait(lambda: browser.find("#user-table tbody tr"), "user rows")
        browser.screenshot(f"{role}-{page}")
        errors = browser.errors()
        assert not errors, f"{role} on {page}: {errors}"


def test_the_overview_shows_this_hosts_numbers(browser, daemon):
    browser.login(*USERS["viewer"])
    browser.wait_chart("cpu")
    tiles = browser.wait(lambda: dict(zip(browser.texts(".tile .tile-label"),
                                          browser.texts(".tile .tile-value"))) or None, "tiles")
    live = daemon.request("GET", "/api/v1/live", token=daemon.tokens["viewer"]).json()
    ncpu = len({m["labels"]["cpu"] for m in live["metrics"]
                if m["name"] == "kpulse_cpu_seconds_total"})
    assert ncpu > 0
    busy = browser.wait(lambda: [t for t in browser.texts(".tile") if t.startswith("CPU busy")],
                        "the CPU busy tile")
    assert f"{ncpu} CPUs" in busy[0]
    assert "Memory available" in tiles and tiles["Memory available"].endswith("iB")
    # Every block device of the round has a row.
    devices = {m["labels"]["device"] for m in live["metrics"]
               if m["name"] == "kpulse_block_ios_completed_total"}
    rows = browser.wait(lambda: {t.split()[0] for t in
                                 browser.texts('[data-panel="devices"] tbody tr td:first-child')}
                        or None, "device rows")
    assert devices <= rows or len(rows) == 10


def test_a_viewer_sees_no_admin_page_and_no_action_button(browser, daemon):
    browser.login(*USERS["viewer"])
    assert "admin" not in browser.nav_pages()
    browser.js("location.hash = '#/admin'")
    browser.wait(lambda: browser.js("return document.querySelector('.page').dataset.page")
                 == "overview", "the fallback to the overview")
    for page in browser.nav_pages():
        browser.go(page)
        buttons = browser.js(
            "return [...document.querySelectorAll('.page button')].map(b => b.textContent)")
        # "Ask" stays: POST /api/v1/analyze is a viewer's route (issue 11)
        assert not {"Delete", "Add user", "Create token", "Acknowledge", "Resolve",
                    "Analyze again", "Comment"} & set(buttons), (page, buttons)
    assert not browser.errors()


def test_an_admin_manages_users_from_the_page(browser, daemon):
    browser.login(*USERS["admin"])
    browser.go("admin")
    names = lambda: browser.texts("#user-table tbody tr td:first-child")  # noqa: E731
    rows = browser.wait(names, "user rows")
    assert {"admin", "u_viewer", "u_operator"} <= set(rows)
    # No button deletes the admin's own account.
    assert not browser.find('button[data-user="admin"]')
    assert browser.find('button[data-user="u_viewer"]')
    browser.find("#new-user")[0].send_keys("web_made")
    browser.find("#new-password")[0].send_keys("web-made-password")
    browser.find("#user-form button")[0].click()
    browser.wait(lambda: "web_made" in names(), "the new user listed")
    users = daemon.request("GET", "/api/v1/users", token=daemon.tokens["admin"]).json()["users"]
    assert {"name": "web_made", "role": "viewer"}.items() <= next(
        u for u in users if u["name"] == "web_made").items()
    browser.js("window.confirm = () => true")
    browser.find('button[data-user="web_made"]')[0].click()
    browser.wait(lambda: "web_made" not in names(), "the user gone")
    users = daemon.request("GET", "/api/v1/users", token=daemon.tokens["admin"]).json()["users"]
    assert "web_made" not in {u["name"] for u in users}
    assert not browser.errors()


def test_the_navigation_offers_exactly_the_pages_whose_routes_exist(browser, daemon, routes):
    browser.login(*USERS["admin"])
    nav = browser.nav_pages()
    for page, route in PAGES.items():
        assert (page in nav) == (route is None or route in routes), (page, nav)
        if page in nav:
            continue
        # A page the daemon cannot serve falls back to the overview.
        browser.js("location.hash = arguments[0]", f"#/{page}")
        browser.wait(lambda: browser.js(
            "return document.querySelector('.page').dataset.page") == "overview",
            f"#{page} falling back to the overview")
    assert not browser.errors()
