"""The browser tests: the real app served on this run's PostgreSQL, driven by Debian's
Chromium through Playwright, each page checked by axe-core and at small widths.

- The server: werkzeug's `make_server` in a thread, serving the session's test app (its
  database is this run's own, built by the migrations). A browser's requests are real
  requests on their own connections, so what a test shows them must be committed: each
  test builds its own organisation (`committed_worlds`, named with the run's id) and removes
  it afterwards. Scoping keeps every other organisation out of sight, so tests stay
  independent of each other and of the rest of the suite.
- The browser: `/usr/bin/chromium` (Debian's package; `scripts/ensure-chromium.sh`, run by
  `make test`, installs it when missing). Never a browser build Playwright downloads.
- Each page looked at (`look`): axe-core's WCAG 2.1 A and AA rules, with no violation at any
  impact; no page-wide horizontal scrolling at 375 CSS px (a phone) nor at 640 CSS px (200 %
  zoom of a 1280 px window); a full-page screenshot at 375 px in SCREENSHOTS for people to
  look at.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright
from sqlalchemy.orm import Session
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from housing.db import db
from tests.conftest import PASSWORD
from tests.second_factor import unused_code

CHROMIUM = "/usr/bin/chromium"
AXE = Path(__file__).parent / "vendor" / "axe.min.js"
# Overwritten on each run; README.md names it. instance/ is ignored by git.
SCREENSHOTS = Path(__file__).resolve().parents[2] / "instance" / "screenshots"
DESKTOP = {"width": 1280, "height": 900}
NARROW = 375  # a phone
ZOOMED = 640  # 200 % zoom of a 1280 px wide window
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


class QuietHandler(WSGIRequestHandler):
    """No access log line per request: a failing test's output shows what matters."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


@pytest.fixture(scope="module")
def server(app: Flask) -> Iterator[str]:
    """The test app on a free port of 127.0.0.1, served in a thread; its base URL."""
    served: BaseWSGIServer = make_server(
        "127.0.0.1", 0, app, threaded=True, request_handler=QuietHandler
    )
    thread = threading.Thread(target=served.serve_forever, name="browser-tests", daemon=True)
    thread.start()
    try:
        yield f"http://localhost:{served.server_port}"
    finally:
        served.shutdown()
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        # Never skip: `make test` installs it (scripts/ensure-chromium.sh).
        pytest.fail(f"{CHROMIUM} is missing: run scripts/ensure-chromium.sh (make test does)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def log_in(app: Flask, browser: Browser, server: str) -> Iterator[Callable[[str], Page]]:
    """A page of a fresh browser context (cookies of its own), logged in as `email`; a
    staff user enters the code of their app (computed with pyotp from their secret)."""
    contexts: list[BrowserContext] = []
    with app.app_context():
        engine = db.engine

    def open_as(email: str) -> Page:
        # axe is injected as a script of the test's own: the app's CSP would refuse it.
        context = browser.new_context(base_url=server, viewport=DESKTOP, bypass_csp=True)
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        page.goto("/login")
        page.fill("#email", email)
        page.fill("#password", PASSWORD)
        with page.expect_navigation():
            # The password form comes first; sign-in providers' buttons may follow it.
            page.locator("main form button[type=submit]").first.click()
        if page.url.endswith("/login/code"):
            with Session(engine) as reading:
                page.fill("#code", unused_code(reading, email, commit=True))
            with page.expect_navigation():
                page.locator("main form button[type=submit]").click()
        assert "/login" not in page.url, f"{email} was not let in"
        return page

    yield open_as
    for context in contexts:
        context.close()


@dataclass
class Look:
    """What `look` found on one page; empty lists when all is well."""

    name: str
    violations: list[str] = field(default_factory=list)
    overflow: list[str] = field(default_factory=list)

    @property
    def problems(self) -> list[str]:
        return [f"{self.name}: {p}" for p in self.violations + self.overflow]


def _axe(page: Page) -> list[str]:
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        """tags => axe
            .run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']})
            .then(r => r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.slice(0, 5).map(n => n.target.join(' '))})))""",
        WCAG_TAGS,
    )
    return [f"{v['id']} ({v['impact']}): {v['help']} at {v['nodes']}" for v in result]


def _page_width(page: Page, width: int) -> int:
    page.set_viewport_size({"width": width, "height": 800})
    scroll_width: int = page.evaluate("document.documentElement.scrollWidth")
    return scroll_width


def look(page: Page, name: str) -> Look:
    """Check the page as it stands: axe, the widths, and a screenshot at 375 px."""
    found = Look(name, violations=_axe(page))
    try:
        for width in (ZOOMED, NARROW):
            scrolled = _page_width(page, width)
            if scrolled > width:
                found.overflow.append(f"{scrolled} px wide at {width} px")
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        slug = re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")
        # From the top: a page scrolled to a form's error summary would photograph its
        # fixed elements (the skip link, parked above the viewport) in mid-page.
        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=str(SCREENSHOTS / f"{slug}.png"), full_page=True)
    finally:
        page.set_viewport_size(DESKTOP)
    return found


def press(page: Page, name: str) -> None:
    """Press the button called `name` and wait for the next page."""
    with page.expect_navigation():
        page.get_by_role("button", name=name, exact=True).click()
