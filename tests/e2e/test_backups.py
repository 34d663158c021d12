"""Backups that forget: a main-database backup taken before an erasure, restored after it,
does not bring the erased subject back, because its data key lived in the key store.

The SQLite scenario runs the installed ``tutela`` command in subprocesses, as an operator
would (docs/backups.md describes the procedure); the PostgreSQL one restores a ``pg_dump``
of the main database at the service level when ``TUTELA_TEST_DATABASE_URL`` is set.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
DESKTOP = ROOT / "examples" / "desktop-vendor.yml"
PG_URL = os.environ.get("TUTELA_TEST_DATABASE_URL", "")

ALICE = {"email": "alice.forgotten@example.com", "name": "AliceVanishing", "pw": "tulip-97-x"}
BOB = {"email": "bob.remains@example.com", "name": "BobStaying", "pw": "cactus-31-y"}
PASSWORD = "user.authorization.password"


def tutela_executable() -> str:
    beside = Path(sys.executable).parent / "tutela"
    found = str(beside) if beside.exists() else shutil.which("tutela")
    if found is None:
        pytest.skip("the tutela console script is not installed")
    return found


def run(data_dir: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUTELA_")}
    env.update(
        {
            "TUTELA_ARGON2_MEMORY_KIB": "1024",
            "TUTELA_ARGON2_TIME_COST": "1",
            "TUTELA_DATA_DIR": str(data_dir),
        }
    )
    return subprocess.run(
        [tutela_executable(), *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=ROOT,
    )


def ok(data_dir: Path, *args: str, stdin: str | None = None) -> Any:
    result = run(data_dir, *args, "--json", stdin=stdin)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def fails(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    return result.stderr


def register(data_dir: Path, person: dict[str, str]) -> str:
    view = ok(
        data_dir,
        "subjects",
        "add",
        "--email",
        person["email"],
        "--field",
        f"user.account.username={person['name']}",
        "--field",
        f"{PASSWORD}={person['pw']}",
    )
    return str(view["id"])


def backup_sqlite(source: Path, target: Path) -> None:
    """A consistent copy of a live SQLite database (the online backup API)."""
    with sqlite3.connect(source) as live, sqlite3.connect(target) as copy:
        live.backup(copy)
    live.close()
    copy.close()


def restore_sqlite(backup: Path, live: Path) -> None:
    """With Tutela stopped: drop the WAL of the newer database, then put the backup in place."""
    for suffix in ("-wal", "-shm"):
        Path(f"{live}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(backup, live)


def raw_bytes(database: Path) -> bytes:
    """Everything on disk for a SQLite database: the file and its write-ahead log."""
    wal = Path(f"{database}-wal")
    return database.read_bytes() + (wal.read_bytes() if wal.exists() else b"")


def plaintexts(person: dict[str, str]) -> list[bytes]:
    return [person["email"].encode(), person["name"].encode(), person["pw"].encode()]


def audit_actions(data_dir: Path) -> list[tuple[str, str | None]]:
    return [
        (e["action"], e["subject_id"]) for e in ok(data_dir, "audit", "list", "--limit", "1000")
    ]


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    result = run(data, "init", "--declarations", str(DESKTOP))
    assert result.returncode == 0, result.stderr
    return data


def test_a_restored_database_backup_does_not_bring_an_erased_subject_back(
    data_dir: Path, tmp_path: Path
) -> None:
    alice, bob = register(data_dir, ALICE), register(data_dir, BOB)
    main = data_dir / "tutela.db"
    backup = tmp_path / "tutela-before-erasure.db"
    backup_sqlite(main, backup)  # the nightly backup, taken while Tutela runs
    assert ok(data_dir, "audit", "verify")["ok"] is True

    erased = ok(data_dir, "subjects", "erase", alice, "--yes", "--reason", "art. 17 request")
    assert erased["status"] == "erased"

    # Tutela stopped (every command is its own process); the old main database is restored
    restore_sqlite(backup, main)
    disk = raw_bytes(main)
    for value in [*plaintexts(ALICE), *plaintexts(BOB)]:
        assert value not in disk  # fields are ciphertext, passwords argon2id, lookups HMACs

    # the erased subject: its data key is gone from the key store, so nothing can be read
    shown = ok(data_dir, "subjects", "show", alice)
    assert (shown["status"], shown["fields"], shown["hashed_fields"]) == ("erased", {}, [])
    fails(run(data_dir, "subjects", "verify", alice, "--field", PASSWORD, stdin=ALICE["pw"]))
    # the other subject reads as before the restore
    kept = ok(data_dir, "subjects", "show", bob)
    assert kept["status"] == "active"
    assert kept["fields"] == {
        "user.contact.email": BOB["email"],
        "user.account.username": BOB["name"],
    }
    assert ok(data_dir, "subjects", "verify", bob, "--field", PASSWORD, stdin=BOB["pw"]) == {
        "match": True
    }

    # What the restored rows still say until the erasure is finished: the subject row says
    # active, its ciphertexts (unreadable) and blind-index lookups are back, so a lookup by
    # the old email finds the id (and shows it erased).
    listed = {i["id"]: i for i in ok(data_dir, "subjects", "list")["items"]}
    assert listed[alice]["status"] == "active"
    assert ok(data_dir, "subjects", "find", "--email", ALICE["email"])["status"] == "erased"

    # The audit chain of the restored database verifies on its own: the head seal is an HMAC
    # under a key-ring key over the restored head, and the key store is not part of it. The
    # entries written after the backup, the erasure among them, are gone with it.
    verified = ok(data_dir, "audit", "verify")
    assert verified["ok"] is True
    assert ("subject.erase", alice) not in audit_actions(data_dir)

    # Finishing the restore: find the subjects whose data key is gone, and erase them again.
    plan = ok(data_dir, "keys", "reconcile")
    assert [(p["tenant"], p["subjects"], p["applied"]) for p in plan] == [
        ("default", [alice], False)
    ]
    done = ok(data_dir, "keys", "reconcile", "--apply")
    assert [(p["shredded"], p["applied"]) for p in done] == [(1, True)]
    assert ok(data_dir, "keys", "reconcile") == [
        {
            "tenant": "default",
            "subjects_checked": 1,
            "shredded": 0,
            "subjects": [],
            "keys_revived": [],
            "applied": False,
        }
    ]
    listed = {i["id"]: i for i in ok(data_dir, "subjects", "list")["items"]}
    assert (listed[alice]["status"], listed[alice]["field_names"]) == ("erased", [])
    assert listed[bob]["status"] == "active"
    fails(run(data_dir, "subjects", "find", "--email", ALICE["email"]))
    with sqlite3.connect(main) as db:
        rows = [
            db.execute(f"SELECT count(*) FROM {table} WHERE subject_id = ?", (alice,)).fetchone()[0]
            for table in ("subject_fields", "subject_lookups")
        ]
    db.close()
    assert rows == [0, 0]
    actions = audit_actions(data_dir)
    assert ("subject.erase", alice) in actions  # the erasure is on record again
    assert ("keys.reconcile", None) in actions
    assert ok(data_dir, "audit", "verify")["ok"] is True
    disk = raw_bytes(main)
    for value in [*plaintexts(ALICE), *plaintexts(BOB)]:
        assert value not in disk


def test_an_old_key_store_backup_brings_the_subject_back_until_reconciled(
    data_dir: Path, tmp_path: Path
) -> None:
    """Why key-store backups must expire quickly: one from before an erasure, restored with a
    main-database backup of the same age, makes the erased subject readable again."""
    alice = register(data_dir, ALICE)
    main, store = data_dir / "tutela.db", data_dir / "keys.db"
    backup_sqlite(main, tmp_path / "tutela-old.db")
    backup_sqlite(store, tmp_path / "keys-old.db")
    ok(data_dir, "subjects", "erase", alice, "--yes")
    backup_sqlite(main, tmp_path / "tutela-now.db")

    # the old key store alone: the current main database no longer holds the fields
    restore_sqlite(tmp_path / "keys-old.db", store)
    assert ok(data_dir, "subjects", "show", alice)["fields"] == {}
    plan = ok(data_dir, "keys", "reconcile")
    assert [(p["subjects"], p["keys_revived"]) for p in plan] == [([], [alice])]
    # ... but with an old main database too, the subject is back
    restore_sqlite(tmp_path / "tutela-old.db", main)
    revived = ok(data_dir, "subjects", "show", alice)
    assert revived["fields"]["user.contact.email"] == ALICE["email"]

    # reconciled against the current main database, the key is shredded again for good
    restore_sqlite(tmp_path / "tutela-now.db", main)
    done = ok(data_dir, "keys", "reconcile", "--apply")
    assert [(p["keys_revived"], p["applied"]) for p in done] == [([alice], True)]
    restore_sqlite(tmp_path / "tutela-old.db", main)
    assert ok(data_dir, "subjects", "show", alice)["fields"] == {}


# --- PostgreSQL -------------------------------------------------------------------------


def _pg_tool(name: str) -> str | None:
    found = sorted(
        glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    return found[-1] if found else shutil.which(name)


@pytest.mark.postgres
@pytest.mark.skipif(not PG_URL, reason="TUTELA_TEST_DATABASE_URL is not set")
def test_a_restored_pg_dump_does_not_bring_an_erased_subject_back(tmp_path: Path) -> None:
    from tests.conftest import make_settings
    from tutela.bootstrap import initialize, open_runtime
    from tutela.services import audit, keys, vault

    dump, restore = _pg_tool("pg_dump"), _pg_tool("pg_restore")
    if dump is None or restore is None:
        pytest.skip("pg_dump / pg_restore are not installed")
    libpq_url = PG_URL.replace("+psycopg", "").replace("+psycopg2", "")
    settings = make_settings(tmp_path / "data", "postgres")  # empties the database
    initialize(settings, DESKTOP)
    rt = open_runtime(settings)
    try:
        who = rt.operator()
        fields = {"user.contact.email": ALICE["email"], "user.account.username": ALICE["name"]}
        alice = vault.register(rt.ctx, who, fields).id
        bob = vault.register(
            rt.ctx, who, {"user.contact.email": BOB["email"], "user.account.username": BOB["name"]}
        ).id
    finally:
        rt.close()
    archive = tmp_path / "tutela.dump"
    subprocess.run([dump, "--format=custom", "--file", str(archive), libpq_url], check=True)
    assert not any(v in archive.read_bytes() for v in plaintexts(ALICE)[:2])

    rt = open_runtime(settings)
    try:
        vault.erase(rt.ctx, rt.operator(), alice, "erasure")
    finally:
        rt.close()
    subprocess.run(
        [restore, "--clean", "--if-exists", "--no-owner", "--dbname", libpq_url, str(archive)],
        check=True,
    )

    rt = open_runtime(settings)
    try:
        who = rt.operator()
        assert vault.read(rt.ctx, who, alice).status == "erased"
        assert vault.read(rt.ctx, who, alice).fields == {}
        assert vault.read(rt.ctx, who, bob).fields["user.contact.email"] == BOB["email"]
        assert audit.verify(rt.ctx, who).ok
        assert keys.reconcile(rt.ctx, who, apply=True).shredded == [alice]
        assert keys.reconcile(rt.ctx, who, apply=False).shredded == []
        assert audit.verify(rt.ctx, who).ok
    finally:
        rt.close()
