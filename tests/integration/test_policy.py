"""Policy versions on a real database: publish, notify the concerned, take effect, re-consent."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

import pytest
import yaml

from tests.conftest import DESKTOP
from tutela.bootstrap import Runtime
from tutela.declarations import Declarations
from tutela.declarations.diff import Change
from tutela.domain.errors import Conflict, DeclarationInvalid, InvalidInput
from tutela.services import consent, policy, vault, worker

EMAIL = "user.contact.email"
COOKIE = "user.device.cookie_id"
DAY = 86_400 * 1_000_000


def composer(
    declarations: Declarations,
    language: str,
    changes: Sequence[Change],
    label: str,
    effective: dt.date,
    url: str | None,
) -> tuple[str, str]:
    """A plain composer: the language and what changed, for the assertions."""
    paths = ", ".join(c.path for c in changes)
    return f"[{language}] policy {label}", f"{effective} {paths} {url}"


def changed(tmp_path: Path, name: str, edit: object, effective: dt.date | None = None) -> Path:
    document = yaml.safe_load(DESKTOP.read_text(encoding="utf-8"))
    edit(document)  # type: ignore[operator]
    if effective is not None:
        document["policy"] = {"version": name.removesuffix(".yml"), "effective": effective}
    path = tmp_path / name
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    return path


def counting_collects_email(document: dict) -> None:  # type: ignore[type-arg]
    purpose = next(p for p in document["purposes"] if p["key"] == "user_counting")
    purpose["categories"].append(EMAIL)


def new_wording(document: dict) -> None:  # type: ignore[type-arg]
    purpose = next(p for p in document["purposes"] if p["key"] == "user_counting")
    purpose["description"] = "Count users, nothing more."


def today(rt: Runtime) -> dt.date:
    return dt.datetime.fromtimestamp(rt.ctx.clock() / 1e6, dt.UTC).date()


def outbox(rt: Runtime) -> list[tuple[str, str]]:
    """(kind, recipient) of each queued message, decrypted as the sender would."""
    from tutela.adapters.tables import outbox as table
    from tutela.services.mail import _aad

    with rt.engine.connect() as conn:
        rows = conn.execute(table.select().order_by(table.c.id)).all()
    found = []
    for row in rows:
        import json

        message = json.loads(
            rt.ctx.crypto.open_blob("outbox", _aad(row.tenant_id, row.kind), row.message_enc)
        )
        found.append((row.kind, message["to"], message["subject"]))
    return found  # type: ignore[return-value]


def test_a_material_change_is_refused_inside_the_notice_period(
    runtime: Runtime, tmp_path: Path
) -> None:
    soon = today(runtime) + dt.timedelta(days=29)
    file = changed(tmp_path, "v2.yml", counting_collects_email, soon)
    with pytest.raises(InvalidInput) as refused:
        policy.publish(runtime.ctx, runtime.operator(), file, composer=composer)
    earliest = (today(runtime) + dt.timedelta(days=30)).isoformat()
    assert f"the earliest allowed effective date is {earliest}" in refused.value.message
    assert policy.list_versions(runtime.ctx, runtime.operator())[0]["status"] == "in_force"
    assert len(policy.list_versions(runtime.ctx, runtime.operator())) == 1


def test_publishing_tells_each_concerned_subject_once_in_their_language(
    runtime: Runtime, tmp_path: Path
) -> None:
    ctx, who = runtime.ctx, runtime.operator()
    vault.register(ctx, who, {EMAIL: "lena@example.com"})  # the default language, de
    vault.register(ctx, who, {EMAIL: "ada@example.com"}, language="en")
    without_email = vault.register(ctx, who, {COOKIE: "c-1"}).id
    vault.erase(ctx, who, vault.register(ctx, who, {EMAIL: "gone@example.com"}).id, "test")
    effective = today(runtime) + dt.timedelta(days=30)
    file = changed(tmp_path, "2027-01.yml", counting_collects_email, effective)

    result = policy.publish(ctx, who, file, composer=composer)

    assert result["status"] == "scheduled"
    assert result["material"] is True
    assert result["notices"] == {
        "concerned": 3,
        "queued": 2,
        "already_queued": 0,
        "without_email": 1,
    }
    sent = {to: subject for _kind, to, subject in outbox(runtime)}
    assert sent == {
        "lena@example.com": "[de] policy 2027-01",
        "ada@example.com": "[en] policy 2027-01",
    }
    assert without_email  # concerned (holds user_counting's data) but cannot be written to
    again = policy.notify(ctx, who, result["version"], composer=composer)
    assert again["queued"] == 0
    assert again["already_queued"] == 2
    assert len(outbox(runtime)) == 2
    shown = policy.show(ctx, who, result["version"])
    assert shown["notices"] == {"queued": 2}
    assert shown["concerns"]["renew_consent"] == ["user_counting"]


def test_an_editorial_change_may_take_effect_today_and_tells_nobody(
    runtime: Runtime, tmp_path: Path
) -> None:
    ctx, who = runtime.ctx, runtime.operator()
    vault.register(ctx, who, {EMAIL: "ada@example.com"})
    file = changed(tmp_path, "v2.yml", new_wording, today(runtime))
    result = policy.publish(ctx, who, file, today(runtime), composer=composer)
    assert result["material"] is False
    assert result["label"] == "v2"
    assert result["notices"] == {}
    assert outbox(runtime) == []
    versions = policy.list_versions(ctx, who)
    assert [v["status"] for v in versions] == ["in_force", "superseded"]


def test_the_same_declarations_or_a_bad_file_are_refused(runtime: Runtime, tmp_path: Path) -> None:
    ctx, who = runtime.ctx, runtime.operator()
    with pytest.raises(Conflict, match="nothing to publish"):
        policy.publish(ctx, who, DESKTOP, composer=composer)
    broken = tmp_path / "broken.yml"
    broken.write_text(
        DESKTOP.read_text(encoding="utf-8").replace("legal_basis: consent", "legal_basis: whim")
    )
    with pytest.raises(DeclarationInvalid):
        policy.publish(ctx, who, broken, today(runtime), composer=composer)
    yesterday = today(runtime) - dt.timedelta(days=1)
    with pytest.raises(InvalidInput, match="in the past"):
        policy.publish(ctx, who, changed(tmp_path, "v2.yml", new_wording, yesterday))
    with pytest.raises(InvalidInput, match="make the two agree"):
        policy.publish(
            ctx, who, changed(tmp_path, "v2.yml", new_wording, yesterday), today(runtime)
        )
    with pytest.raises(Conflict, match="already used by version 1"):
        policy.publish(ctx, who, changed(tmp_path, "v2.yml", new_wording))


def test_after_the_effective_date_touched_consents_must_be_given_again(
    runtime: Runtime, tmp_path: Path
) -> None:
    ctx, who = runtime.ctx, runtime.operator()
    sid = vault.register(ctx, who, {EMAIL: "ada@example.com"}).id
    consent.record(ctx, who, sid, ["user_counting"], "grant")
    effective = today(runtime) + dt.timedelta(days=30)
    file = changed(tmp_path, "v2.yml", counting_collects_email, effective)
    version = policy.publish(ctx, who, file, composer=composer)["version"]
    first = ctx.declarations_version

    assert policy.apply_due(ctx) == []  # not yet: the old version stays in force
    assert consent.check(ctx, who, sid, "user_counting").reason == "consent"

    real_clock = ctx.clock
    ctx.clock = lambda: real_clock() + 31 * DAY
    ran = worker.apply_policies(ctx)
    assert ran == {"in_force": [{"version": version, "renew_consent": ["user_counting"]}]}
    assert ctx.declarations_version == version != first
    assert EMAIL in ctx.declarations.purpose("user_counting").categories  # type: ignore[attr-defined]
    assert consent.check(ctx, who, sid, "user_counting").reason == "consent_stale"
    assert consent.check(ctx, who, sid, "account").reason == "contract"  # untouched basis
    consent.record(ctx, who, sid, ["user_counting"], "grant")
    assert consent.check(ctx, who, sid, "user_counting").reason == "consent"
    assert policy.apply_due(ctx) == []  # once only
    assert policy.show(ctx, who, version)["status"] == "in_force"


def test_the_notice_mail_is_written_in_the_subjects_language(
    runtime: Runtime, tmp_path: Path
) -> None:
    ctx, who = runtime.ctx, runtime.operator()
    vault.register(ctx, who, {EMAIL: "lena@example.com"})  # de, the default
    vault.register(ctx, who, {EMAIL: "ada@example.com"}, language="en")
    effective = today(runtime) + dt.timedelta(days=30)
    file = changed(tmp_path, "2027-01.yml", counting_collects_email, effective)
    policy.publish(ctx, who, file)  # the real composer
    sent = {to: subject for _kind, to, subject in outbox(runtime)}
    assert "Datenschutzerklärung ändert sich" in sent["lena@example.com"]
    assert "privacy notice changes" in sent["ada@example.com"]


def test_init_does_not_put_a_material_change_in_force_unannounced(
    runtime: Runtime, tmp_path: Path
) -> None:
    from tutela.bootstrap import initialize

    material = changed(tmp_path, "v2.yml", counting_collects_email)
    with pytest.raises(Conflict, match="tutela policy publish") as refused:
        initialize(runtime.settings, material)
    assert refused.value.details["material_changes"] == [
        "purposes[user_counting].categories[user.contact.email]"
    ]
    editorial = changed(tmp_path, "v3.yml", new_wording)
    assert initialize(runtime.settings, editorial).declarations == "loaded"
