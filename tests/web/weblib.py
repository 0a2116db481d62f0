"""Helpers for the dashboard's browser tests: headless Chromium (Debian's
chromium and chromium-driver) driven by Selenium, with the browser console
captured, waits on what the page draws, and full-page screenshots."""

import json
import os
import shutil
import tempfile
import time

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
ARTIFACTS = os.environ.get(
    "KPULSE_WEB_ARTIFACTS",
    os.path.join(os.path.dirname(__file__), "..", "..", "build", "test-artifacts", "web"))
WAIT_S = 30.0

# The pages of the navigation and the route each needs (None: always there).
PAGES = {
    "overview": None,
    "processes": ("GET", "/api/v1/processes"),
    "events": ("GET", "/api/v1/events"),
    "anomalies": ("GET", "/api/v1/anomalies"),
    "forecasts": ("GET", "/api/v1/forecast"),
    "incidents": ("GET", "/api/v1/incidents"),
    "ask": ("POST", "/api/v1/analyze"),
    "admin": ("GET", "/api/v1/users"),
}


def selenium_or_skip():
    try:
        from selenium import webdriver  # noqa: F401
    except ImportError:
        pytest.skip("python3-selenium not installed: apt-get install python3-selenium")
    for path, pkg in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not os.path.exists(path):
            pytest.skip(f"{path} missing: apt-get install {pkg}")


class Browser:
    """One headless Chromium with a fresh profile; closed by quit()."""

    def __init__(self, base_url):
        from selenium import webdriver
        from selenium.webdriver.chrome.options import Options
        from selenium.webdriver.chrome.service import Service

        self.base = base_url
        self.profile = tempfile.mkdtemp(prefix="kpulse-chromium-")
        opts = Options()
        opts.binary_location = CHROMIUM
        for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--disable-background-networking", "--disable-component-update",
                    "--disable-sync", "--no-first-run", "--disable-extensions",
                    "--disable-dev-shm-usage", "--window-size=1440,1000",
                    f"--user-data-dir={self.profile}"):
            opts.add_argument(arg)
        opts.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
        self.driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
        self.driver.set_script_timeout(20)
        self.console = []  # every entry seen, for the report of a failure

    def quit(self):
        try:
            self.driver.quit()
        finally:
            shutil.rmtree(self.profile, ignore_errors=True)

    # ---- the console

    def logs(self):
        """Console entries since the last call (and keeps them all)."""
        entries = self.driver.get_log("browser")
        self.console.extend(entries)
        return entries

    def errors(self):
        """SEVERE entries since the last call: script errors, refused
        requests, CSP refusals, console.error."""
        return [e for e in self.logs() if e["level"] == "SEVERE"]

    def requests(self):
        """Every request Chromium sent since the last call: [{url, method,
        headers}], from its network log (Network.requestWillBeSent)."""
        out = []
        for e in self.driver.get_log("performance"):
            msg = json.loads(e["message"])["message"]
            if msg.get("method") == "Network.requestWillBeSent":
                req = msg["params"]["request"]
                out.append({"url": req["url"], "method": req["method"],
                            "headers": req.get("headers", {})})
        return out

    # ---- pages

    def js(self, script, *args):
        return self.driver.execute_script(script, *args)

    def open(self, path="/"):
        self.driver.get(self.base + path)

    def go(self, page):
        """Navigates by the hash, as a click on the navigation does."""
        self.js("location.hash = arguments[0]", f"#/{page}")
        self.wait(lambda: self.js(
            "const p = document.querySelector('.page'); return p && p.dataset.page") == page,
            f"page {page} mounted")

    def wait(self, cond, what, timeout=WAIT_S):
        deadline = time.time() + timeout
        last = None
        while time.time() < deadline:
            try:
                last = cond()
                if last:
                    return last
            except Exception as e:  # the page may be between states
                last = e
            time.sleep(0.2)
        raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r}); "
                             f"console: {self.console[-10:]}")

    def find(self, css):
        from selenium.webdriver.common.by import By
        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def login(self, user, password):
        self.open("/")
        self.wait(lambda: self.find("#login-user"), "the login form")
        self.find("#login-user")[0].send_keys(user)
        self.find("#login-password")[0].send_keys(password)
        self.find("#login-submit")[0].click()
        self.wait(lambda: self.find("#logout"), f"{user} logged in")

    def texts(self, css):
        """The text of every element matching css, read in one step (tables
        are redrawn each round, so element handles go stale)."""
        return self.js("return [...document.querySelectorAll(arguments[0])]"
                       ".map(e => e.textContent)", css)

    def nav_pages(self):
        return self.js("return [...document.querySelectorAll('.nav a')].map(a => a.dataset.page)")

    def chart(self, name):
        """{points, cells, series} of a chart the page registered, or None."""
        return self.js(
            """const c = kpulse.charts.get(arguments[0]);
               if (!c) return null;
               const d = c.u.data;
               return {points: c.points, cells: c.cells === undefined ? null : c.cells,
                       xs: d[0].length, series: c.u.series.length - 1};""", name)

    def wait_chart(self, name, cells=False):
        def ready():
            c = self.chart(name)
            return c if c and c["points"] > 0 and c["xs"] > 1 and (not cells or c["cells"] > 0) else None
        return self.wait(ready, f"chart {name} with data{' and cells' if cells else ''}")

    def screenshot(self, name):
        """A full-page PNG in ARTIFACTS; returns its path."""
        os.makedirs(ARTIFACTS, exist_ok=True)
        height = self.js("return Math.max(document.documentElement.scrollHeight, 600)")
        self.driver.set_window_size(1440, min(int(height) + 20, 4000))
        time.sleep(0.3)  # charts follow the new width
        path = os.path.join(ARTIFACTS, f"{name}.png")
        self.driver.save_screenshot(path)
        self.driver.set_window_size(1440, 1000)
        return path
