"""The cookie banner on a real database: categories, texts, visitors' choices, GPC, linking."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.conftest import DESKTOP, EXAMPLES
from tutela.adapters.tables import audit_log, visitor_choices
from tutela.bootstrap import Runtime, initialize, open_runtime
from tutela.declarations import load_declarations
from tutela.entrypoints.api import create_app
from tutela.entrypoints.api_banner import TEXTS
from tutela.services import consent, vault, visitors
from tutela.settings import Settings

VISITOR = "0123456789abcdef0123456789abcdef"
OTHER = "fedcba9876543210fedcba9876543210"
ADDRESS = "203.0.113.9"
LANGUAGES = ["de", "en", "ru", "cs", "sq", "zh"]


def shop_declarations(path: Path) -> Path:
    """The desktop vendor plus a functional and a marketing purpose with their cookies."""
    document = yaml.safe_load(DESKTOP.read_text(encoding="utf-8"))
    document["languages"] = LANGUAGES
    document["purposes"] += [
        {
            "key": "preferences",
            "use": "functional.storage",
            "legal_basis": "consent",
            "categories": ["user.device.cookie_id"],
            "description": "Remember the visitor's display settings.",
        },
        {
            "key": "ads",
            "use": "marketing.advertising.third_party.targeted",
            "legal_basis": "consent",
            "categories": ["user.device.cookie_id"],
            "description": "Show adverts that fit the visitor's interests.",
        },
    ]
    document["cookies"] += [
        {"name": "prefs", "kind": "local_storage", "purpose": "preferences", "expires": "P1Y6M"},
        {"name": "ad_id", "purpose": "ads", "party": "third", "expires": "P90D"},
    ]
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    return path


@pytest.fixture
def shop(settings: Settings, tmp_path: Path) -> Iterator[Runtime]:
    result = initialize(settings, shop_declarations(tmp_path / "shop.yml"))
    rt = open_runtime(settings)
    rt.notes.append(result.admin_key or "")
    try:
        yield rt
    finally:
        rt.close()


@pytest.fixture
def client(shop: Runtime) -> Iterator[TestClient]:
    app = create_app(runtime=shop)
    with TestClient(app, raise_server_exceptions=False, client=(ADDRESS, 50000)) as test_client:
        yield test_client


@pytest.fixture
def app_key(client: TestClient, shop: Runtime) -> dict[str, str]:
    admin = {"Authorization": f"Bearer {shop.notes[0]}"}
    issued = client.post("/v1/keys", json={"scopes": ["app"]}, headers=admin)
    assert issued.status_code == 201, issued.text
    return {"Authorization": f"Bearer {issued.json()['token']}"}


def choose(client: TestClient, choices: dict[str, Any], **extra: Any) -> Any:
    headers = extra.pop("headers", {})
    body = {"visitor_id": extra.pop("visitor_id", VISITOR), "choices": choices, **extra}
    return client.post("/consent/default/visitor", json=body, headers=headers)


def rows(rt: Runtime) -> list[Any]:
    with rt.engine.connect() as conn:
        return list(conn.execute(select(visitor_choices).order_by(visitor_choices.c.seq)))


def assert_envelope(response: Any, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert body["error"]["message"]


def subject(rt: Runtime, email: str = "vera.quill@example.com", **extra: str) -> str:
    return vault.register(rt.ctx, rt.operator(), {"user.contact.email": email, **extra}).id


def reason(rt: Runtime, sid: str, purpose: str) -> str:
    return consent.check(rt.ctx, rt.operator(), sid, purpose).reason


# -- categories ---------------------------------------------------------------------------


def test_categories_follow_legal_basis_and_data_use(tmp_path: Path) -> None:
    declarations = load_declarations(shop_declarations(tmp_path / "shop.yml"))
    categories = visitors.banner_categories(declarations)
    assert [(c.key, c.always_on) for c in categories] == [
        ("strictly_necessary", True),
        ("functional", False),
        ("analytics", False),
        ("marketing", False),
    ]
    assert [p.key for p in categories[0].purposes] == ["session"]  # only purposes with cookies
    assert [c.name for c in categories[0].cookies["session"]] == ["session", "auth_token"]
    assert [p.key for p in categories[3].purposes] == ["ads"]
    assert visitors.forced_by_gpc(declarations) == ["ads"]

    mobile = load_declarations(EXAMPLES / "mobile-app.yml")
    assert visitors.category_of(mobile, mobile.purpose("personal_settings")) == (
        "strictly_necessary"  # functional.* on contract: not a choice
    )
    assert visitors.category_of(mobile, mobile.purpose("surveys")) == "functional"
    assert visitors.category_of(mobile, mobile.purpose("product_analytics")) == "analytics"
    saas = load_declarations(EXAMPLES / "saas-helpdesk.yml")
    # consent is never "always on": a consent purpose under essential.* is its own category
    key = "real_name_verification"
    assert visitors.category_of(saas, saas.purpose(key)) == key


def test_banner_json_is_public_and_describes_the_cookies(client: TestClient) -> None:
    response = client.get("/consent/default/banner.json?lang=en")
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "*"
    assert "max-age" in response.headers["cache-control"]
    body = response.json()
    assert body["organization"] == "Beispiel Software GmbH"
    assert body["policy_url"] == "https://www.example.com/datenschutz"
    assert body["gpc_purposes"] == ["ads"]
    by_key = {c["key"]: c for c in body["categories"]}
    assert list(by_key) == ["strictly_necessary", "functional", "analytics", "marketing"]
    assert by_key["strictly_necessary"]["always_on"] is True
    assert by_key["marketing"]["gpc"] is True
    assert by_key["analytics"]["name"] == "Analytics"
    cookie = by_key["marketing"]["purposes"][0]["cookies"][0]
    assert cookie == {
        "name": "ad_id",
        "kind": "cookie",
        "party": "third",
        "expires": "P90D",
        "lifetime": {"days": 90},
        "description": None,
    }
    prefs = by_key["functional"]["purposes"][0]["cookies"][0]
    assert prefs["lifetime"] == {"years": 1, "months": 6}
    session = by_key["strictly_necessary"]["purposes"][0]["cookies"][0]
    assert session["expires"] == "session"
    assert session["lifetime"] is None


def test_banner_texts_in_the_visitors_language(client: TestClient) -> None:
    seen = set()
    for language in LANGUAGES:
        body = client.get(f"/consent/default/banner.json?lang={language}").json()
        assert body["language"] == language
        assert "Beispiel Software GmbH" in body["texts"]["intro"]
        seen.add(body["texts"]["accept_all"])
    assert len(seen) == len(LANGUAGES)  # each language has its own words
    ru = client.get("/consent/default/banner.json?lang=ru").json()
    assert ru["texts"]["reject_all"] == "Отклонить все"
    assert ru["categories"][2]["name"] == "Аналитические"
    # Accept-Language when no ?lang=, by quality; regional variants match the language
    negotiated = client.get(
        "/consent/default/banner.json", headers={"Accept-Language": "fr;q=1, cs-CZ;q=0.8, sq;q=0.9"}
    )
    assert negotiated.json()["language"] == "sq"
    assert negotiated.headers["vary"] == "Accept-Language"
    # an undeclared language falls back to the first declared one
    fallback = client.get("/consent/default/banner.json?lang=fr", headers={"Accept-Language": "it"})
    assert fallback.json()["language"] == "de"
    assert fallback.json()["texts"]["save"] == "Auswahl speichern"


def test_every_translation_is_complete() -> None:
    for language in ("en", "de", "ru", "cs", "sq", "zh"):
        assert language in TEXTS
    for language, texts in TEXTS.items():
        assert set(texts) == set(TEXTS["en"]), language
        assert "{organization}" in texts["intro"], language
        assert all(value.strip() for value in texts.values()), language


def test_banner_js_is_cached_by_content_hash(client: TestClient) -> None:
    response = client.get("/consent/default/banner.js")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/javascript")
    assert "max-age=86400" in response.headers["cache-control"]
    etag = response.headers["etag"]
    assert len(etag.strip('"')) == 32
    source = response.text
    assert "window.tutelaConsent" in source
    for forbidden in ("innerHTML", "eval(", "onclick=", "http://", "document.write"):
        assert forbidden not in source
    again = client.get("/consent/default/banner.js", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert_envelope(client.get("/consent/nobody/banner.js"), 404, "not_found")
    assert_envelope(client.get("/consent/NOT..valid/banner.json"), 404, "not_found")


# -- visitors' choices --------------------------------------------------------------------


def test_a_choice_is_stored_with_only_a_keyed_hash_of_the_address(
    client: TestClient, shop: Runtime
) -> None:
    response = choose(
        client,
        {"user_counting": True, "ads": False},
        language="cs",
        headers={"User-Agent": "ExampleBrowser/1.0"},
    )
    assert response.status_code == 201, response.text
    assert response.headers["access-control-allow-origin"] == "*"
    assert response.json()["choices"] == {"ads": False, "user_counting": True}
    assert response.json()["gpc"] is False
    [row] = rows(shop)
    assert row.visitor_id == VISITOR
    assert row.language == "cs"
    assert row.method == "cookie_banner"
    assert row.user_agent == "ExampleBrowser/1.0"
    assert row.subject_id is None
    assert consent.ip_hash_matches(shop.ctx, "default", ADDRESS, bytes(row.ip_hash))
    assert ADDRESS not in repr(tuple(row))
    assert ADDRESS.encode() not in bytes(row.ip_hash)


def test_gpc_forces_sale_sharing_and_marketing_off(client: TestClient, shop: Runtime) -> None:
    by_header = choose(client, {"ads": True, "user_counting": True}, headers={"Sec-GPC": "1"})
    assert by_header.status_code == 201
    assert by_header.json()["choices"] == {"ads": False, "user_counting": True}
    assert by_header.json()["gpc"] is True
    # the script's own report of navigator.globalPrivacyControl, with nothing else chosen
    by_script = choose(client, {}, gpc=True, method="browser_signal", visitor_id=OTHER)
    assert by_script.json()["choices"] == {"ads": False}
    assert by_script.json()["method"] == "browser_signal"
    assert [row.gpc for row in rows(shop)] == [True, True]


def test_preflight_allows_cross_origin_posts(client: TestClient) -> None:
    response = client.options(
        "/consent/default/visitor",
        headers={"Origin": "https://shop.example.com", "Access-Control-Request-Method": "POST"},
    )
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == "*"
    assert "POST" in response.headers["access-control-allow-methods"]
    assert "Content-Type" in response.headers["access-control-allow-headers"]


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ({"visitor_id": "not-hex", "choices": {"ads": False}}, "visitor_id"),
        ({"visitor_id": VISITOR.upper(), "choices": {"ads": False}}, "visitor_id"),
        ({"visitor_id": VISITOR, "choices": {"add": False}}, "not a declared purpose"),
        ({"visitor_id": VISITOR, "choices": {"session": False}}, "not consent"),
        ({"visitor_id": VISITOR, "choices": {"ads": "yes"}}, "choices.ads"),
        ({"visitor_id": VISITOR, "choices": {"ads": 1}}, "choices.ads"),
        ({"visitor_id": VISITOR, "choices": {"ads": False}, "language": "fr"}, "language"),
        ({"visitor_id": VISITOR, "choices": {"ads": False}, "method": "api"}, "method"),
        ({"visitor_id": VISITOR, "choices": {"ads": False}, "extra": 1}, "extra"),
        ({"visitor_id": VISITOR, "choices": {}}, "choices"),
        ({"choices": {"ads": False}}, "visitor_id"),
    ],
)
def test_bad_choices_get_the_error_envelope(
    client: TestClient, shop: Runtime, body: dict[str, Any], where: str
) -> None:
    response = client.post("/consent/default/visitor", json=body)
    assert_envelope(response, 422, "invalid_input")
    assert response.headers["access-control-allow-origin"] == "*"
    assert where in str(response.json())
    assert rows(shop) == []


def test_unknown_tenants_bad_json_and_large_bodies_are_refused(
    client: TestClient, shop: Runtime
) -> None:
    body = {"visitor_id": VISITOR, "choices": {"ads": False}}
    assert_envelope(client.post("/consent/nobody/visitor", json=body), 404, "not_found")
    broken = client.post(
        "/consent/default/visitor",
        content=b"{not json",
        headers={"Content-Type": "application/json"},
    )
    assert_envelope(broken, 422, "invalid_input")
    huge = client.post(
        "/consent/default/visitor",
        content=b'{"visitor_id": "' + b"a" * 20_000 + b'"}',
        headers={"Content-Type": "application/json"},
    )
    assert_envelope(huge, 413, "too_large")
    assert rows(shop) == []


# -- linking a visitor to a subject -------------------------------------------------------


def link(client: TestClient, key: dict[str, str], sid: str, visitor: str = VISITOR) -> Any:
    return client.post(
        f"/v1/consent/visitors/{visitor}/link", json={"subject_id": sid}, headers=key
    )


def test_linking_replays_the_choices_into_the_ledger(
    client: TestClient, shop: Runtime, app_key: dict[str, str]
) -> None:
    sid = subject(shop)
    choose(client, {"user_counting": True, "preferences": True, "ads": False}, language="en")
    assert reason(shop, sid, "user_counting") == "no_consent"

    response = link(client, app_key, sid)
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["replayed"] is True
    events = {(e["purpose"], e["action"], e["method"], e["bundled"]) for e in result["events"]}
    assert events == {
        ("ads", "refuse", "cookie_banner", False),
        ("preferences", "grant", "cookie_banner", True),  # two granted at once: bundled
        ("user_counting", "grant", "cookie_banner", True),
    }
    assert {e["language"] for e in result["events"]} == {"en"}
    assert all(e["receipt"] for e in result["events"])
    assert reason(shop, sid, "user_counting") == "consent"
    assert reason(shop, sid, "preferences") == "consent"
    assert reason(shop, sid, "ads") == "consent_refused"
    [row] = rows(shop)
    assert row.subject_id == sid
    assert row.linked_at is not None

    with shop.engine.connect() as conn:
        actions = [r.action for r in conn.execute(select(audit_log.c.action))]
    assert actions.count("consent.grant") == 2
    assert "consent.visitor_linked" in actions

    again = link(client, app_key, sid)
    assert again.status_code == 200
    assert again.json()["replayed"] is False
    assert again.json()["events"] == []
    assert len(consent.show(shop.ctx, shop.operator(), sid)["events"]) == 3

    other = subject(shop, "other.person@example.com")
    assert_envelope(link(client, app_key, other), 409, "conflict")


def test_gpc_refusals_are_replayed_as_a_browser_signal(
    client: TestClient, shop: Runtime, app_key: dict[str, str]
) -> None:
    sid = subject(shop)
    choose(client, {"user_counting": True, "ads": True}, headers={"Sec-GPC": "1"})
    events = link(client, app_key, sid).json()["events"]
    methods = {(e["purpose"], e["action"], e["method"], e["bundled"]) for e in events}
    assert methods == {
        ("ads", "refuse", "browser_signal", False),
        ("user_counting", "grant", "cookie_banner", False),  # the only grant: separate
    }
    assert reason(shop, sid, "ads") == "consent_refused"


def test_a_later_choice_is_replayed_and_a_later_decision_wins(
    client: TestClient, shop: Runtime, app_key: dict[str, str]
) -> None:
    sid = subject(shop)
    choose(client, {"user_counting": True, "ads": True})
    link(client, app_key, sid)
    assert reason(shop, sid, "ads") == "consent"
    # the visitor changes their mind in the banner: a withdrawal, replayed on the next link
    choose(client, {"user_counting": True, "ads": False})
    events = link(client, app_key, sid).json()["events"]
    assert [(e["purpose"], e["action"]) for e in events] == [("ads", "withdraw")]
    assert reason(shop, sid, "ads") == "consent_withdrawn"
    # a banner choice older than the subject's own decision does not override it
    choose(client, {"preferences": True})
    consent.record(shop.ctx, shop.operator(), sid, ["preferences"], "refuse")
    result = link(client, app_key, sid).json()
    assert result["events"] == []
    assert result["skipped"] == [{"purpose": "preferences", "reason": "later_decision"}]
    assert reason(shop, sid, "preferences") == "consent_refused"


def test_a_minors_grants_are_not_replayed(
    client: TestClient, shop: Runtime, app_key: dict[str, str]
) -> None:
    sid = subject(shop, **{"user.demographic.date_of_birth": "2020-01-01"})
    choose(client, {"user_counting": True, "ads": False})
    result = link(client, app_key, sid).json()
    assert [(e["purpose"], e["action"]) for e in result["events"]] == [("ads", "refuse")]
    assert result["skipped"] == [
        {"purpose": "user_counting", "reason": "guardian_consent_required"}
    ]
    assert reason(shop, sid, "user_counting") == "no_consent"


def test_linking_needs_a_key_a_known_visitor_and_a_known_subject(
    client: TestClient, shop: Runtime, app_key: dict[str, str]
) -> None:
    sid = subject(shop)
    assert_envelope(link(client, {}, sid), 401, "unauthenticated")
    assert_envelope(link(client, app_key, sid), 404, "not_found")  # no such visitor
    choose(client, {"ads": False})
    missing = "00000000-0000-0000-0000-000000000000"
    assert_envelope(link(client, app_key, missing), 404, "not_found")
    assert_envelope(link(client, app_key, sid, visitor="x" * 32), 422, "invalid_input")
    admin = {"Authorization": f"Bearer {shop.notes[0]}"}
    platform = client.post(
        "/v1/keys", json={"tenant": "default", "scopes": ["platform"]}, headers=admin
    )
    assert platform.status_code == 201, platform.text
    token = {"Authorization": f"Bearer {platform.json()['token']}"}  # no access to subjects
    assert_envelope(link(client, token, sid), 403, "forbidden")
    assert rows(shop)[0].subject_id is None


def test_the_desktop_example_has_nothing_for_gpc(runtime: Runtime) -> None:
    with TestClient(create_app(runtime=runtime)) as test_client:
        body = test_client.get("/consent/default/banner.json").json()
    assert body["language"] == "de"
    assert body["gpc_purposes"] == []
    assert [c["key"] for c in body["categories"]] == ["strictly_necessary", "analytics"]
