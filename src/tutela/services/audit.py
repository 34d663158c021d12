"""Reading and verifying the audit chains."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass, field

from tutela.domain.access import Principal
from tutela.domain.audit import SYSTEM_CHAIN, ChainProblem, ChainVerifier, head_message
from tutela.services.context import Context

Progress = Callable[[int], None]


@dataclass(frozen=True, slots=True)
class VerifyResult:
    chains: int
    entries: int
    problems: list[ChainProblem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "chains": self.chains,
            "entries": self.entries,
            "problems": [p.as_dict() for p in self.problems],
        }


def verify(ctx: Context, who: Principal, *, progress: Progress | None = None) -> VerifyResult:
    """Walk every chain visible to ``who`` (all chains for the operator) and check it."""
    who.require("audit.read")
    entries = 0
    problems: list[ChainProblem] = []
    with ctx.uow(read_only=True) as uow:
        chains = uow.audit.chains()
        if "platform" not in who.scopes:
            chains = [c for c in chains if c == who.tenant_id]
        for chain in chains:
            verifier = ChainVerifier(chain)
            pending = 0
            for row in uow.audit.rows(chain):
                if not verifier.feed(row):
                    break
                pending += 1
                if progress is not None and pending == 5000:
                    progress(pending)
                    pending = 0
            if progress is not None and pending:
                progress(pending)
            head = uow.audit.head(chain)
            sealed = head is not None and hmac.compare_digest(
                head[2], ctx.crypto.seal(head_message(chain, head[0], head[1]))
            )
            verifier.finish(head[0] if head else None, head[1] if head else None, sealed)
            entries += verifier.count
            if verifier.problem is not None:
                problems.append(verifier.problem)
    return VerifyResult(len(chains), entries, problems)


def count_entries(ctx: Context) -> int:
    with ctx.uow(read_only=True) as uow:
        return sum(h[0] for c in uow.audit.chains() if (h := uow.audit.head(c)))


def entries(
    ctx: Context, who: Principal, *, subject_id: str | None, after: int, limit: int
) -> list[dict[str, object]]:
    who.require("audit.read")
    chain = who.tenant_id
    with ctx.uow(read_only=True) as uow:
        rows = uow.audit.entries(chain, subject_id, after, limit)
    return [e.as_dict() for e in rows]


__all__ = ["SYSTEM_CHAIN", "VerifyResult", "count_entries", "entries", "verify"]
