"""The raw limit: Tutela's vault work written directly with ``sqlite3`` and ``cryptography``.

Same crypto (AES-256-GCM fields under a fresh per-subject data key, the key wrapped under a
KEK, HMAC-SHA256 blind indexes, SHA-256 audit chain with an HMAC-sealed head), same tables
(the schema is copied from the Tutela database of the same run), same rows, same commits and
the same durability settings (WAL, ``synchronous=NORMAL``, foreign keys on, ``BEGIN
IMMEDIATE`` for transactions that write, a separate key-store file). No framework: no
SQLAlchemy, no unit of work, no repositories, no dataclasses per row.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import sqlite3
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from tutela.domain.audit import GENESIS, canonical, head_message

EMAIL = "user.contact.email"
USERNAME = "user.account.username"
KEK_VERSION = 1
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

_INSERT_SUBJECT = (
    "INSERT INTO subjects (tenant_id, id, status, created_at, updated_at) VALUES (?, ?, ?, ?, ?)"
)
_INSERT_FIELD = (
    "INSERT INTO subject_fields (tenant_id, subject_id, category, kind, value, updated_at) "
    "VALUES (?, ?, ?, ?, ?, ?)"
)
_INSERT_LOOKUP = (
    "INSERT INTO subject_lookups (tenant_id, kind, digest, subject_id) VALUES (?, ?, ?, ?)"
)
_INSERT_KEY = (
    "INSERT INTO subject_keys (subject_id, tenant_id, kek_version, wrapped, created_at) "
    "VALUES (?, ?, ?, ?, ?)"
)
_INSERT_ENTRY = (
    "INSERT INTO audit_log (chain, seq, at, actor, action, subject_id, fields, details, "
    "prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_HEAD = "SELECT seq, hash FROM audit_heads WHERE chain = ?"
_UPDATE_HEAD = "UPDATE audit_heads SET seq = ?, hash = ?, seal = ? WHERE chain = ?"
_GET_SUBJECT = (
    "SELECT id, tenant_id, status, created_at, updated_at FROM subjects "
    "WHERE tenant_id = ? AND id = ?"
)
_GET_FIELDS = (
    "SELECT category, kind, value FROM subject_fields WHERE tenant_id = ? AND subject_id = ?"
)
_GET_KEY = (
    "SELECT subject_id, tenant_id, kek_version, wrapped FROM subject_keys WHERE subject_id = ?"
)
_FIND = "SELECT subject_id FROM subject_lookups WHERE tenant_id = ? AND kind = ? AND digest = ?"
_AUDIT_ROWS = (
    "SELECT seq, at, actor, action, subject_id, fields, details, prev_hash, hash "
    "FROM audit_log WHERE chain = ? ORDER BY seq"
)


def connect(path: Path) -> sqlite3.Connection:
    """A connection with Tutela's SQLite settings; transactions are begun explicitly."""
    con = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=NORMAL")
    con.execute("PRAGMA foreign_keys=ON")
    con.execute("PRAGMA busy_timeout=30000")
    return con


def clone_schema(source: Path, target: Path, copy_tables: Sequence[str] = ()) -> None:
    """Create ``target`` with the tables and indexes of ``source`` (and some of its rows)."""
    src = sqlite3.connect(source)
    dst = connect(target)
    try:
        ddl = src.execute(
            "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%' "
            "ORDER BY CASE type WHEN 'table' THEN 0 ELSE 1 END, rowid"
        ).fetchall()
        dst.execute("BEGIN IMMEDIATE")
        for (sql,) in ddl:
            dst.execute(sql)
        for table in copy_tables:
            rows = src.execute(f"SELECT * FROM {table}").fetchall()
            if rows:
                marks = ", ".join("?" * len(rows[0]))
                dst.executemany(f"INSERT INTO {table} VALUES ({marks})", rows)
        dst.execute("COMMIT")
    finally:
        src.close()
        dst.close()


def _now() -> int:
    return time.time_ns() // 1000


def _seal(aead: AESGCM, plaintext: bytes, aad: bytes) -> bytes:
    nonce = os.urandom(12)
    return nonce + aead.encrypt(nonce, plaintext, aad)


def _open(aead: AESGCM, blob: bytes, aad: bytes) -> bytes:
    return aead.decrypt(blob[:12], blob[12:], aad)


def _normalize(category: str, value: str) -> tuple[str, str]:
    """(stored value, blind-index input) of an identity category."""
    if category == EMAIL:
        text = value.strip().lower()
        if not _EMAIL_RE.match(text):
            raise ValueError("not an email address")
        return text, text
    return value, " ".join(value.split()).casefold()


def _kind(category: str) -> str:
    return "email" if category == EMAIL else category


def _encode_details(details: Mapping[str, object]) -> str:
    return json.dumps(details, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


class RawVault:
    """One tenant's vault on two SQLite files: the main database and the key store."""

    def __init__(self, main: Path, keys: Path, tenant: str, actor: str) -> None:
        self.db = connect(main)
        self.keys = connect(keys)
        self.tenant = tenant
        self.actor = actor
        self.kek = AESGCM(os.urandom(32))
        self.index_keys = {"email": os.urandom(32), USERNAME: os.urandom(32)}
        self.seal_key = os.urandom(32)
        self.db.execute("BEGIN IMMEDIATE")
        if self.db.execute(_HEAD, (tenant,)).fetchone() is None:
            seal = self._head_seal(tenant, 0, GENESIS)
            self.db.execute(
                "INSERT INTO audit_heads (chain, seq, hash, seal) VALUES (?, 0, ?, ?)",
                (tenant, GENESIS, seal),
            )
        self.db.execute("COMMIT")

    def close(self) -> None:
        self.db.close()
        self.keys.close()

    # -- pieces ------------------------------------------------------------------------

    def _rollback(self) -> None:
        for con in (self.keys, self.db):
            if con.in_transaction:
                con.execute("ROLLBACK")

    def _head_seal(self, chain: str, seq: int, digest: bytes) -> bytes:
        return hmac.new(self.seal_key, head_message(chain, seq, digest), hashlib.sha256).digest()

    def _index(self, kind: str, normalized: str) -> bytes:
        return hmac.new(self.index_keys[kind], normalized.encode(), hashlib.sha256).digest()

    def _audit(self, events: Iterable[tuple[str, str | None, str, str]], now: int) -> None:
        """Append (action, subject, fields, details) entries and reseal the chain head."""
        chain, actor = self.tenant, self.actor
        seq, prev = self.db.execute(_HEAD, (chain,)).fetchone()
        rows = []
        for action, subject_id, fields, details in events:
            seq += 1
            data = canonical(chain, seq, now, actor, action, subject_id, fields, details, prev)
            digest = hashlib.sha256(data).digest()
            rows.append((chain, seq, now, actor, action, subject_id, fields, details, prev, digest))
            prev = digest
        self.db.executemany(_INSERT_ENTRY, rows)
        self.db.execute(_UPDATE_HEAD, (seq, prev, self._head_seal(chain, seq, prev), chain))

    def _encrypt_subject(
        self, fields: Mapping[str, str], now: int
    ) -> tuple[str, tuple[object, ...], list[tuple[object, ...]], list[tuple[object, ...]]]:
        """A new subject id, its key-store row, field rows and lookup rows."""
        tenant = self.tenant
        sid = str(uuid.uuid4())
        dek = os.urandom(32)
        wrapped = _seal(self.kek, dek, f"tutela:dek:{tenant}:{sid}:{KEK_VERSION}".encode())
        aead = AESGCM(dek)
        field_rows: list[tuple[object, ...]] = []
        lookup_rows: list[tuple[object, ...]] = []
        for category, given in fields.items():
            value = given
            if category in (EMAIL, USERNAME):
                value, normalized = _normalize(category, given)
                kind = _kind(category)
                lookup_rows.append((tenant, kind, self._index(kind, normalized), sid))
            aad = f"tutela:field:{tenant}:{sid}:{category}".encode()
            field_rows.append((tenant, sid, category, "e", _seal(aead, value.encode(), aad), now))
        return sid, (sid, tenant, KEK_VERSION, wrapped, now), field_rows, lookup_rows

    # -- use cases ---------------------------------------------------------------------

    def register(self, fields: Mapping[str, str]) -> str:
        """One subject, one transaction on each file (key store committed first)."""
        now = _now()
        sid, key_row, field_rows, lookup_rows = self._encrypt_subject(fields, now)
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute(_INSERT_SUBJECT, (self.tenant, sid, "active", now, now))
            db.executemany(_INSERT_FIELD, field_rows)
            db.executemany(_INSERT_LOOKUP, lookup_rows)
            details = _encode_details({})
            self._audit([("subject.create", sid, ",".join(sorted(fields)), details)], now)
            self.keys.execute("BEGIN IMMEDIATE")
            self.keys.execute(_INSERT_KEY, key_row)
            self.keys.execute("COMMIT")
            db.execute("COMMIT")
        except BaseException:
            self._rollback()
            raise
        return sid

    def import_rows(self, rows: Sequence[Mapping[str, str]], batch_size: int) -> list[str]:
        """Check every identity first (in the input and in the database), then write in
        batches: one transaction per batch on each file, one audit entry per subject."""
        seen: set[tuple[str, bytes]] = set()
        for row in rows:
            for category, value in row.items():
                if category in (EMAIL, USERNAME):
                    kind = _kind(category)
                    digest = self._index(kind, _normalize(category, value)[1])
                    if (kind, digest) in seen:
                        raise ValueError("duplicate identity in the input")
                    seen.add((kind, digest))
        for kind in {k for k, _ in seen}:
            wanted = [d for k, d in seen if k == kind]
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                marks = ", ".join("?" * len(chunk))
                query = (
                    "SELECT digest FROM subject_lookups WHERE tenant_id = ? AND kind = ? "
                    f"AND digest IN ({marks})"
                )
                if self.db.execute(query, (self.tenant, kind, *chunk)).fetchone():
                    raise ValueError("an identity is already registered")
        ids: list[str] = []
        details = _encode_details({"via": "import"})
        for start in range(0, len(rows), batch_size):
            now = _now()
            subjects, keys, fields, lookups, events = [], [], [], [], []
            for row in rows[start : start + batch_size]:
                sid, key_row, field_rows, lookup_rows = self._encrypt_subject(row, now)
                subjects.append((self.tenant, sid, "active", now, now))
                keys.append(key_row)
                fields += field_rows
                lookups += lookup_rows
                events.append(("subject.create", sid, ",".join(sorted(row)), details))
            db = self.db
            db.execute("BEGIN IMMEDIATE")
            try:
                db.executemany(_INSERT_SUBJECT, subjects)
                db.executemany(_INSERT_FIELD, fields)
                db.executemany(_INSERT_LOOKUP, lookups)
                self._audit(events, now)
                self.keys.execute("BEGIN IMMEDIATE")
                self.keys.executemany(_INSERT_KEY, keys)
                self.keys.execute("COMMIT")
                db.execute("COMMIT")
            except BaseException:
                self._rollback()
                raise
            ids += [s[1] for s in subjects]
        return ids

    def _read_in_transaction(self, sid: str, action: str) -> dict[str, str]:
        tenant = self.tenant
        record = self.db.execute(_GET_SUBJECT, (tenant, sid)).fetchone()
        if record is None:
            raise KeyError(sid)
        stored = self.db.execute(_GET_FIELDS, (tenant, sid)).fetchall()
        key_sid, key_tenant, version, wrapped = self.keys.execute(_GET_KEY, (sid,)).fetchone()
        dek = _open(self.kek, wrapped, f"tutela:dek:{key_tenant}:{key_sid}:{version}".encode())
        aead = AESGCM(dek)
        values = {
            category: _open(
                aead, value, f"tutela:field:{tenant}:{sid}:{category}".encode()
            ).decode()
            for category, kind, value in stored
            if kind == "e"
        }
        names = ",".join(sorted(values))
        self._audit([(action, sid, names, _encode_details({}))], _now())
        return values

    def read(self, sid: str, action: str = "subject.read") -> dict[str, str]:
        """Decrypted fields of one subject; the read is audited in its own transaction."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            values = self._read_in_transaction(sid, action)
            self.db.execute("COMMIT")
        except BaseException:
            self._rollback()
            raise
        return values

    def find_email(self, email: str) -> dict[str, str]:
        """Blind-index lookup by email, then the audited read, in one transaction."""
        digest = self._index("email", _normalize(EMAIL, email)[1])
        self.db.execute("BEGIN IMMEDIATE")
        try:
            row = self.db.execute(_FIND, (self.tenant, "email", digest)).fetchone()
            if row is None:
                raise KeyError(email)
            values = self._read_in_transaction(row[0], "subject.find")
            self.db.execute("COMMIT")
        except BaseException:
            self._rollback()
            raise
        return values


def verify_chains(con: sqlite3.Connection, seal_key: bytes) -> int:
    """Walk every audit chain of the database behind ``con``; returns the entries checked."""
    con.execute("BEGIN")
    try:
        total = 0
        for (chain,) in con.execute("SELECT chain FROM audit_heads ORDER BY chain").fetchall():
            expected, prev = 1, GENESIS
            for seq, at, actor, action, sid, fields, details, prev_hash, stored in con.execute(
                _AUDIT_ROWS, (chain,)
            ):
                data = canonical(chain, seq, at, actor, action, sid, fields, details, prev_hash)
                if seq != expected or hashlib.sha256(data).digest() != stored or prev_hash != prev:
                    raise AssertionError(f"{chain} #{seq} does not verify")
                prev, expected = stored, seq + 1
            head_seq, head_hash, seal = con.execute(
                "SELECT seq, hash, seal FROM audit_heads WHERE chain = ?", (chain,)
            ).fetchone()
            mac = hmac.new(seal_key, head_message(chain, head_seq, head_hash), hashlib.sha256)
            sealed = hmac.compare_digest(seal, mac.digest())
            if not sealed or head_seq != expected - 1 or head_hash != prev:
                raise AssertionError(f"{chain}: the sealed head does not match the chain")
            total += expected - 1
        return total
    finally:
        con.execute("COMMIT")
