"""The privacy center over HTTP without a browser: sessions, CSRF, rate limits, enumeration,
and every page answering in the subject's language (the browser tests are in
test_privacy_center_browser.py)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient

from tests.conftest import DESKTOP, SmtpSink, make_settings
from tutela.bootstrap import Runtime, initialize, open_runtime
from tutela.entrypoints.api import create_app
from tutela.services import vault
from tutela.settings import SmtpSettings

BASE = "/privacy/default"


def center_declarations(path: Path) -> Path:
    """The desktop vendor in three languages, names correctable at once."""
    document = yaml.safe_load(DESKTOP.read_text(encoding="utf-8"))
    document["languages"] = ["en", "de", "cs"]
    for category in document["categories"]:
        if category["key"] == "user.account.username":
            category["correction"] = "immediate"
    document["purposes"].append(
        {
            "key": "newsletter",
            "use": "marketing.communications.email",
            "legal_basis": "consent",
            "categories": ["user.contact.email"],
            "retention": {"keep": "P1Y", "after": "consent_withdrawn", "then": "delete"},
            "description": "A monthly letter about new versions.",
        }
    )
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    return path


@pytest.fixture
def center(tmp_path: Path, smtp_sink: SmtpSink) -> Iterator[Runtime]:
    settings = make_settings(tmp_path / "data", "sqlite").with_overrides(
        smtp=SmtpSettings(host="127.0.0.1", port=smtp_sink.port, sender="privacy@example.com")
    )
    initialize(settings, center_declarations(tmp_path / "center.yml"))
    rt = open_runtime(settings)
    fields = {"user.contact.email": "ada@example.com", "user.account.username": "ada"}
    vault.register(rt.ctx, rt.operator(), fields)
    try:
        yield rt
    finally:
        rt.close()


@pytest.fixture
def client(center: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(runtime=center), base_url="http://testserver") as web:
        yield web


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, html[:500]
    return found.group(1)


def sign_in(client: TestClient, sink: SmtpSink, email: str = "ada@example.com") -> None:
    page = client.get(f"{BASE}/sign-in")
    sent = client.post(f"{BASE}/sign-in", data={"email": email, "csrf": csrf_of(page.text)})
    assert sent.status_code == 200  # followed the 303 to the code page
    body = sink.messages[-1].get_content()
    code = re.search(r"\b(\d{6})\b", body)
    assert code, body
    form = client.get(f"{BASE}/sign-in/code")
    spaced = f"{code.group(1)[:3]} {code.group(1)[3:]}"
    done = client.post(f"{BASE}/sign-in/code", data={"code": spaced, "csrf": csrf_of(form.text)})
    assert done.url.path == f"{BASE}/data", done.text[:300]


def test_a_post_without_a_valid_token_is_refused_with_a_readable_page(
    client: TestClient, smtp_sink: SmtpSink
) -> None:
    client.get(f"{BASE}/sign-in")
    refused = client.post(f"{BASE}/sign-in", data={"email": "ada@example.com", "csrf": "x"})
    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith("text/html")
    assert "<h1>Not allowed</h1>" in refused.text
    assert "Reload the page" in refused.text
    assert smtp_sink.messages == []
    fresh = TestClient(client.app, base_url="http://testserver")  # no cookie at all
    assert fresh.post(f"{BASE}/sign-in", data={"email": "ada@example.com"}).status_code == 403


def test_sign_in_sets_a_safe_cookie_and_a_new_token(
    client: TestClient, smtp_sink: SmtpSink
) -> None:
    page = client.get(f"{BASE}/sign-in")
    cookie = page.headers["set-cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie or "samesite=lax" in cookie.lower()
    assert f"Path={BASE}/" in cookie
    assert "Secure" not in cookie  # served over http here
    anonymous = client.cookies.get("tutela_privacy")
    sign_in(client, smtp_sink)
    assert client.cookies.get("tutela_privacy") != anonymous
    data = client.get(f"{BASE}/data")
    assert "ada@example.com" in data.text
    assert data.headers["cache-control"] == "no-store"
    assert "frame-ancestors 'none'" in data.headers["content-security-policy"]
    out = client.post(f"{BASE}/sign-out", data={"csrf": csrf_of(data.text)})
    assert out.url.path == f"{BASE}/"
    assert client.get(f"{BASE}/data").url.path == f"{BASE}/sign-in"


def test_unknown_addresses_get_the_same_answer(client: TestClient, smtp_sink: SmtpSink) -> None:
    answers = []
    for email in ("ada@example.com", "nobody@example.com"):
        fresh = TestClient(client.app, base_url="http://testserver")
        page = fresh.get(f"{BASE}/sign-in")
        sent = fresh.post(f"{BASE}/sign-in", data={"email": email, "csrf": csrf_of(page.text)})
        answers.append((sent.status_code, sent.url.path, csrf_free(sent.text)))
    assert answers[0] == answers[1]
    assert "No account" not in answers[0][2]


def csrf_free(html: str) -> str:
    return re.sub(r'name="csrf" value="[^"]+"', "", html)


def test_codes_are_rate_limited_with_a_readable_page(
    client: TestClient, smtp_sink: SmtpSink
) -> None:
    for _ in range(3):
        page = client.get(f"{BASE}/sign-in")
        client.post(
            f"{BASE}/sign-in", data={"email": "ada@example.com", "csrf": csrf_of(page.text)}
        )
    page = client.get(f"{BASE}/sign-in")
    limited = client.post(
        f"{BASE}/sign-in", data={"email": "ada@example.com", "csrf": csrf_of(page.text)}
    )
    assert limited.status_code == 403
    assert "Please wait an hour" in limited.text
    assert len(smtp_sink.messages) == 3


def test_pages_speak_the_subjects_language(client: TestClient, smtp_sink: SmtpSink) -> None:
    home = client.get(f"{BASE}/", headers={"Accept-Language": "de-DE,de;q=0.9"})
    assert '<html lang="de">' in home.text
    assert "Datenschutz" in home.text
    switched = client.post(
        f"{BASE}/language",
        data={"lang": "cs", "next": f"{BASE}/notice", "csrf": csrf_of(home.text)},
    )
    assert switched.url.path == f"{BASE}/notice"
    assert '<html lang="cs">' in switched.text
    assert client.get(f"{BASE}/").text.count('aria-current="true"') == 1


def test_an_unknown_tenant_and_an_expired_link_are_readable_pages(client: TestClient) -> None:
    missing = client.get("/privacy/nobody/")
    assert missing.status_code == 404
    assert "There is no privacy center" in missing.text
    expired = client.get(
        "/v1/packages/default/00000000-0000-0000-0000-000000000000?expires=1&token=x",
        headers={"Accept-Language": "de"},
    )
    assert expired.status_code == 400  # a token that does not fit
    assert '<html lang="de">' in expired.text


def test_a_minor_asks_a_guardian_who_consents_through_a_one_time_link(
    center: Runtime, client: TestClient, smtp_sink: SmtpSink
) -> None:
    from tutela.services import consent

    tom = vault.register(
        center.ctx, center.operator(), {"user.contact.email": "tom@example.com"}, age_claim=15
    ).id
    sign_in(client, smtp_sink, "tom@example.com")
    page = client.get(f"{BASE}/consent")
    assert "a parent or guardian must agree" in page.text
    saved = client.post(
        f"{BASE}/consent",
        data={"grant": "newsletter", "choice": "save", "csrf": csrf_of(page.text)},
    )
    assert "A parent or guardian must agree to" in saved.text
    check = consent.check(center.ctx, center.operator(), tom, "newsletter")
    assert not check.allowed  # the minor alone cannot consent

    asked = client.post(
        f"{BASE}/consent/guardian",
        data={
            "guardian_email": "parent@example.com",
            "purpose": "newsletter",
            "csrf": csrf_of(saved.text),
        },
    )
    assert "We sent the request to your parent or guardian." in asked.text
    mail = next(m for m in smtp_sink.messages if m["To"] == "parent@example.com")
    link = re.search(r"(/privacy/default/guardian/\S+)", mail.get_content())
    assert link, mail.get_content()

    guardian = TestClient(client.app, base_url="http://testserver")  # the parent's browser
    shown = guardian.get(link.group(1))
    assert shown.status_code == 200
    assert "newsletter" in shown.text.lower() or "monthly letter" in shown.text.lower()
    answered = guardian.post(
        link.group(1),
        data={"grant": "newsletter", "choice": "save", "csrf": csrf_of(shown.text)},
    )
    assert answered.status_code == 200
    assert consent.check(center.ctx, center.operator(), tom, "newsletter").reason == "consent"
    spent = guardian.get(link.group(1))
    assert spent.status_code == 404  # the link works once
    assert spent.headers["content-type"].startswith("text/html")
