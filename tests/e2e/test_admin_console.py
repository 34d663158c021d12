"""The admin console over HTTP without a browser, against the real app and a real SQLite
database: sign-in with API keys, revoked keys, CSRF, tenant isolation (a property over
random requests in two tenants), the audited reveal, decisions mailed to the subject
through a real SMTP server, the CSV export, and every page in the reader's language (the
browser tests are in test_admin_console_browser.py)."""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import io
import itertools
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from tests.conftest import DESKTOP, SmtpSink, make_settings
from tutela.adapters.tables import audit_log, web_sessions
from tutela.bootstrap import Runtime, initialize, open_runtime
from tutela.domain.access import Principal
from tutela.domain.errors import Conflict
from tutela.entrypoints.api import create_app
from tutela.services import consent, policy, requests, tenants, vault
from tutela.settings import SmtpSettings

ADMIN = "/admin"


@pytest.fixture
def console(tmp_path: Path, smtp_sink: SmtpSink) -> Iterator[Runtime]:
    settings = make_settings(tmp_path / "data", "sqlite").with_overrides(
        smtp=SmtpSettings(host="127.0.0.1", port=smtp_sink.port, sender="privacy@example.com")
    )
    result = initialize(settings, DESKTOP)
    rt = open_runtime(settings)
    rt.notes.append(result.admin_key or "")
    tenants.create_tenant(rt.ctx, rt.operator(), "globex", "Globex")
    try:
        yield rt
    finally:
        rt.close()


def key(rt: Runtime, scopes: list[str], tenant: str = "default", name: str = "desk") -> str:
    return tenants.issue_key(rt.ctx, rt.operator(), tenant, name, scopes).token


def as_key(token: str, rt: Runtime) -> Principal:
    return tenants.authenticate(rt.ctx, token)


@pytest.fixture
def client(console: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(runtime=console), base_url="http://testserver") as web:
        yield web


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, html[:500]
    return found.group(1)


def sign_in(client: TestClient, token: str) -> Any:
    page = client.get(f"{ADMIN}/sign-in")
    return client.post(f"{ADMIN}/sign-in", data={"key": token, "csrf": csrf_of(page.text)})


def post(client: TestClient, path: str, **data: str) -> Any:
    page = client.get(f"{ADMIN}/")
    return client.post(path, data={**data, "csrf": csrf_of(page.text)})


def actions(rt: Runtime, action: str) -> list[dict[str, Any]]:
    with rt.engine.connect() as conn:
        rows = conn.execute(
            select(audit_log.c.chain, audit_log.c.actor, audit_log.c.details).where(
                audit_log.c.action == action
            )
        ).all()
    return [
        {"chain": r[0], "actor": r[1], "details": json.loads(r[2]) if r[2] else {}} for r in rows
    ]


def new_request(
    rt: Runtime, who: Principal, email: str, kind: str = "access", verified: bool = True
) -> str:
    made = requests.create(
        rt.ctx, who, kind, email=email, verified_by="in_person" if verified else None
    )
    return str(made["id"])


# -- sign-in --------------------------------------------------------------------------------


def test_a_dpo_key_opens_a_session_that_keeps_only_the_key_id(
    client: TestClient, console: Runtime
) -> None:
    token = key(console, ["dpo"])
    page = sign_in(client, token)
    assert page.status_code == 200
    assert page.url.path == f"{ADMIN}/"
    assert "You are signed in." in page.text
    assert "Tenant: default" in page.text
    cookie = client.cookies.get("tutela_admin")
    assert cookie
    with console.engine.connect() as conn:
        rows = conn.execute(select(web_sessions)).mappings().all()
    active = [r for r in rows if r["realm"] == "admin"]
    assert len(active) == 1
    key_id, secret = token.split("_")[1], token.split("_", 2)[2]
    assert active[0]["account"] == key_id
    for row in rows:
        assert secret not in repr(dict(row))
        assert token not in repr(dict(row))
    signed = actions(console, "admin.sign_in")
    assert signed[-1]["actor"] == f"key:{key_id}"
    assert signed[-1]["chain"] == "default"


def test_the_session_cookie_is_http_only_and_bound_to_the_console(
    client: TestClient, console: Runtime
) -> None:
    page = client.get(f"{ADMIN}/sign-in")
    cookie = page.headers["set-cookie"]
    assert "HttpOnly" in cookie
    assert f"Path={ADMIN}/" in cookie
    assert "samesite=lax" in cookie.lower()
    assert page.headers["cache-control"] == "no-store"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]


def test_a_wrong_key_is_refused_with_a_readable_page(client: TestClient, console: Runtime) -> None:
    refused = sign_in(client, "tut_0123456789ab_" + "x" * 43)
    assert refused.status_code == 401
    assert "This API key is not valid" in refused.text
    assert 'aria-invalid="true"' in refused.text
    assert "x" * 43 not in refused.text  # the key is never shown back
    assert sign_in(client, "not a key").status_code == 401
    assert client.get(f"{ADMIN}/requests").url.path == f"{ADMIN}/sign-in"
    failed = actions(console, "admin.sign_in_failed")
    assert [f["actor"] for f in failed] == ["key:0123456789ab", "admin:unknown"]
    assert all(f["chain"] == "_system" for f in failed)


def test_an_app_key_cannot_open_the_console(client: TestClient, console: Runtime) -> None:
    refused = sign_in(client, key(console, ["app"]))
    assert refused.status_code == 403
    assert "only the app scope" in refused.text


def test_revoking_the_key_ends_its_session_at_once(client: TestClient, console: Runtime) -> None:
    token = key(console, ["dpo"])
    sign_in(client, token)
    assert client.get(f"{ADMIN}/requests").status_code == 200
    key_id = token.split("_")[1]
    tenants.revoke_key(console.ctx, console.operator(), key_id)
    after = client.get(f"{ADMIN}/requests")
    assert after.url.path == f"{ADMIN}/sign-in"
    assert "Please sign in" in after.text
    ended = actions(console, "admin.session_ended")
    assert ended
    assert ended[-1]["actor"] == f"key:{key_id}"
    with console.engine.connect() as conn:
        assert conn.execute(select(web_sessions).where(web_sessions.c.realm == "admin")).all() == []
    assert sign_in(client, token).status_code == 401


def test_sign_out_ends_the_session_and_is_audited(client: TestClient, console: Runtime) -> None:
    sign_in(client, key(console, ["admin"]))
    out = post(client, f"{ADMIN}/sign-out")
    assert out.url.path == f"{ADMIN}/sign-in"
    assert "You are signed out." in out.text
    assert client.get(f"{ADMIN}/").url.path == f"{ADMIN}/sign-in"
    assert len(actions(console, "admin.sign_out")) == 1


def test_a_form_without_the_session_token_is_refused_with_a_readable_page(
    client: TestClient, console: Runtime
) -> None:
    who = as_key(key(console, ["dpo"]), console)
    request_id = new_request(console, who, "ada@example.com")
    sign_in(client, key(console, ["dpo"]))
    refused = client.post(f"{ADMIN}/requests/{request_id}/approve", data={"csrf": "forged"})
    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith("text/html")
    assert "<h1>Not allowed</h1>" in refused.text
    assert "Reload the page" in refused.text
    assert requests.show(console.ctx, who, request_id)["state"] == "verified"
    stranger = TestClient(client.app, base_url="http://testserver")
    assert stranger.post(f"{ADMIN}/sign-in", data={"key": "x"}).status_code == 403


# -- the queue ------------------------------------------------------------------------------


def test_the_queue_masks_identities_hides_unverified_and_flags_duplicates(
    client: TestClient, console: Runtime
) -> None:
    who = as_key(key(console, ["dpo"]), console)
    ada = new_request(console, who, "ada@example.com")
    ada_again = new_request(console, who, "ada@example.com", kind="erasure")
    ben = new_request(console, who, "ben@example.com", verified=False)
    sid = vault.register(console.ctx, who, {"user.contact.email": "cy@example.com"}).id
    cy = new_request(console, who, "cy@example.com", kind="erasure")
    assert requests.show(console.ctx, who, cy)["subject_id"] == sid
    sign_in(client, key(console, ["dpo"]))
    page = client.get(f"{ADMIN}/requests")
    assert page.status_code == 200
    assert "a•••@example.com" in page.text
    for email in ("ada@example.com", "ben@example.com", "cy@example.com"):
        assert email not in page.text
    assert ada[:8] in page.text
    assert ada_again[:8] in page.text
    assert ben[:8] not in page.text
    assert "1 unverified request is hidden." in page.text
    shown = client.get(f"{ADMIN}/requests", params={"unverified": "1"})
    assert ben[:8] in shown.text
    assert "Possible duplicate" not in page.text  # different types are no duplicates
    # the same subject asking twice for the same thing, once by another address
    console.ctx.crypto  # noqa: B018 - the digest differs, the subject is the same
    vault.update(console.ctx, who, sid, {"user.contact.email": "cy.new@example.com"})
    twice = new_request(console, who, "cy.new@example.com", kind="erasure")
    page = client.get(f"{ADMIN}/requests", params={"type": "erasure"})
    assert "Possible duplicate" in page.text
    assert page.text.count(f"<code>{cy[:8]}</code>") == 2  # its row, and named by the other
    assert page.text.count(f"<code>{twice[:8]}</code>") == 2
    assert ada[:8] not in page.text  # filtered by type


def test_the_countdown_badge_turns_red_with_words_under_a_quarter_left(
    client: TestClient, console: Runtime
) -> None:
    who = as_key(key(console, ["dpo"]), console)
    now = console.ctx.clock
    day = 86400 * 1_000_000
    fresh = new_request(console, who, "ada@example.com")
    try:
        console.ctx.clock = lambda: now() - 25 * day
        soon = new_request(console, who, "ben@example.com")
        console.ctx.clock = lambda: now() - 40 * day
        late = new_request(console, who, "cy@example.com")
    finally:
        console.ctx.clock = now
    sign_in(client, key(console, ["dpo"]))
    page = client.get(f"{ADMIN}/requests").text
    rows = {
        r: page[page.index(f"<code>{r[:8]}</code>") :].split("</tr>")[0]
        for r in (fresh, soon, late)
    }
    assert re.search(r'class="badge countdown calm">\d+ days left<', rows[fresh])
    assert re.search(r'class="badge countdown urgent">Due soon: \d+ days? left<', rows[soon])
    assert re.search(r'class="badge countdown urgent">Overdue by \d+ days?<', rows[late])
    assert page.index(late[:8]) < page.index(soon[:8]) < page.index(fresh[:8])
    overdue = client.get(f"{ADMIN}/requests", params={"urgency": "overdue"}).text
    assert late[:8] in overdue
    assert soon[:8] not in overdue
    assert fresh[:8] not in overdue


def test_filters_and_sorting(client: TestClient, console: Runtime) -> None:
    who = as_key(key(console, ["dpo"]), console)
    first = new_request(console, who, "ada@example.com")
    second = new_request(console, who, "ben@example.com", kind="erasure")
    sign_in(client, key(console, ["dpo"]))
    newest = client.get(f"{ADMIN}/requests", params={"sort": "received"}).text
    assert newest.index(second[:8]) < newest.index(first[:8])
    by_due = client.get(f"{ADMIN}/requests").text
    assert by_due.index(first[:8]) < by_due.index(second[:8])
    only = client.get(f"{ADMIN}/requests", params={"state": "completed"}).text
    assert "No request matches these filters." in only
    bad = client.get(f"{ADMIN}/requests", params={"state": "lost"})
    assert bad.status_code == 422
    assert "Unknown state" in bad.text


def test_the_reveal_is_explicit_and_audited_per_request(
    client: TestClient, console: Runtime
) -> None:
    who = as_key(key(console, ["dpo"]), console)
    ada = new_request(console, who, "ada@example.com")
    ben = new_request(console, who, "ben@example.com")
    sign_in(client, key(console, ["dpo"]))
    page = client.get(f"{ADMIN}/requests/{ada}")
    assert "a•••@example.com" in page.text
    assert "ada@example.com" not in page.text
    assert actions(console, "request.identity_revealed") == []
    shown = client.post(f"{ADMIN}/requests/{ada}/reveal", data={"csrf": csrf_of(page.text)})
    assert shown.url.path == f"{ADMIN}/requests/{ada}"
    assert "ada@example.com" in shown.text
    assert "recorded in the audit log" in shown.text
    again = client.get(f"{ADMIN}/requests/{ada}")
    assert "ada@example.com" in again.text
    assert "ben@example.com" not in client.get(f"{ADMIN}/requests/{ben}").text
    revealed = actions(console, "request.identity_revealed")
    assert len(revealed) == 1
    assert revealed[0]["details"]["request"] == ada
    assert revealed[0]["actor"].startswith("key:")
    queue = client.get(f"{ADMIN}/requests")
    assert "ada@example.com" not in queue.text  # the list stays masked


def test_reject_needs_a_reason_and_mails_it_to_the_subject(
    client: TestClient, console: Runtime, smtp_sink: SmtpSink
) -> None:
    who = as_key(key(console, ["dpo"]), console)
    request_id = new_request(console, who, "ada@example.com")
    sign_in(client, key(console, ["dpo"]))
    page = client.get(f"{ADMIN}/requests/{request_id}")
    empty = client.post(
        f"{ADMIN}/requests/{request_id}/reject", data={"csrf": csrf_of(page.text), "reason": " "}
    )
    assert empty.status_code == 422
    assert "Give the reason" in empty.text
    assert 'aria-invalid="true"' in empty.text
    assert requests.show(console.ctx, who, request_id)["state"] == "verified"
    reason = "We hold no data about this address in the shop."
    done = client.post(
        f"{ADMIN}/requests/{request_id}/reject",
        data={"csrf": csrf_of(page.text), "reason": reason},
    )
    assert done.url.path == f"{ADMIN}/requests/{request_id}"
    assert "The request was rejected" in done.text
    assert reason in done.text  # on the page and in the timeline
    assert requests.show(console.ctx, who, request_id)["state"] == "rejected"
    mails = [m for m in smtp_sink.messages if m["To"] == "ada@example.com"]
    assert mails, "no message reached the subject"
    assert reason in mails[-1].get_content()


def test_extend_needs_a_reason_and_tells_the_subject(
    client: TestClient, console: Runtime, smtp_sink: SmtpSink
) -> None:
    who = as_key(key(console, ["dpo"]), console)
    request_id = new_request(console, who, "ada@example.com")
    before = requests.show(console.ctx, who, request_id)["due"]
    sign_in(client, key(console, ["dpo"]))
    page = client.get(f"{ADMIN}/requests/{request_id}")
    assert post(client, f"{ADMIN}/requests/{request_id}/extend").status_code == 422
    reason = "The archive of the old shop has to be searched by hand."
    done = client.post(
        f"{ADMIN}/requests/{request_id}/extend",
        data={"csrf": csrf_of(page.text), "reason": reason},
    )
    assert "The deadline now is" in done.text
    after = requests.show(console.ctx, who, request_id)
    assert after["extended"]
    assert after["due"] > before
    assert reason in smtp_sink.messages[-1].get_content()
    assert "Extend the deadline" not in done.text  # once only


def test_approve_then_run_completes_the_request(client: TestClient, console: Runtime) -> None:
    who = as_key(key(console, ["dpo"]), console)
    vault.register(console.ctx, who, {"user.contact.email": "ada@example.com"})
    request_id = new_request(console, who, "ada@example.com")
    sign_in(client, key(console, ["dpo"]))
    approved = post(client, f"{ADMIN}/requests/{request_id}/approve")
    assert "approved for execution" in approved.text
    assert requests.show(console.ctx, who, request_id)["state"] == "in_progress"
    ran = post(client, f"{ADMIN}/requests/{request_id}/run")
    assert "completed" in ran.text
    assert requests.show(console.ctx, who, request_id)["state"] == "completed"
    assert "Verified → In progress" in ran.text  # the timeline
    conflict = post(client, f"{ADMIN}/requests/{request_id}/approve")
    assert conflict.status_code == 409
    assert "<h1>This cannot be done now</h1>" in conflict.text
    assert "while the request is in the state Completed" in conflict.text


def test_an_unverified_request_is_verified_by_a_documented_method(
    client: TestClient, console: Runtime
) -> None:
    who = as_key(key(console, ["dpo"]), console)
    request_id = new_request(console, who, "ada@example.com", verified=False)
    sign_in(client, key(console, ["dpo"]))
    done = post(client, f"{ADMIN}/requests/{request_id}/verify", method="id_document")
    assert "Identity document" in done.text
    assert requests.show(console.ctx, who, request_id)["verified_by"] == "id_document"


def test_the_csv_export_holds_no_identity(client: TestClient, console: Runtime) -> None:
    who = as_key(key(console, ["dpo"]), console)
    ids = [new_request(console, who, f"person{n}@example.com") for n in range(3)]
    hidden = new_request(console, who, "quiet@example.com", verified=False)
    sign_in(client, key(console, ["dpo"]))
    export = client.get(f"{ADMIN}/requests.csv")
    assert export.status_code == 200
    assert export.headers["content-type"].startswith("text/csv")
    assert "attachment" in export.headers["content-disposition"]
    assert "@" not in export.text
    assert "example.com" not in export.text
    rows = list(csv.DictReader(io.StringIO(export.text)))
    assert sorted(r["id"] for r in rows) == sorted(ids)
    assert {r["identity_kind"] for r in rows} == {"email"}
    assert "subject_id" not in rows[0]
    everything = client.get(f"{ADMIN}/requests.csv", params={"unverified": "1"})
    assert hidden in everything.text
    assert "example.com" not in everything.text
    exported = actions(console, "requests.exported")
    assert [e["details"]["rows"] for e in exported] == [3, 4]


# -- tenants --------------------------------------------------------------------------------

RUN = itertools.count()


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["default", "globex"]),
            st.sampled_from(["access", "erasure", "portability"]),
            st.integers(min_value=0, max_value=5),
            st.booleans(),
        ),
        min_size=1,
        max_size=8,
    )
)
def test_a_tenant_key_never_sees_another_tenants_requests(
    client: TestClient, console: Runtime, made: list[tuple[str, str, int, bool]]
) -> None:
    run = next(RUN)
    owners = {t: as_key(key(console, ["dpo"], t), console) for t in ("default", "globex")}
    created: dict[str, set[str]] = {"default": set(), "globex": set()}
    for tenant, kind, person, verified in made:
        email = f"p{person}.r{run}@example.com"
        with contextlib.suppress(Conflict):  # the same open request twice is refused
            created[tenant].add(new_request(console, owners[tenant], email, kind, verified))
    client.cookies.clear()
    sign_in(client, key(console, ["dpo"], "default"))
    queue = client.get(f"{ADMIN}/requests", params={"unverified": "1"}).text
    export = client.get(f"{ADMIN}/requests.csv", params={"unverified": "1"}).text
    for request_id in created["default"]:
        assert request_id[:8] in queue
        assert request_id in export
    for request_id in created["globex"]:
        assert request_id[:8] not in queue
        assert request_id not in export
        hidden = client.get(f"{ADMIN}/requests/{request_id}")
        assert hidden.status_code == 404
        assert "There is no request with this number in your tenant." in hidden.text
        page = client.get(f"{ADMIN}/")
        for action in ("reveal", "approve", "reject"):
            tried = client.post(
                f"{ADMIN}/requests/{request_id}/{action}",
                data={"csrf": csrf_of(page.text), "reason": "no"},
            )
            assert tried.status_code == 404
    assert f"r{run}@example.com" not in queue


def test_a_platform_key_chooses_a_tenant_and_works_there_with_the_platform_scope_only(
    client: TestClient, console: Runtime
) -> None:
    globex = as_key(key(console, ["dpo"], "globex"), console)
    request_id = new_request(console, globex, "ada@example.com")
    signed = sign_in(client, key(console, ["platform"], name="operator"))
    assert signed.url.path == f"{ADMIN}/tenants"
    assert "globex" in signed.text
    chosen = client.post(f"{ADMIN}/tenant", data={"tenant": "globex", "csrf": csrf_of(signed.text)})
    assert "You now work in tenant globex." in chosen.text
    assert "Tenant: globex" in chosen.text
    assert f"{ADMIN}/requests" not in chosen.text  # not in the navigation
    refused = client.get(f"{ADMIN}/requests/{request_id}")
    assert refused.status_code == 403
    assert "do not allow this page" in refused.text
    assert client.get(f"{ADMIN}/policy").status_code == 200
    assert client.get(f"{ADMIN}/consent").status_code == 200
    chosen_entries = actions(console, "admin.tenant_chosen")
    assert chosen_entries[-1]["chain"] == "globex"


def test_a_tenant_key_cannot_choose_another_tenant(client: TestClient, console: Runtime) -> None:
    page = sign_in(client, key(console, ["admin"]))
    refused = client.post(f"{ADMIN}/tenant", data={"tenant": "globex", "csrf": csrf_of(page.text)})
    assert refused.status_code == 403
    assert "Tenant: default" in client.get(f"{ADMIN}/").text
    assert client.get(f"{ADMIN}/tenants").status_code == 403


# -- other pages ----------------------------------------------------------------------------


def test_audit_verification_shows_the_result(client: TestClient, console: Runtime) -> None:
    sign_in(client, key(console, ["dpo"]))
    page = client.get(f"{ADMIN}/audit")
    assert "No check was run in this session yet." in page.text
    done = client.post(f"{ADMIN}/audit/verify", data={"csrf": csrf_of(page.text)})
    assert done.url.path == f"{ADMIN}/audit"
    assert "The audit log is intact." in done.text
    assert "Intact:" in done.text


def test_consent_statistics_are_counts_only(client: TestClient, console: Runtime) -> None:
    who = as_key(key(console, ["dpo"]), console)
    purpose = next(p.key for p in console.ctx.declarations.purposes if p.legal_basis == "consent")
    people = [
        vault.register(console.ctx, who, {"user.contact.email": f"c{n}@example.com"}).id
        for n in range(4)
    ]
    evidence = consent.Evidence("test", None)
    consent.record(console.ctx, who, people[0], [purpose], "grant", evidence=evidence)
    consent.record(console.ctx, who, people[1], [purpose], "refuse", evidence=evidence)
    consent.record(console.ctx, who, people[2], [purpose], "grant", evidence=evidence)
    consent.record(console.ctx, who, people[2], [purpose], "withdraw", evidence=evidence)
    sign_in(client, key(console, ["dpo"]))
    page = client.get(f"{ADMIN}/consent")
    row = re.search(rf"<code>{purpose}</code>.*?</tr>", page.text, re.S)
    assert row, page.text
    assert re.findall(r"<td>(\d+)</td>", row.group(0)) == ["1", "1", "1", "1"]
    for sid in people:
        assert sid not in page.text


def test_every_page_answers_in_the_readers_language(client: TestClient, console: Runtime) -> None:
    who = as_key(key(console, ["dpo"]), console)
    request_id = new_request(console, who, "ada@example.com")
    client.headers["accept-language"] = "de-DE,de;q=0.9"
    page = sign_in(client, key(console, ["dpo"]))
    assert '<html lang="de">' in page.text
    assert "Sie sind angemeldet." in page.text
    for path in (
        "/",
        "/requests",
        f"/requests/{request_id}",
        "/incidents",
        "/policy",
        "/policy/1",
        "/audit",
        "/consent",
    ):
        answer = client.get(ADMIN + path)
        assert answer.status_code == 200, (path, answer.text[:300])
        assert '<html lang="de">' in answer.text
    queue = client.get(f"{ADMIN}/requests").text
    assert "Anfragen" in queue
    switched = post(client, f"{ADMIN}/language", lang="cs", next=f"{ADMIN}/requests")
    assert switched.url.path == f"{ADMIN}/requests"
    assert '<html lang="cs">' in switched.text


def test_a_policy_version_shows_its_changes_and_its_notices(
    client: TestClient, console: Runtime, tmp_path: Path
) -> None:
    from tests.integration.test_policy import changed, counting_collects_email, today

    who = as_key(key(console, ["dpo"]), console)
    vault.register(console.ctx, who, {"user.contact.email": "ada@example.com"})
    effective = today(console) + dt.timedelta(days=30)
    file = changed(tmp_path, "2027-01.yml", counting_collects_email, effective)
    published = policy.publish(console.ctx, console.operator(), file)
    sign_in(client, key(console, ["dpo"]))
    listing = client.get(f"{ADMIN}/policy").text
    assert "2027-01" in listing
    assert "Scheduled" in listing
    version = client.get(f"{ADMIN}/policy/{published['version']}").text
    row = re.search(
        r"<code>purposes\[user_counting\]\.categories\[user\.contact\.email\]</code>.*?</tr>",
        version,
        re.S,
    )
    assert row, version
    assert "<ins>user.contact.email</ins>" in row.group(0)
    assert "a new data category" in row.group(0)  # why it is material
    assert re.search(r"Queued: \d+|Sent: \d+", version)
    assert client.get(f"{ADMIN}/policy/99").status_code == 404
    assert client.get(f"{ADMIN}/policy/x").status_code == 404


def test_a_flood_of_wrong_keys_is_cut_off_but_a_right_key_still_signs_in(
    client: TestClient, console: Runtime
) -> None:
    from tutela.services.console import FAILURES_PER_HOUR

    for _ in range(FAILURES_PER_HOUR):
        assert sign_in(client, "tut_0123456789ab_" + "y" * 43).status_code == 401
    refused = sign_in(client, "tut_0123456789ab_" + "y" * 43)
    assert refused.status_code == 403
    assert "Too many wrong keys" in refused.text
    assert len(actions(console, "admin.sign_in_failed")) == FAILURES_PER_HOUR
    assert sign_in(client, key(console, ["dpo"])).url.path == f"{ADMIN}/"


def test_closed_requests_follow_the_open_ones_the_most_recent_first(
    client: TestClient, console: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tutela.services import request_board

    who = as_key(key(console, ["dpo"]), console)
    now = console.ctx.clock
    try:
        console.ctx.clock = lambda: now() - 3 * 86400 * 1_000_000
        old = new_request(console, who, "old@example.com")
    finally:
        console.ctx.clock = now
    recent = new_request(console, who, "recent@example.com")
    waiting = new_request(console, who, "waiting@example.com")
    for request_id in (old, recent):
        requests.reject(console.ctx, who, request_id, "No such customer.")
    monkeypatch.setattr(request_board, "CLOSED_LIMIT", 1)
    sign_in(client, key(console, ["dpo"]))
    page = client.get(f"{ADMIN}/requests").text
    assert page.index(waiting[:8]) < page.index(recent[:8])
    assert old[:8] not in page  # beyond the closed ones listed
    rejected = client.get(f"{ADMIN}/requests", params={"state": "rejected"}).text
    assert recent[:8] in rejected


def test_a_long_queue_is_read_page_by_page(
    client: TestClient, console: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tutela.services import request_board

    who = as_key(key(console, ["dpo"]), console)
    made = [new_request(console, who, f"q{n}@example.com") for n in range(5)]
    monkeypatch.setattr(request_board, "PAGE_SIZE", 2)
    sign_in(client, key(console, ["dpo"]))
    first = client.get(f"{ADMIN}/requests", params={"sort": "received"}).text
    assert "5 requests · Page 1 of 3" in first
    assert 'rel="next"' in first
    assert 'rel="prev"' not in first
    seen = re.findall(r"<th scope=\"row\"><a href=\"/admin/requests/([0-9a-f-]+)\">", first)
    for page in (2, 3):
        text = client.get(f"{ADMIN}/requests", params={"sort": "received", "page": page}).text
        seen += re.findall(r"<th scope=\"row\"><a href=\"/admin/requests/([0-9a-f-]+)\">", text)
    assert seen == list(reversed(made))
    assert 'rel="prev"' in text
    assert 'rel="next"' not in text
    export = client.get(f"{ADMIN}/requests.csv", params={"page": "2"}).text
    assert all(request_id in export for request_id in made)  # the export has every page
