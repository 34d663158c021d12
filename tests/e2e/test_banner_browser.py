"""The cookie banner as a visitor meets it: a real headless Chromium on a demo shop page.

Tutela runs under uvicorn on 127.0.0.1; the demo page is served from another port (another
origin, as on a real site) with a strict Content-Security-Policy. The browser is driven over
the Chrome DevTools Protocol on a pipe (``--remote-debugging-pipe``), so no driver package
is needed. Needs Debian's ``chromium`` package.
"""

from __future__ import annotations

import base64
import fcntl
import itertools
import json
import os
import select
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from sqlalchemy import select as sql_select

from tests.conftest import make_settings
from tests.integration.test_visitors import shop_declarations
from tutela.adapters.tables import visitor_choices
from tutela.bootstrap import Runtime, initialize, open_runtime
from tutela.entrypoints.api import create_app

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,800",
]
TIMEOUT = 15.0

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="needs Debian's chromium: apt-get install chromium"
)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- a minimal DevTools Protocol client over the pipe -------------------------------------


def _numbered_high(fd: int) -> int:
    """The same pipe end as a descriptor numbered 10 or more, so that bash's ``3<&N`` and
    ``4>&N`` below cannot overwrite one end with the other."""
    high = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
    os.close(fd)
    return high


class Chromium:
    """Chromium reading commands on fd 3 and writing answers on fd 4, NUL-separated JSON."""

    def __init__(self) -> None:
        self.profile = tempfile.mkdtemp(prefix="tutela-chromium-")
        to_browser, self._out = map(_numbered_high, os.pipe())
        self._in, from_browser = map(_numbered_high, os.pipe())
        command = [str(CHROMIUM), *FLAGS, f"--user-data-dir={self.profile}"]
        command += ["--remote-debugging-pipe", "about:blank"]
        self.process = subprocess.Popen(
            ["/bin/bash", "-c", f'exec "$@" 3<&{to_browser} 4>&{from_browser}', "bash", *command],
            pass_fds=(to_browser, from_browser),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_browser)
        os.close(from_browser)
        self._ids = itertools.count(1)
        self._buffer = b""
        self.events: list[dict[str, Any]] = []

    def call(self, method: str, session: str | None = None, **params: Any) -> dict[str, Any]:
        ident = next(self._ids)
        message: dict[str, Any] = {"id": ident, "method": method, "params": params}
        if session is not None:
            message["sessionId"] = session
        os.write(self._out, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + TIMEOUT
        while True:
            answer = self._next(deadline)
            if answer.get("id") == ident:
                if "error" in answer:
                    raise RuntimeError(f"{method}: {answer['error']}")
                return dict(answer.get("result", {}))
            if "method" in answer:
                self.events.append(answer)

    def _next(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._in], [], [], left)[0]:
                raise TimeoutError("no answer from chromium")
            chunk = os.read(self._in, 1 << 16)
            if not chunk:
                raise EOFError("chromium closed the pipe")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return dict(json.loads(message))

    def close(self) -> None:
        try:
            self.call("Browser.close")
        except (OSError, RuntimeError, TimeoutError, EOFError):
            self.process.kill()
        self.process.wait(timeout=TIMEOUT)
        os.close(self._out)
        os.close(self._in)
        shutil.rmtree(self.profile, ignore_errors=True)


class Page:
    """One tab in a fresh browser context (its own localStorage)."""

    def __init__(self, browser: Chromium, init_script: str = "") -> None:
        self.browser = browser
        self.context = browser.call("Target.createBrowserContext")["browserContextId"]
        target = browser.call(
            "Target.createTarget", url="about:blank", browserContextId=self.context
        )["targetId"]
        self.session = browser.call("Target.attachToTarget", targetId=target, flatten=True)[
            "sessionId"
        ]
        self.send("Page.enable")
        self.send("Runtime.enable")
        self.send(
            "Emulation.setDeviceMetricsOverride",
            width=1280,
            height=800,
            deviceScaleFactor=1,
            mobile=False,
        )
        if init_script:
            self.send("Page.addScriptToEvaluateOnNewDocument", source=init_script)

    def send(self, method: str, **params: Any) -> dict[str, Any]:
        return self.browser.call(method, self.session, **params)

    def goto(self, url: str) -> None:
        self.send("Page.navigate", url=url)
        self.wait_for("document.readyState === 'complete'")

    def js(self, expression: str) -> Any:
        result = self.send(
            "Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True
        )
        if "exceptionDetails" in result:
            raise AssertionError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float = TIMEOUT) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = self.js(expression)
            if value:
                return value
            time.sleep(0.05)
        raise AssertionError(f"timed out waiting for {expression}")

    def click(self, selector: str) -> None:
        """A real mouse click in the middle of the element."""
        box = self.js(
            f"(() => {{ const r = document.querySelector({json.dumps(selector)})"
            ".getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; })()"
        )
        for kind in ("mousePressed", "mouseReleased"):
            self.send(
                "Input.dispatchMouseEvent",
                type=kind,
                x=box[0],
                y=box[1],
                button="left",
                clickCount=1,
            )

    def press(self, key: str, shift: bool = False) -> None:
        codes = {"Tab": ("Tab", 9, ""), "Escape": ("Escape", 27, ""), " ": ("Space", 32, " ")}
        code, number, text = codes[key]
        common = {
            "key": key,
            "code": code,
            "windowsVirtualKeyCode": number,
            "modifiers": 8 if shift else 0,
        }
        self.send("Input.dispatchKeyEvent", type="keyDown", text=text, **common)
        self.send("Input.dispatchKeyEvent", type="keyUp", **common)

    def screenshot(self, path: Path) -> None:
        data = self.send("Page.captureScreenshot", format="png")["data"]
        path.write_bytes(base64.b64decode(data))

    def close(self) -> None:
        self.browser.call("Target.disposeBrowserContext", browserContextId=self.context)


# -- the servers --------------------------------------------------------------------------


DEMO_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Example Shop</title>
<link rel="stylesheet" href="/shop.css">
<script src="{tutela}/consent/default/banner.js" defer></script></head>
<body><h1>Example Shop</h1><p>Fictional products for fictional people.</p>
<p><a href="#" data-tutela-open id="settings">Cookie settings</a></p></body></html>
"""
DEMO_CSS = b"body{font-family:serif;margin:2rem;background:#f8fafc}h1{color:#334155}"


def demo_server(tutela: str) -> ThreadingHTTPServer:
    page = DEMO_PAGE.format(tutela=tutela).encode()
    policy = (
        f"default-src 'self'; script-src 'self' {tutela}; connect-src {tutela}; "
        "style-src 'self'; img-src 'self'"
    )

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body, kind = (DEMO_CSS, "text/css") if self.path == "/shop.css" else (page, "text/html")
            self.send_response(200)
            self.send_header("Content-Type", f"{kind}; charset=utf-8")
            self.send_header("Content-Security-Policy", policy)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


class Site:
    def __init__(self, runtime: Runtime, tutela: str, shop: str) -> None:
        self.runtime = runtime
        self.tutela = tutela
        self.shop = shop

    def choices(self, visitor_id: str) -> list[Any]:
        with self.runtime.engine.connect() as conn:
            query = (
                sql_select(visitor_choices)
                .where(visitor_choices.c.visitor_id == visitor_id)
                .order_by(visitor_choices.c.seq)
            )
            return list(conn.execute(query))

    def wait_for_choices(self, visitor_id: str, count: int = 1) -> list[Any]:
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            found = self.choices(visitor_id)
            if len(found) >= count:
                return found
            time.sleep(0.05)
        raise AssertionError(f"no {count} stored choices for visitor {visitor_id}")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    folder = tmp_path_factory.mktemp("banner")
    settings = make_settings(folder / "data", "sqlite")
    initialize(settings, shop_declarations(folder / "shop.yml"))
    runtime = open_runtime(settings)
    port = free_port()
    config = uvicorn.Config(
        create_app(runtime=runtime), host="127.0.0.1", port=port, log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + TIMEOUT
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    tutela = f"http://127.0.0.1:{port}"
    demo = demo_server(tutela)
    try:
        yield Site(runtime, tutela, f"http://127.0.0.1:{demo.server_port}/")
    finally:
        demo.shutdown()
        server.should_exit = True
        thread.join(timeout=TIMEOUT)
        runtime.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Chromium]:
    chromium = Chromium()
    try:
        yield chromium
    finally:
        chromium.close()


WATCH_CSP = (
    "window.__violations = [];"
    "document.addEventListener('securitypolicyviolation',"
    " e => window.__violations.push(e.violatedDirective + ' ' + e.blockedURI));"
)
GPC = "Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', {get: () => true});"
DIALOG = "document.querySelector('[role=dialog]')"
OPEN = f"{DIALOG} !== null"
CLOSED = f"{DIALOG} === null"
FOCUS_INSIDE = f"{OPEN} && {DIALOG}.contains(document.activeElement)"


@pytest.fixture
def page(browser: Chromium) -> Iterator[Page]:
    tab = Page(browser, WATCH_CSP)
    try:
        yield tab
    finally:
        tab.close()


@pytest.fixture
def gpc_page(browser: Chromium) -> Iterator[Page]:
    tab = Page(browser, WATCH_CSP + GPC)
    try:
        yield tab
    finally:
        tab.close()


def switches(page: Page) -> list[dict[str, str]]:
    return list(
        page.js(
            "[...document.querySelectorAll('[role=switch]')].map(s => ({tag: s.tagName,"
            " checked: s.getAttribute('aria-checked'), disabled: String(s.disabled),"
            " name: document.getElementById(s.getAttribute('aria-labelledby')).textContent}))"
        )
    )


# -- the tests ----------------------------------------------------------------------------


def test_the_dialog_is_accessible_and_reject_all_refuses_everything(
    site: Site, page: Page, tmp_path: Path
) -> None:
    page.goto(site.shop)
    page.wait_for(OPEN)
    dialog = page.js(
        f"(() => {{ const d = {DIALOG}; return {{modal: d.getAttribute('aria-modal'),"
        " title: document.getElementById(d.getAttribute('aria-labelledby')).textContent,"
        " lang: d.closest('[lang]').getAttribute('lang')}; })()"
    )
    assert dialog == {"modal": "true", "title": "Cookies and your privacy", "lang": "en"}
    assert page.js(FOCUS_INSIDE), "focus is moved into the dialog"
    assert switches(page) == [
        {"tag": "BUTTON", "checked": "false", "disabled": "false", "name": name}
        for name in ("Functional", "Analytics", "Marketing")
    ]
    assert page.js("document.body.textContent.includes('Strictly necessary (always on)')")

    buttons = page.js(
        "[...document.querySelectorAll('.tutela-cb-btn')].map(b => {"
        " const r = b.getBoundingClientRect(), s = getComputedStyle(b);"
        " return {text: b.textContent, width: r.width, height: r.height, top: r.top,"
        " color: s.backgroundColor, weight: s.fontWeight, size: s.fontSize}; })"
    )
    assert [b["text"] for b in buttons] == ["Accept all", "Reject all", "Save choices"]
    for key in ("width", "height", "top"):
        assert max(b[key] for b in buttons) - min(b[key] for b in buttons) < 0.5, key
    for key in ("color", "weight", "size"):
        assert len({b[key] for b in buttons}) == 1, key

    shot = tmp_path / "banner.png"
    page.screenshot(shot)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    # the keyboard: Tab and Shift+Tab cycle inside the dialog; Escape does not dismiss it
    stops = page.js(f"{DIALOG}.querySelectorAll('button, a[href], summary').length")
    seen = set()
    for _ in range(stops + 2):
        page.press("Tab")
        assert page.js(FOCUS_INSIDE), "Tab left the dialog"
        seen.add(page.js("document.activeElement.textContent"))
    assert {"Accept all", "Reject all", "Save choices"} <= seen
    page.press("Tab", shift=True)
    assert page.js(FOCUS_INSIDE)
    page.press("Escape")
    assert page.js(OPEN), "the first choice cannot be skipped with Escape"

    page.click(".tutela-cb-btn[data-action=reject]")
    page.wait_for(CLOSED)
    visitor = page.js("window.tutelaConsent.visitorId")
    assert len(visitor) == 32
    [row] = site.wait_for_choices(visitor)
    assert json.loads(row.choices) == {"ads": False, "preferences": False, "user_counting": False}
    assert row.method == "cookie_banner"
    assert row.gpc is False
    assert row.language == "en"
    assert page.js("window.tutelaConsent.choices") == json.loads(row.choices)

    # on the next page the choice is remembered; the site can reopen the banner
    page.goto(site.shop)
    loaded = "new Promise(done => window.tutelaConsent.onChange(done))"  # banner.json is in
    assert page.js(loaded) == json.loads(row.choices)
    assert page.js(CLOSED)
    page.click("#settings")
    page.wait_for(OPEN)
    assert [s["checked"] for s in switches(page)] == ["false", "false", "false"]
    page.press("Escape")
    page.wait_for(CLOSED)
    assert page.js("window.__violations") == []


def test_save_choices_records_the_categories_switched_on(site: Site, page: Page) -> None:
    page.goto(site.shop)
    page.wait_for(OPEN)
    page.click("[aria-labelledby=tutela-cb-cat-analytics]")
    page.js("document.querySelector('[aria-labelledby=tutela-cb-cat-functional]').focus()")
    page.press(" ")  # a switch toggles from the keyboard too
    assert [s["checked"] for s in switches(page)] == ["true", "true", "false"]
    changes = "window.__changes = []; window.tutelaConsent.onChange(c => __changes.push(c));"
    page.js(changes)
    page.click(".tutela-cb-btn[data-action=save]")
    page.wait_for(CLOSED)
    [row] = site.wait_for_choices(page.js("window.tutelaConsent.visitorId"))
    assert json.loads(row.choices) == {"ads": False, "preferences": True, "user_counting": True}
    page.wait_for("window.__changes.length > 0")
    assert page.js("window.__changes[0]") == json.loads(row.choices)


def test_gpc_refuses_marketing_without_a_click(site: Site, gpc_page: Page) -> None:
    page = gpc_page
    page.goto(site.shop)
    visitor = page.wait_for("window.tutelaConsent.visitorId")
    [signal] = site.wait_for_choices(visitor)
    assert json.loads(signal.choices) == {"ads": False}
    assert signal.method == "browser_signal"
    assert signal.gpc is True
    page.wait_for(OPEN)  # still asks about what GPC does not cover
    assert (
        page.js("document.querySelector('.tutela-cb-gpc').textContent")
        == "Your browser's Global Privacy Control signal was applied"
    )
    marketing = switches(page)[2]
    assert marketing == {
        "tag": "BUTTON",
        "checked": "false",
        "disabled": "true",
        "name": "Marketing",
    }
    page.click(".tutela-cb-btn[data-action=accept]")
    rows = site.wait_for_choices(visitor, 2)
    assert json.loads(rows[1].choices) == {"ads": False, "preferences": True, "user_counting": True}
    assert rows[1].gpc is True
    assert page.js("window.__violations") == []
