"""Subjects in the vault, on a real database: what a user of the library sees."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from tutela.bootstrap import Runtime, open_runtime
from tutela.domain.errors import Conflict, InvalidInput, NotFound, SubjectErased
from tutela.services import audit, vault

EMAIL = "user.contact.email"
USERNAME = "user.account.username"
PASSWORD = "user.authorization.password"
BIRTH = "user.demographic.date_of_birth"


def register(rt: Runtime, email: str = "ada@example.com", **extra: str) -> str:
    fields = {EMAIL: email, USERNAME: email.split("@", 1)[0].lower(), **extra}
    return vault.register(rt.ctx, rt.operator(), fields).id


def test_register_then_read_back_decrypted(runtime: Runtime) -> None:
    sid = register(runtime, "Ada.Example@Example.COM", **{BIRTH: "1990-02-03"})
    view = vault.read(runtime.ctx, runtime.operator(), sid)
    assert view.status == "active"
    assert view.fields == {
        EMAIL: "ada.example@example.com",
        USERNAME: "ada.example",
        BIRTH: "1990-02-03",
    }


def test_lookup_by_email_ignores_case_and_spaces(runtime: Runtime) -> None:
    sid = register(runtime, "ada@example.com")
    found = vault.find(runtime.ctx, runtime.operator(), "email", "  ADA@example.com ")
    assert found.id == sid
    with pytest.raises(NotFound):
        vault.find(runtime.ctx, runtime.operator(), "email", "bob@example.com")


def test_an_identity_cannot_be_registered_twice(runtime: Runtime) -> None:
    register(runtime, "ada@example.com")
    with pytest.raises(Conflict, match="already has this email"):
        register(runtime, "ADA@example.com")


def test_undeclared_categories_are_refused_with_a_suggestion(runtime: Runtime) -> None:
    with pytest.raises(InvalidInput, match=r"did you mean user\.contact\.email"):
        vault.register(runtime.ctx, runtime.operator(), {"user.contact.emial": "x@example.com"})


def test_every_problem_is_reported_at_once(runtime: Runtime) -> None:
    with pytest.raises(InvalidInput) as caught:
        vault.register(
            runtime.ctx,
            runtime.operator(),
            {EMAIL: "not-an-email", BIRTH: "31.12.1990", "user.nope": "x"},
        )
    assert len(caught.value.details["problems"]) == 3


def test_correction_changes_value_and_lookup(runtime: Runtime) -> None:
    sid = register(runtime, "ada@example.com")
    view = vault.update(runtime.ctx, runtime.operator(), sid, {EMAIL: "ada@new.example.com"})
    assert view.fields[EMAIL] == "ada@new.example.com"
    assert vault.find(runtime.ctx, runtime.operator(), "email", "ada@new.example.com").id == sid
    with pytest.raises(NotFound):
        vault.find(runtime.ctx, runtime.operator(), "email", "ada@example.com")
    removed = vault.update(runtime.ctx, runtime.operator(), sid, {USERNAME: None})
    assert USERNAME not in removed.fields


def test_passwords_are_verify_only(runtime: Runtime) -> None:
    sid = register(runtime, **{PASSWORD: "correct horse"})
    view = vault.read(runtime.ctx, runtime.operator(), sid)
    assert PASSWORD not in view.fields
    assert view.hashed == (PASSWORD,)
    assert vault.verify_secret(runtime.ctx, runtime.operator(), sid, PASSWORD, "correct horse")
    assert not vault.verify_secret(runtime.ctx, runtime.operator(), sid, PASSWORD, "wrong")


def test_listing_shows_names_never_values(runtime: Runtime) -> None:
    ids = [register(runtime, f"user{i}@example.com") for i in range(5)]
    first = vault.list_page(runtime.ctx, runtime.operator(), None, 3)
    assert first.next_cursor is not None
    second = vault.list_page(runtime.ctx, runtime.operator(), first.next_cursor, 3)
    seen = [item["id"] for item in first.items + second.items]
    assert seen == ids
    assert "example.com" not in repr(first.items)
    assert first.items[0]["field_names"] == [USERNAME, EMAIL]


def test_erasure_shreds_the_key_and_reads_say_erased(runtime: Runtime) -> None:
    sid = register(runtime)
    vault.erase(runtime.ctx, runtime.operator(), sid, "test")
    view = vault.read(runtime.ctx, runtime.operator(), sid)
    assert view.status == "erased"
    assert view.fields == {}
    assert "erased" in view.as_dict()["message"]
    with pytest.raises(SubjectErased):
        vault.update(runtime.ctx, runtime.operator(), sid, {USERNAME: "x"})
    with pytest.raises(NotFound):
        vault.find(runtime.ctx, runtime.operator(), "email", "ada@example.com")
    assert runtime.ctx.keys.get(sid) is None


def test_a_restored_backup_does_not_bring_an_erased_subject_back(
    runtime: Runtime, backend: str
) -> None:
    if backend != "sqlite":
        pytest.skip("file-level backup of the embedded database")
    sid = register(runtime)
    data = runtime.settings.data_dir
    backup = data.parent / "backup.db"
    with sqlite3.connect(data / "tutela.db") as live, sqlite3.connect(backup) as copy:
        live.backup(copy)  # a consistent online copy, as `sqlite3 .backup` makes
    vault.erase(runtime.ctx, runtime.operator(), sid, "erasure request")
    runtime.close()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{data / 'tutela.db'}{suffix}").unlink(missing_ok=True)
    shutil.copy(backup, data / "tutela.db")
    restored = open_runtime(runtime.settings)
    try:
        view = vault.read(restored.ctx, restored.operator(), sid)
        assert view.status == "erased"
        assert view.fields == {}
    finally:
        restored.close()


def test_no_personal_value_is_stored_in_clear(runtime: Runtime, backend: str) -> None:
    if backend != "sqlite":
        pytest.skip("inspects the embedded database files")
    register(runtime, "zephyrine.quill@example.com", **{USERNAME: "zephyrinequill"})
    runtime.close()
    for path in runtime.settings.data_dir.iterdir():
        blob = path.read_bytes().lower()
        assert b"zephyrine" not in blob, path.name


def test_every_access_is_audited_without_values(runtime: Runtime) -> None:
    sid = register(runtime)
    vault.read(runtime.ctx, runtime.operator(), sid)
    vault.find(runtime.ctx, runtime.operator(), "email", "ada@example.com")
    vault.update(runtime.ctx, runtime.operator(), sid, {USERNAME: "lovelace"})
    entries = audit.entries(runtime.ctx, runtime.operator(), subject_id=sid, after=0, limit=50)
    assert [e["action"] for e in entries] == [
        "subject.create",
        "subject.read",
        "subject.find",
        "subject.update",
    ]
    assert entries[0]["fields"] == [USERNAME, EMAIL] or set(entries[0]["fields"]) == {
        USERNAME,
        EMAIL,
    }
    assert "ada@example.com" not in repr(entries)
    assert "lovelace" not in repr(entries)
    assert audit.verify(runtime.ctx, runtime.operator()).ok


def test_the_embedded_databases_are_private(runtime: Runtime, backend: str) -> None:
    if backend != "sqlite":
        pytest.skip("file modes of the embedded databases")
    data = runtime.settings.data_dir
    assert data.stat().st_mode & 0o777 == 0o700
    for name in ("tutela.db", "keys.db", "keyring.json"):
        assert (data / name).stat().st_mode & 0o777 == 0o600, name


def test_a_subject_keeps_the_declared_language_it_is_written_to_in(runtime: Runtime) -> None:
    ctx, who = runtime.ctx, runtime.operator()
    sid = vault.register(ctx, who, {EMAIL: "lena@example.com"}, language="de").id
    assert vault.read(ctx, who, sid).language == "de"
    vault.set_language(ctx, who, sid, "en")
    assert vault.read(ctx, who, sid).as_dict()["language"] == "en"
    with pytest.raises(InvalidInput, match="language 'fr' is not declared; use one of de, en"):
        vault.register(ctx, who, {EMAIL: "remy@example.com"}, language="fr")
    actions = [e["action"] for e in audit.entries(ctx, who, subject_id=sid, after=0, limit=50)]
    assert "subject.language" in actions
