"""The raw limit of a consent write: ``consent.record`` written with ``sqlite3`` and
``cryptography`` alone.

One grant is: an Ed25519 compact JWS over canonical JSON of the same size as Tutela's
receipt (the payload is a Tutela receipt of the same run with its ids and time replaced),
then one ``BEGIN IMMEDIATE`` transaction that checks the subject and its standing, reads the
purpose's state, inserts the ledger event with its receipt, upserts the folded state (ledger
order wins), appends the change-feed row and one audit entry, reseals the chain head
(HMAC-SHA256) and commits. Same tables (copied from the Tutela database), same settings
(WAL, ``synchronous=NORMAL``, foreign keys on), no framework.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import os
import time
import uuid
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from benchmarks.raw import connect
from tutela.domain.audit import GENESIS, canonical, head_message

_SUBJECT = "SELECT status FROM subjects WHERE tenant_id = ? AND id = ?"
_STANDING = (
    "SELECT minor_until, restricted, objections FROM consent_subjects "
    "WHERE tenant_id = ? AND subject_id = ?"
)
_STATE = (
    "SELECT status, by_subject, by_guardian, separate, seq FROM consent_state "
    "WHERE subject_id = ? AND purpose = ?"
)
_INSERT_EVENT = (
    "INSERT INTO consent_events (id, tenant_id, subject_id, purpose, action, at, by, bundled, "
    "method, jurisdiction, language, policy_version, guardian_ref, guardian_verified_by, "
    "user_agent, ip_hash, receipt) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_UPSERT_STATE = (
    "INSERT INTO consent_state (tenant_id, subject_id, purpose, status, by_subject, "
    "by_guardian, separate, seq, at, policy_version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (subject_id, purpose) DO UPDATE SET tenant_id = excluded.tenant_id, "
    "status = excluded.status, by_subject = excluded.by_subject, "
    "by_guardian = excluded.by_guardian, separate = excluded.separate, seq = excluded.seq, "
    "at = excluded.at, policy_version = excluded.policy_version "
    "WHERE consent_state.seq < excluded.seq"
)
_INSERT_CHANGE = "INSERT INTO decision_changes (tenant_id, subject_id, at) VALUES (?, ?, ?)"
_HEAD = "SELECT seq, hash FROM audit_heads WHERE chain = ?"
_UPDATE_HEAD = "UPDATE audit_heads SET seq = ?, hash = ?, seal = ? WHERE chain = ?"
_INSERT_ENTRY = (
    "INSERT INTO audit_log (chain, seq, at, actor, action, subject_id, fields, details, "
    "prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def jws_part(token: str, index: int) -> dict[str, Any]:
    """Header (0) or payload (1) of a compact JWS, unverified: only a size template."""
    part = token.split(".")[index]
    data: dict[str, Any] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return data


class RawSigner:
    """Ed25519 compact JWS over canonical JSON: the receipt signing, without the layers."""

    def __init__(self, kid: str) -> None:
        self.key = Ed25519PrivateKey.from_private_bytes(os.urandom(32))
        header = {"alg": "EdDSA", "kid": kid, "typ": "tutela-receipt+jws"}
        self.header = _b64url(json.dumps(header, sort_keys=True, separators=(",", ":")).encode())

    def sign(self, payload: dict[str, Any]) -> str:
        body = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        signing_input = f"{self.header}.{_b64url(body.encode())}"
        return f"{signing_input}.{_b64url(self.key.sign(signing_input.encode('ascii')))}"


class RawConsent:
    """Grants on a SQLite file with Tutela's consent tables."""

    def __init__(
        self,
        main: Path,
        tenant: str,
        actor: str,
        template: dict[str, Any],
        kid: str,
        policy_version: int | None,
    ) -> None:
        self.db = connect(main)
        self.tenant = tenant
        self.actor = actor
        self.template = template
        self.signer = RawSigner(kid)
        self.policy_version = policy_version
        self.seal_key = os.urandom(32)
        self.db.execute("BEGIN IMMEDIATE")
        if self.db.execute(_HEAD, (tenant,)).fetchone() is None:
            self.db.execute(
                "INSERT INTO audit_heads (chain, seq, hash, seal) VALUES (?, 0, ?, ?)",
                (tenant, GENESIS, self._seal(tenant, 0, GENESIS)),
            )
        self.db.execute("COMMIT")

    def close(self) -> None:
        self.db.close()

    def _seal(self, chain: str, seq: int, digest: bytes) -> bytes:
        return hmac.new(self.seal_key, head_message(chain, seq, digest), hashlib.sha256).digest()

    def _receipt(self, record_id: str, subject_id: str, now: int) -> str:
        at = dt.datetime.fromtimestamp(now / 1_000_000, tz=dt.UTC)
        payload = {
            **self.template,
            "record_id": record_id,
            "subject_id": subject_id,
            "event": {**self.template["event"], "time": at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")},
        }
        return self.signer.sign(payload)

    def grant(self, subject_id: str, purpose: str) -> str:
        tenant, db = self.tenant, self.db
        now = time.time_ns() // 1000
        record_id = str(uuid.uuid4())
        receipt = self._receipt(record_id, subject_id, now)
        db.execute("BEGIN IMMEDIATE")
        try:
            subject = db.execute(_SUBJECT, (tenant, subject_id)).fetchone()
            if subject is None or subject[0] == "erased":
                raise LookupError(subject_id)
            db.execute(_STANDING, (tenant, subject_id)).fetchone()
            state = db.execute(_STATE, (subject_id, purpose)).fetchone()
            by_guardian = bool(state is not None and state[0] == "granted" and state[2])
            seq = db.execute(
                _INSERT_EVENT,
                (
                    record_id,
                    tenant,
                    subject_id,
                    purpose,
                    "grant",
                    now,
                    "subject",
                    False,
                    "api",
                    "gdpr",
                    "de",
                    self.policy_version,
                    None,
                    None,
                    None,
                    None,
                    receipt,
                ),
            ).lastrowid
            db.execute(
                _UPSERT_STATE,
                (
                    tenant,
                    subject_id,
                    purpose,
                    "granted",
                    True,
                    by_guardian,
                    True,
                    seq,
                    now,
                    self.policy_version,
                ),
            )
            details = json.dumps(
                {"by": "subject", "method": "api", "purpose": purpose, "record": record_id},
                sort_keys=True,
                separators=(",", ":"),
                ensure_ascii=True,
            )
            head_seq, prev = db.execute(_HEAD, (tenant,)).fetchone()
            head_seq += 1
            action = "consent.grant"
            digest = hashlib.sha256(
                canonical(tenant, head_seq, now, self.actor, action, subject_id, "", details, prev)
            ).digest()
            db.execute(
                _INSERT_ENTRY,
                (tenant, head_seq, now, self.actor, action, subject_id, "", details, prev, digest),
            )
            db.execute(
                _UPDATE_HEAD, (head_seq, digest, self._seal(tenant, head_seq, digest), tenant)
            )
            db.execute(_INSERT_CHANGE, (tenant, subject_id, now))
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        return receipt
