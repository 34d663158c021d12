"""The privacy center as a person meets it: Debian's Chromium driven by Playwright against
the real server (uvicorn on loopback), codes read from a real SMTP server, axe-core run on
every page in English and German, and a screenshot of each page saved for people to look
at (test-artifacts/screenshots/)."""

from __future__ import annotations

import io
import re
import threading
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from tests.conftest import ROOT, SmtpSink, free_port, make_settings
from tests.e2e.test_privacy_center import center_declarations
from tutela.bootstrap import Runtime, initialize, open_runtime
from tutela.entrypoints.api import create_app
from tutela.services import vault
from tutela.settings import SmtpSettings

CHROMIUM = Path("/usr/bin/chromium")
AXE = ROOT / "tests" / "vendor" / "axe-core" / "axe.min.js"
SHOTS = ROOT / "test-artifacts" / "screenshots"
TIMEOUT = 20.0

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="needs Debian's chromium: apt-get install chromium"
)


class Site:
    def __init__(self, runtime: Runtime, url: str, sink: SmtpSink) -> None:
        self.runtime, self.url, self.sink = runtime, url, sink

    def page(self, path: str) -> str:
        return f"{self.url}/privacy/default{path}"

    def code_for(self, email: str, after: int) -> str:
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            for message in self.sink.messages[after:]:
                if message["To"] == email:
                    found = re.search(r"\b(\d{6})\b", message.get_content())
                    if found:
                        return found.group(1)
            time.sleep(0.05)
        raise AssertionError(f"no code mailed to {email}")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    sink = SmtpSink().start()
    root = tmp_path_factory.mktemp("center")
    port = free_port()
    settings = make_settings(root / "data", "sqlite").with_overrides(
        smtp=SmtpSettings(host="127.0.0.1", port=sink.port, sender="privacy@example.com"),
        public_url=f"http://127.0.0.1:{port}",
        erasure_cooling_off_hours=1,
    )
    initialize(settings, center_declarations(root / "center.yml"))
    runtime = open_runtime(settings)
    for name in ("ada", "bob", "cyd", "dee", "eve", "fay"):
        fields = {"user.contact.email": f"{name}@example.com", "user.account.username": name}
        vault.register(runtime.ctx, runtime.operator(), fields)
    config = uvicorn.Config(
        create_app(runtime=runtime), host="127.0.0.1", port=port, log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + TIMEOUT
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield Site(runtime, f"http://127.0.0.1:{port}", sink)
    finally:
        server.should_exit = True
        thread.join(timeout=TIMEOUT)
        runtime.close()
        sink.stop()


def launched_chromium() -> Iterator[Any]:
    """Debian's Chromium under Playwright, headless, never a downloaded browser."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--no-sandbox", "--disable-background-networking"],
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    yield from launched_chromium()


def new_page(browser: Any, language: str = "en", **options: Any) -> Any:
    context = browser.new_context(
        locale=language,
        extra_http_headers={"Accept-Language": language, **options.pop("headers", {})},
        viewport={"width": 1100, "height": 900},
        **options,
    )
    context.add_init_script(path=str(AXE))  # injected by the browser: the page's CSP allows it
    context.set_default_timeout(TIMEOUT * 1000)
    return context.new_page()


def check(page: Any, name: str, language: str) -> None:
    """No axe-core violation (WCAG 2.x A and AA, best practices); save a screenshot."""
    result = page.evaluate(
        "async () => await axe.run(document, {runOnly: {type: 'tag', values: "
        "['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice']}})"
    )
    problems = [
        f"{v['id']}: {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in result["violations"]
    ]
    assert not problems, f"{name} ({language}): {problems}"
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"privacy-{name}-{language}.png"), full_page=True)


def sign_in(site: Site, page: Any, name: str, *, shots: str | None = None) -> None:
    email = f"{name}@example.com"
    page.goto(site.page("/sign-in"))
    if shots:
        check(page, "sign-in", shots)
    page.get_by_label(re.compile("Email|E-Mail")).fill(email)
    before = len(site.sink.messages)
    page.locator("form button[type=submit]").last.click()
    page.wait_for_url("**/sign-in/code")
    field = page.locator("#code")
    assert field.get_attribute("inputmode") == "numeric"
    assert field.get_attribute("autocomplete") == "one-time-code"
    if shots:
        check(page, "code", shots)
    code = site.code_for(email, before)
    field.fill(f"{code[:3]} {code[3:]}")  # pasted with a space
    page.locator("main form button[type=submit]").click()
    page.wait_for_url("**/data")


PAGES = ["/", "/notice", "/data", "/correct", "/download", "/consent", "/requests", "/delete"]


@pytest.mark.parametrize(("language", "name"), [("en", "ada"), ("de", "bob")])
def test_every_page_is_accessible_and_in_the_readers_language(
    site: Site, browser: Any, language: str, name: str
) -> None:
    page = new_page(browser, language)
    page.goto(site.page("/"))
    assert page.locator("html").get_attribute("lang") == language
    check(page, "start", language)
    sign_in(site, page, name, shots=language)
    assert page.locator("html").get_attribute("lang") == language
    assert f"{name}@example.com" in page.inner_text("main")
    for path in PAGES:
        page.goto(site.page(path))
        assert page.locator("h1").count() == 1
        check(page, path.strip("/") or "home", language)
    page.context.close()


def test_correct_a_field_at_once(site: Site, browser: Any) -> None:
    page = new_page(browser)
    sign_in(site, page, "cyd")
    page.goto(site.page("/correct"))
    page.get_by_label("Username").fill("cyd-corrected")
    page.get_by_role("button", name="Save corrections").click()
    assert "Your corrections were saved." in page.inner_text("main")
    page.goto(site.page("/data"))
    assert "cyd-corrected" in page.inner_text("main")
    page.context.close()


def test_download_a_package_and_read_the_expired_link_page(site: Site, browser: Any) -> None:
    page = new_page(browser)
    sign_in(site, page, "dee")
    page.goto(site.page("/download"))
    page.get_by_label(re.compile("^CSV files")).uncheck()
    page.get_by_role("button", name="Prepare my copy").click()
    assert "We are preparing your copy" in page.inner_text("main")
    link = page.get_by_role("link", name=re.compile("Download ZIP"))
    for _ in range(50):
        if link.count():
            break
        time.sleep(0.2)
        page.reload()
    with page.expect_download() as event:
        link.first.click()
    archive = zipfile.ZipFile(io.BytesIO(Path(event.value.path()).read_bytes()))
    assert set(archive.namelist()) == {"data.json", "summary.html"}
    assert "dee@example.com" in archive.read("data.json").decode()
    check(page, "download-ready", "en")
    for language in ("en", "de"):
        other = new_page(browser, language)
        other.goto(f"{site.url}/v1/packages/default/nope?expires=1&token=forged")
        assert other.locator("html").get_attribute("lang") == language
        assert other.locator("h1").inner_text() in (
            "This download is not available",
            "Dieser Download ist nicht verfügbar",
        )
        check(other, "expired-link", language)
        other.context.close()
    page.context.close()


def test_consent_switches_show_the_saved_state_and_reject_all(site: Site, browser: Any) -> None:
    page = new_page(browser, headers={"Sec-GPC": "1"})
    sign_in(site, page, "eve")
    page.goto(site.page("/consent"))
    assert "Global Privacy Control" in page.inner_text("main")
    switches = page.get_by_role("switch")
    assert switches.count() == 2  # user_counting, newsletter: nothing on before deciding
    assert [switches.nth(i).get_attribute("aria-checked") for i in range(2)] == ["false"] * 2
    counting = page.get_by_role("switch", name="User counting")
    counting.click()
    assert counting.get_attribute("aria-checked") == "true"
    buttons = page.locator(".consent-buttons button")
    assert buttons.all_inner_texts() == ["Accept all", "Reject all", "Save"]
    assert len({b.get_attribute("class") for b in buttons.all()}) == 1  # styled alike
    page.get_by_role("button", name="Save").click()
    assert "Your choices were saved" in page.inner_text("main")
    assert page.locator("#state-user_counting").inner_text() == "On: consent given"
    assert page.get_by_role("switch", name="User counting").get_attribute("aria-checked") == "true"
    check(page, "consent-saved", "en")
    page.get_by_role("button", name="Reject all").click()
    assert page.locator("#state-user_counting").inner_text() == "Off: you withdrew your consent"
    assert page.locator("#state-newsletter").inner_text() == "Off: you said no"
    page.context.close()
    plain = new_page(browser, java_script_enabled=False)
    sign_in(site, plain, "fay")
    plain.goto(site.page("/consent"))
    assert plain.get_by_role("switch").count() == 0
    box = plain.get_by_role("checkbox", name="I agree to: Newsletter")
    assert not box.is_checked()
    box.check()
    plain.get_by_role("button", name="Save").click()
    assert plain.locator("#state-newsletter").inner_text() == "On: consent given"
    plain.context.close()


def test_deletion_waits_a_cooling_off_period_and_can_be_cancelled(site: Site, browser: Any) -> None:
    page = new_page(browser)
    sign_in(site, page, "ada")
    page.goto(site.page("/delete"))
    text = page.inner_text("main")
    assert "cannot be undone" in text
    assert "1 hours after you confirm" in text
    assert page.get_by_role("link", name="Download a copy of your data first").count() == 1
    page.get_by_role("button", name="Delete my data").click()  # not confirmed: the browser
    assert page.url.endswith("/delete")  # keeps the form (required), the server would too
    page.get_by_label("I understand that my data cannot be restored afterwards.").check()
    page.get_by_role("button", name="Delete my data").click()
    page.wait_for_url("**/requests")
    assert "cancel it here" in page.inner_text("main")
    erasure = page.locator("article", has_text="Erasure")
    assert "Waiting to be carried out" in erasure.inner_text()
    check(page, "requests-cooling-off", "en")
    page.goto(site.page("/delete"))
    assert "You have already asked for this" in page.inner_text("main")
    page.goto(site.page("/requests"))
    page.locator("article", has_text="Erasure").get_by_role(
        "button", name="Cancel this request"
    ).click()
    assert "The request was cancelled." in page.inner_text("main")
    assert "Cancelled" in page.locator("article", has_text="Erasure").inner_text()
    page.goto(site.page("/data"))
    assert "ada@example.com" in page.inner_text("main")  # nothing was erased
    page.context.close()


def test_the_language_switch_is_remembered(site: Site, browser: Any) -> None:
    page = new_page(browser)
    page.goto(site.page("/notice"))
    assert page.locator("html").get_attribute("lang") == "en"
    page.get_by_role("button", name="Deutsch").click()
    page.wait_for_url("**/notice")
    assert page.locator("html").get_attribute("lang") == "de"
    assert page.locator("h1").inner_text() == "Datenschutzhinweise"
    page.goto(site.page("/"))
    assert page.locator("html").get_attribute("lang") == "de"
    assert page.get_by_role("button", name="Deutsch").get_attribute("aria-current") == "true"
    page.context.close()
