"""Tenant-set retention: a tenant's administrator sets the period within the declared bounds,
and sweeps follow it; nobody else can set it, and nothing is kept longer without a trace."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tutela.bootstrap import Runtime, initialize, open_runtime
from tutela.declarations import load_declarations
from tutela.domain.access import Principal
from tutela.domain.errors import Forbidden, InvalidInput, NotFound
from tutela.entrypoints.api import create_app
from tutela.services import audit, retention, tenant_retention, tenants
from tutela.services.ports import RetentionSetting
from tutela.settings import Settings

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
HELPDESK = EXAMPLES / "saas-helpdesk.yml"
TENANT = "shembull-retail"  # chose P180D for conversations in the declarations
DAY = 86400 * 1_000_000


@pytest.fixture
def helpdesk(settings: Settings) -> Iterator[Runtime]:
    result = initialize(settings, HELPDESK)
    rt = open_runtime(settings)
    rt.notes.append(result.admin_key or "")
    try:
        yield rt
    finally:
        rt.close()


def admin_of(tenant: str) -> Principal:
    return Principal(tenant, frozenset({"admin"}), "key:tenant-admin")


def in_force(rt: Runtime, tenant: str = TENANT) -> dict[str, dict[str, object]]:
    rows = tenant_retention.listing(rt.ctx, admin_of(tenant))
    return {str(r["purpose"]): r for r in rows}


def test_the_admin_sets_a_period_within_bounds_and_it_is_audited(helpdesk: Runtime) -> None:
    before = in_force(helpdesk)["conversations"]
    assert (before["keep"], before["source"]) == ("P180D", tenant_retention.DECLARED_FOR_TENANT)
    assert (before["min"], before["max"]) == ("P7D", "P5Y")
    data = tenant_retention.set_period(helpdesk.ctx, admin_of(TENANT), "conversations", "p90d")
    assert (data["keep"], data["source"], data["set"]) == ("P90D", "tenant", "P90D")
    assert data["set_by"] == "key:tenant-admin"
    tenant_retention.set_period(helpdesk.ctx, admin_of(TENANT), "conversations", "P2Y")
    assert in_force(helpdesk)["conversations"]["keep"] == "P2Y"
    # other tenants are untouched: their declared choice (or the default) still applies
    assert in_force(helpdesk, "example-logistics")["conversations"]["keep"] == "P2Y"
    assert in_force(helpdesk, "default")["conversations"]["source"] == tenant_retention.DEFAULT
    entries = audit.entries(helpdesk.ctx, admin_of(TENANT), subject_id=None, after=0, limit=100)
    changes = [e["details"] for e in entries if e["action"] == "retention.set"]
    assert changes == [
        {"purpose": "conversations", "keep": "P90D", "previous": None},
        {"purpose": "conversations", "keep": "P2Y", "previous": "P90D"},
    ]


@pytest.mark.parametrize(
    ("purpose", "keep", "words"),
    [
        ("conversations", "P6Y", "outside the bounds P7D..P5Y"),
        ("conversations", "P1D", "outside the bounds P7D..P5Y"),
        ("conversations", "two years", "not an ISO 8601 duration"),
        ("registration", "P1Y", "does not let tenants set the retention"),
        ("chats", "P1Y", "not a declared purpose; tenant-configurable purposes: conversations"),
    ],
)
def test_bad_periods_are_refused_with_the_reason(
    helpdesk: Runtime, purpose: str, keep: str, words: str
) -> None:
    with pytest.raises(InvalidInput, match=words):
        tenant_retention.set_period(helpdesk.ctx, admin_of(TENANT), purpose, keep)
    assert in_force(helpdesk)["conversations"]["source"] == tenant_retention.DECLARED_FOR_TENANT


def test_only_the_tenants_own_admin_sets_it(helpdesk: Runtime) -> None:
    ctx = helpdesk.ctx
    for scopes in ({"app"}, {"dpo"}, {"platform"}):
        who = Principal(TENANT, frozenset(scopes), "key:x")
        with pytest.raises(Forbidden):
            tenant_retention.set_period(ctx, who, "conversations", "P30D")
    with pytest.raises(Forbidden):  # another tenant's admin
        tenant_retention.set_period(
            ctx, admin_of("example-logistics"), "conversations", "P30D", TENANT
        )
    # the platform may read any tenant's periods, a tenant key only its own
    platform = Principal("default", frozenset({"platform"}), "key:p")
    assert tenant_retention.listing(ctx, platform, TENANT)
    with pytest.raises(Forbidden):
        tenant_retention.listing(ctx, admin_of("example-logistics"), TENANT)
    with pytest.raises(NotFound):
        tenant_retention.listing(ctx, platform, "no-such-tenant")


def test_sweeps_follow_the_tenants_period(helpdesk: Runtime) -> None:
    """rules_by_category prefers the run-time setting over the declarations."""
    ctx = helpdesk.ctx
    rules = retention.rules_by_category(ctx, TENANT)["helpdesk.chat_record"]
    assert [r.keep_text for r in rules] == ["P180D"]
    tenant_retention.set_period(ctx, admin_of(TENANT), "conversations", "P14D")
    rules = retention.rules_by_category(ctx, TENANT)["helpdesk.chat_record"]
    assert [(r.purpose, r.keep_text) for r in rules] == [("conversations", "P14D")]
    # a purpose the tenant cannot configure keeps the declared period
    assert [
        r.keep_text for r in retention.rules_by_category(ctx, TENANT)["user.device.ip_address"]
    ] == ["P6M"]


def test_a_period_outside_changed_bounds_is_never_kept_longer_silently() -> None:
    declarations = load_declarations(HELPDESK)
    settings = [RetentionSetting(TENANT, "conversations", "P4Y", "key:a", 0)]
    periods = tenant_retention.resolve(declarations, TENANT, settings)
    assert (periods["conversations"].keep, periods["conversations"].note) == ("P4Y", None)

    def with_conversations(bounds: dict[str, str] | None = None, fixed: bool = False) -> object:
        """The declarations after the platform changed the conversations' bounds."""
        purposes = []
        for declared in declarations.purposes:
            rule = declared.retention
            if declared.key == "conversations" and rule and rule.tenant_configurable:
                limits = None if fixed else rule.tenant_configurable.model_copy(update=bounds)
                rule = rule.model_copy(update={"tenant_configurable": limits})
                declared = declared.model_copy(update={"retention": rule})  # noqa: PLW2901
            purposes.append(declared)
        return declarations.model_copy(update={"purposes": tuple(purposes)})

    # the platform lowers the maximum: the maximum applies, and the listing says why
    lowered = tenant_retention.resolve(with_conversations(bounds={"max": "P3Y"}), TENANT, settings)
    assert lowered["conversations"].keep == "P3Y"
    assert "above the current maximum P3Y" in str(lowered["conversations"].note)
    # the platform raises the minimum: the tenant's shorter period still applies
    raised = tenant_retention.resolve(with_conversations(bounds={"min": "P5Y"}), TENANT, settings)
    assert raised["conversations"].keep == "P4Y"
    assert "below the current minimum P5Y" in str(raised["conversations"].note)
    # the purpose is no longer configurable: the declared keep applies, with a note
    fixed = tenant_retention.resolve(with_conversations(fixed=True), TENANT, settings)
    assert fixed["conversations"].keep == "P1Y"
    assert "no longer lets tenants set" in str(fixed["conversations"].note)


def test_receipts_show_the_tenants_run_time_period() -> None:
    import uuid

    from tutela.domain.receipts import ReceiptEvent, build_receipt

    declarations = load_declarations(HELPDESK)
    event = ReceiptEvent(
        record_id=str(uuid.UUID(int=9)),
        subject_id="s-1",
        tenant_id=TENANT,
        action="grant",
        at=1_728_470_400_000_000,
        policy_version=None,
        notice_language="sq",
        method="api",
        jurisdiction="pipl",
        by="subject",
        guardian_verified_by=None,
        bundled=False,
    )
    receipt = build_receipt(
        event,
        declarations,
        purposes=["conversations", "registration"],
        tenant_periods={"conversations": "P30D", "registration": "P9Y"},
    )
    by_key = {p["key"]: p["retention"] for p in receipt["purposes"]}
    assert (by_key["conversations"]["period"], by_key["conversations"]["set_by"]) == (
        "P30D",
        "tenant",
    )
    # a purpose tenants cannot configure ignores any tenant period
    assert (by_key["registration"]["period"], by_key["registration"]["set_by"]) == (
        "P30D",
        "declarations",
    )


def test_the_rest_routes(helpdesk: Runtime) -> None:
    platform = {"Authorization": f"Bearer {helpdesk.notes[0]}"}
    with TestClient(create_app(runtime=helpdesk), raise_server_exceptions=False) as client:
        issued = tenants.issue_key(helpdesk.ctx, helpdesk.operator(), TENANT, "admin", ["admin"])
        admin = {"Authorization": f"Bearer {issued.token}"}
        url = f"/v1/tenants/{TENANT}/retention"
        listed = client.get(url, headers=admin)
        assert listed.status_code == 200
        assert {r["purpose"]: r["keep"] for r in listed.json()}["conversations"] == "P180D"
        changed = client.put(f"{url}/conversations", json={"keep": "P60D"}, headers=admin)
        assert changed.status_code == 200, changed.text
        assert changed.json()["keep"] == "P60D"
        refused = client.put(f"{url}/conversations", json={"keep": "P10Y"}, headers=admin)
        assert refused.status_code == 422
        assert refused.json()["error"]["code"] == "invalid_input"
        assert refused.json()["error"]["details"]["max"] == "P5Y"
        # the platform key (admin of the default tenant) reads, but does not set, it
        assert client.get(url, headers=platform).status_code == 200
        denied = client.put(f"{url}/conversations", json={"keep": "P5Y"}, headers=platform)
        assert denied.status_code == 403
        assert client.get("/v1/tenants/default/retention", headers=admin).status_code == 403
        assert {r["purpose"]: r["keep"] for r in client.get(url, headers=admin).json()}[
            "conversations"
        ] == "P60D"
