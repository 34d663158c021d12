"""The admin console as a privacy officer meets it: Debian's Chromium driven by Playwright
against the real server (uvicorn on loopback), decisions mailed through a real SMTP server,
axe-core run on every console page in English and German, and a screenshot of each page
saved for people to look at (test-artifacts/screenshots/admin-*.png)."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import uvicorn

from tests.conftest import DESKTOP, SmtpSink, free_port, make_settings
from tests.e2e.test_privacy_center_browser import (
    CHROMIUM,
    SHOTS,
    TIMEOUT,
    launched_chromium,
    new_page,
)
from tutela.bootstrap import Runtime, initialize, open_runtime
from tutela.domain.access import Principal
from tutela.entrypoints.api import create_app
from tutela.services import consent, incidents, requests, tenants, vault
from tutela.settings import SmtpSettings

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="needs Debian's chromium: apt-get install chromium"
)
DAY = 86400 * 1_000_000


@dataclass
class Console:
    runtime: Runtime
    url: str
    sink: SmtpSink
    key: str  # a dpo key of the default tenant
    platform_key: str
    ids: dict[str, str] = field(default_factory=dict)

    def page(self, path: str) -> str:
        return f"{self.url}/admin{path}"

    @property
    def who(self) -> Principal:
        return tenants.authenticate(self.runtime.ctx, self.key)


def _requests(rt: Runtime, who: Principal) -> dict[str, str]:
    """Requests in every situation the queue shows, some received weeks ago."""
    made: dict[str, str] = {}
    now = rt.ctx.clock
    plan = [
        ("ada", "access", 0, True),
        ("ben", "erasure", 0, True),
        ("fay", "access", 0, True),
        ("gus", "access", 0, True),
        ("cy", "access", 25, True),
        ("dee", "portability", 40, True),
        ("eve", "access", 0, False),
    ]
    try:
        for name, kind, age, verified in plan:
            rt.ctx.clock = lambda age=age: now() - age * DAY
            made[name] = requests.create(
                rt.ctx,
                who,
                kind,
                email=f"{name}@example.com",
                verified_by="in_person" if verified else None,
            )["id"]
    finally:
        rt.ctx.clock = now
    return made


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    sink = SmtpSink().start()
    root = tmp_path_factory.mktemp("console")
    port = free_port()
    settings = make_settings(root / "data", "sqlite").with_overrides(
        smtp=SmtpSettings(host="127.0.0.1", port=sink.port, sender="privacy@example.com"),
        public_url=f"http://127.0.0.1:{port}",
    )
    initialize(settings, DESKTOP)
    runtime = open_runtime(settings)
    operator = runtime.operator()
    key = tenants.issue_key(runtime.ctx, operator, "default", "privacy desk", ["dpo"]).token
    platform = tenants.issue_key(runtime.ctx, operator, "default", "operator", ["platform"]).token
    who = tenants.authenticate(runtime.ctx, key)
    for name in ("ada", "gus", "hal", "ivy"):
        vault.register(runtime.ctx, who, {"user.contact.email": f"{name}@example.com"})
    hal = vault.find(runtime.ctx, who, "email", "hal@example.com").id
    consent.record(runtime.ctx, who, hal, ["user_counting"], "grant")
    incidents.open_incident(
        runtime.ctx,
        who,
        incidents.Changes(
            summary="A support laptop with customer emails was stolen",
            categories=["user.contact.email"],
            aware_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 60 * 3600)),
        ),
    )
    ids = _requests(runtime, who)
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
        yield Console(runtime, f"http://127.0.0.1:{port}", sink, key, platform, ids)
    finally:
        server.should_exit = True
        thread.join(timeout=TIMEOUT)
        runtime.close()
        sink.stop()


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """Debian's Chromium, launched as the privacy-center tests launch it."""
    yield from launched_chromium()


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
    assert not problems, f"admin {name} ({language}): {problems}"
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"admin-{name}-{language}.png"), full_page=True)


def sign_in(site: Console, page: Any, key: str | None = None, *, shots: str | None = None) -> None:
    page.goto(site.page("/sign-in"))
    if shots:
        check(page, "sign-in", shots)
    field = page.locator("#key")
    assert field.get_attribute("type") == "password"
    field.fill(key or site.key)
    page.locator("main form button[type=submit]").click()
    page.wait_for_url(re.compile(r".*/admin/(tenants)?$"))


def row_of(page: Any, request_id: str) -> Any:
    return page.locator("table.queue tbody tr").filter(has=page.locator(f"a[href$='{request_id}']"))


def test_sign_in_and_the_queue_with_its_countdown_badges(site: Console, chromium: Any) -> None:
    page = new_page(chromium)
    page.goto(site.page("/requests"))
    assert page.url.endswith("/admin/sign-in")
    page.locator("#key").fill("tut_0123456789ab_" + "x" * 43)
    page.locator("main form button[type=submit]").click()
    assert "This API key is not valid" in page.inner_text("main")
    assert page.locator("#key").get_attribute("aria-invalid") == "true"
    sign_in(site, page)
    assert "You are signed in." in page.inner_text("main")
    page.get_by_role("navigation").get_by_role("link", name="Requests").click()
    text = page.inner_text("main")
    assert "a•••@example.com" in text
    assert "ada@example.com" not in page.content()
    assert "1 unverified request is hidden." in text
    soon = row_of(page, site.ids["cy"]).locator(".badge.countdown")
    late = row_of(page, site.ids["dee"]).locator(".badge.countdown")
    calm = row_of(page, site.ids["ada"]).locator(".badge.countdown")
    assert re.match(r"Due soon: \d+ days? left", soon.inner_text())
    assert re.match(r"Overdue by \d+ days?", late.inner_text())
    assert re.match(r"\d+ days left", calm.inner_text())
    red = "rgb(179, 38, 30)"
    assert soon.evaluate("e => getComputedStyle(e).backgroundColor") == red
    assert late.evaluate("e => getComputedStyle(e).backgroundColor") == red
    assert calm.evaluate("e => getComputedStyle(e).backgroundColor") != red
    order = page.locator("table.queue tbody th a").all_inner_texts()
    assert order.index(site.ids["dee"][:8]) < order.index(site.ids["cy"][:8])
    page.get_by_label("Show requests whose identity is not verified yet").check()
    page.get_by_role("button", name="Apply").click()
    assert site.ids["eve"][:8] in page.inner_text("main")
    assert "unverified=1" in page.url
    page.context.close()


def test_reveal_then_approve_and_run(site: Console, chromium: Any) -> None:
    page = new_page(chromium)
    sign_in(site, page)
    page.goto(site.page(f"/requests/{site.ids['ada']}"))
    identity = page.locator("#identity")
    assert "a•••@example.com" in identity.inner_text()
    page.get_by_role("button", name="Reveal the identity").click()
    assert "ada@example.com" in page.locator("#identity").inner_text()
    assert "recorded in the audit log" in page.inner_text("main")
    page.get_by_role("button", name="Approve").click()
    assert "approved for execution" in page.inner_text("main")
    assert page.get_by_role("button", name="Approve").count() == 0
    page.get_by_role("button", name="Run").click()
    assert "The request was carried out and is completed." in page.inner_text("main")
    timeline = page.locator("ol.timeline").inner_text()
    assert "Verified → In progress" in timeline
    assert "In progress → Completed" in timeline
    check(page, "request-completed", "en")
    page.context.close()


def test_reject_needs_a_reason_that_reaches_the_subject(site: Console, chromium: Any) -> None:
    page = new_page(chromium)
    sign_in(site, page)
    page.goto(site.page(f"/requests/{site.ids['ben']}"))
    page.get_by_role("button", name="Reject", exact=True).click()
    field = page.locator("#reject-reason")
    assert field.get_attribute("aria-invalid") == "true"
    assert "Give the reason" in page.inner_text("main")
    reason = "We never held data about this address."
    field.fill(reason)
    page.get_by_role("button", name="Reject", exact=True).click()
    assert "The request was rejected" in page.inner_text("main")
    assert reason in page.inner_text("main")
    deadline = time.monotonic() + TIMEOUT
    while not any(m["To"] == "ben@example.com" for m in site.sink.messages):
        assert time.monotonic() < deadline, "no rejection reached the subject"
        time.sleep(0.05)
    mail = next(m for m in site.sink.messages if m["To"] == "ben@example.com")
    assert reason in mail.get_content()
    page.context.close()


def test_extend_the_deadline_with_a_reason(site: Console, chromium: Any) -> None:
    page = new_page(chromium)
    sign_in(site, page)
    page.goto(site.page(f"/requests/{site.ids['fay']}"))
    before = requests.show(site.runtime.ctx, site.who, site.ids["fay"])["due"]
    page.get_by_label("Reason (sent to the subject)").first.fill(
        "The order archive must be searched by hand."
    )
    page.get_by_role("button", name="Extend", exact=True).click()
    assert "The deadline now is" in page.inner_text("main")
    assert requests.show(site.runtime.ctx, site.who, site.ids["fay"])["due"] > before
    assert page.get_by_role("button", name="Extend", exact=True).count() == 0
    page.context.close()


PAGES = ["/", "/requests", "/requests?unverified=1", "/incidents", "/policy", "/policy/1",
         "/audit", "/consent"]  # fmt: skip


@pytest.mark.parametrize("language", ["en", "de"])
def test_every_console_page_is_accessible_in_the_readers_language(
    site: Console, chromium: Any, language: str
) -> None:
    page = new_page(chromium, language)
    sign_in(site, page, shots=language)
    assert page.locator("html").get_attribute("lang") == language
    for path in PAGES:
        page.goto(site.page(path))
        assert page.locator("h1").count() == 1, path
        name = path.strip("/").replace("/", "-").replace("?unverified=1", "-unverified")
        check(page, name or "overview", language)
    page.goto(site.page(f"/requests/{site.ids['gus']}"))
    check(page, "request", language)
    missing = page.goto(site.page("/requests/no-such-request"))
    assert missing is not None
    assert missing.status == 404
    check(page, "not-found", language)
    page.goto(site.page("/audit"))
    page.locator("main form button[type=submit]").click()
    assert page.locator(".result.ok").count() == 1
    check(page, "audit-verified", language)
    if language == "de":
        assert "Anfragen" in page.locator("nav").inner_text()
    page.context.close()
    operator = new_page(chromium, language)
    sign_in(site, operator, site.platform_key)
    assert operator.url.endswith("/admin/tenants")
    check(operator, "tenants", language)
    operator.context.close()


def test_the_console_works_without_javascript(site: Console, chromium: Any) -> None:
    page = new_page(chromium, java_script_enabled=False)
    sign_in(site, page)
    page.goto(site.page("/requests"))
    page.get_by_label("Type").select_option("portability")
    page.get_by_role("button", name="Apply").click()
    rows = page.locator("table.queue tbody tr")
    assert rows.count() == 1
    assert site.ids["dee"][:8] in rows.first.inner_text()
    page.context.close()
