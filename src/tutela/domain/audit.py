"""The audit chain: what happened, by whom, to which subject's which fields; never values.

Each tenant has its own chain (platform events use the chain ``_system``). An entry's hash is
SHA-256 over its canonical bytes, which include the previous entry's hash; the chain head is
sealed with a keyed HMAC so a rewritten chain cannot be passed off as genuine without the key
ring. Verification reports the first entry that was changed, deleted, inserted or reordered.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

GENESIS = b"\x00" * 32
SYSTEM_CHAIN = "_system"


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """What a service asks to record; the audit log adds sequence, time and hashes."""

    action: str
    actor: str
    chain: str
    subject_id: str | None = None
    fields: Sequence[str] = ()
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AuditEntry:
    chain: str
    seq: int
    at: int
    actor: str
    action: str
    subject_id: str | None
    fields: str
    details: str
    prev_hash: bytes
    hash: bytes

    def as_dict(self) -> dict[str, Any]:
        return {
            "chain": self.chain,
            "seq": self.seq,
            "at": self.at,
            "actor": self.actor,
            "action": self.action,
            "subject_id": self.subject_id,
            "fields": self.fields.split(",") if self.fields else [],
            "details": json.loads(self.details),
            "hash": self.hash.hex(),
        }


def encode_fields(fields: Iterable[str]) -> str:
    return ",".join(sorted(set(fields)))


def encode_details(details: Mapping[str, Any]) -> str:
    return json.dumps(details, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def canonical(
    chain: str,
    seq: int,
    at: int,
    actor: str,
    action: str,
    subject_id: str | None,
    fields: str,
    details: str,
    prev_hash: bytes,
) -> bytes:
    """The bytes an entry's hash covers (NUL-separated; no part can contain NUL)."""
    text = f"{chain}\0{seq}\0{at}\0{actor}\0{action}\0{subject_id or ''}\0{fields}\0{details}\0"
    return text.encode() + prev_hash


def entry_hash(
    chain: str,
    seq: int,
    at: int,
    actor: str,
    action: str,
    subject_id: str | None,
    fields: str,
    details: str,
    prev_hash: bytes,
) -> bytes:
    data = canonical(chain, seq, at, actor, action, subject_id, fields, details, prev_hash)
    return hashlib.sha256(data).digest()


def head_message(chain: str, seq: int, digest: bytes) -> bytes:
    """The bytes the keyed seal of a chain head covers."""
    return f"tutela:audit-head:{chain}:{seq}:".encode() + digest


def clean_actor(actor: str) -> str:
    """Actors are names, not data: strip control characters and bound the length."""
    return "".join(ch for ch in actor if ch.isprintable())[:200] or "unknown"


@dataclass(frozen=True, slots=True)
class ChainProblem:
    chain: str
    seq: int
    kind: str  # changed | deleted | inserted | reordered | truncated | unsealed
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"chain": self.chain, "seq": self.seq, "kind": self.kind, "message": self.message}


@dataclass(slots=True)
class ChainVerifier:
    """Feeds on a chain's rows in ``seq`` order; remembers the first problem."""

    chain: str
    expected_seq: int = 1
    prev_hash: bytes = GENESIS
    count: int = 0
    problem: ChainProblem | None = None

    def feed(self, row: Sequence[Any]) -> bool:
        """``row`` = (seq, at, actor, action, subject_id, fields, details, prev, hash).

        Returns False once a problem has been found (the caller may stop reading).
        """
        seq, at, actor, action, subject_id, fields, details, prev, stored = row
        chain = self.chain
        if seq != self.expected_seq:
            kind = "deleted" if seq > self.expected_seq else "reordered"
            gap = f"entry {self.expected_seq} is missing" if kind == "deleted" else "out of order"
            self.problem = ChainProblem(chain, int(seq), kind, f"{chain} #{seq}: {gap}")
            return False
        digest = hashlib.sha256(
            canonical(chain, seq, at, actor, action, subject_id, fields, details, prev)
        ).digest()
        if digest != stored:
            self.problem = ChainProblem(
                chain, seq, "changed", f"{chain} #{seq}: contents do not match its hash"
            )
            return False
        if prev != self.prev_hash:
            self.problem = ChainProblem(
                chain,
                seq,
                "inserted",
                f"{chain} #{seq}: does not follow #{seq - 1} (#{seq - 1} was rewritten "
                f"or #{seq} inserted)",
            )
            return False
        self.prev_hash = stored
        self.expected_seq = seq + 1
        self.count += 1
        return True

    def finish(self, head_seq: int | None, head_hash: bytes | None, sealed: bool) -> None:
        """Compare the walked chain with its sealed head."""
        if self.problem is not None:
            return
        last = self.expected_seq - 1
        if head_seq is None or head_hash is None:
            if last:
                self.problem = ChainProblem(
                    self.chain, last, "unsealed", f"{self.chain}: the chain head is missing"
                )
            return
        if not sealed:
            self.problem = ChainProblem(
                self.chain,
                int(head_seq),
                "unsealed",
                f"{self.chain}: the chain head seal is wrong (the chain was rewritten)",
            )
        elif head_seq > last:
            self.problem = ChainProblem(
                self.chain,
                last + 1,
                "truncated",
                f"{self.chain} #{last + 1}: entries {last + 1}..{head_seq} were deleted",
            )
        elif head_seq < last or head_hash != self.prev_hash:
            self.problem = ChainProblem(
                self.chain,
                int(head_seq) + 1,
                "inserted",
                f"{self.chain} #{head_seq + 1}: entries after the sealed head were added",
            )
