"""The dashboard in a browser, as an attacker would look at it: the
Content-Security-Policy is enforced (an injected inline script, an inline
style and a request to another origin are refused, so the checks for
console errors would see a violation), the token never appears in a URL
or a cookie, and the session lives in this tab only."""

import time

from apilib import ADMIN_PASSWORD, jwt_claims, sign_jwt

ADMIN = ("admin", ADMIN_PASSWORD)


def test_the_policy_refuses_inline_script_inline_style_and_other_origins(browser):
    browser.login(*ADMIN)
    browser.wait_chart("cpu")
    assert not browser.errors()
    browser.js("""
        const s = document.createElement('script');
        s.textContent = 'window.injected = 1';
        document.body.append(s);
        document.body.setAttribute('style', 'background: red');
        fetch('http://127.0.0.2:9/x').catch(() => {});""")
    seen = []

    def refused_all_three():
        seen.extend(e["message"] for e in browser.errors() if e["source"] == "security")
        text = "\n".join(seen)
        return all(d in text for d in ("'script-src 'self''", "'style-src 'self''",
                                         "\"connect-src 'self'\""))
    browser.wait(refused_all_three, "the three refusals")
    assert browser.js("return window.injected") is None
    assert browser.js("return getComputedStyle(document.body).backgroundColor") != "rgb(255, 0, 0)"


def test_the_token_goes_in_a_header_never_in_a_url_or_cookie(browser, daemon):
    browser.login(*ADMIN)
    for page in browser.nav_pages():
        browser.go(page)
        time.sleep(0.5)
    browser.wait(lambda: browser.find(".stream-dot.stream-live"), "the live stream")
    token = browser.js("return sessionStorage.getItem('kpulse.token')")
    assert token and jwt_claims(token)["sub"] == "admin"
    assert browser.js("return document.cookie") == ""
    # What went over the wire, from Chromium's own network log.
    sent = browser.requests()
    api = [r for r in sent if "/api/v1/" in r["url"] and "/auth/login" not in r["url"]]
    assert any(r["url"].endswith("/api/v1/stream") for r in api)
    assert any("/api/v1/query_range?" in r["url"] for r in api)
    for r in sent:
        assert token not in r["url"] and token[-16:] not in r["url"], r["url"]
        assert "cookie" not in {k.lower() for k in r["headers"]}, r
    for r in api:
        assert r["headers"].get("Authorization") == f"Bearer {token}", r["url"]
    assert browser.js("return location.href").endswith("#/" + browser.nav_pages()[-1])
    status = daemon.request("GET", "/api/v1/status", token=daemon.tokens["admin"]).json()
    assert status["api"]["stream_clients"] >= 1
    assert not browser.errors()


def test_logging_out_forgets_the_token(browser):
    browser.login(*ADMIN)
    browser.find("#logout")[0].click()
    browser.wait(lambda: browser.find("#login-form"), "the login form")
    assert browser.js("return sessionStorage.getItem('kpulse.token')") is None
    browser.js("location.hash = '#/overview'")
    time.sleep(0.5)
    assert browser.find("#login-form") and not browser.find("#logout")
    assert not browser.errors()


def test_a_reload_keeps_the_session_and_a_new_browser_does_not_share_it(browser, daemon):
    from weblib import Browser

    browser.login(*ADMIN)
    browser.driver.refresh()
    browser.wait(lambda: browser.find("#logout"), "still logged in after a reload")
    other = Browser(browser.base)
    try:
        other.open("/")
        other.wait(lambda: other.find("#login-form"), "a login form in the other browser")
    finally:
        other.quit()
    assert not browser.errors()


def test_an_expired_token_leads_back_to_the_login(browser, daemon):
    claims = jwt_claims(daemon.tokens["viewer"])
    expired = sign_jwt({"alg": "HS256", "typ": "JWT"},
                       dict(claims, iat=int(time.time()) - 7200, exp=int(time.time()) - 3600))
    browser.open("/")
    browser.wait(lambda: browser.find("#login-form"), "the login form")
    browser.js("sessionStorage.setItem('kpulse.token', arguments[0])", expired)
    browser.driver.refresh()
    browser.wait(lambda: browser.find("#login-form"), "the login form again")
    assert browser.js("return sessionStorage.getItem('kpulse.token')") is None
    # The one error: the refused /auth/me.
    assert all("/api/v1/auth/me" in e["message"] and "401" in e["message"]
               for e in browser.errors())
