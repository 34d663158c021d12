"""Consent statistics: per consent-based purpose, how many of a tenant's active subjects
granted, refused, withdrawn or have not decided. Counts only: nobody's decision is shown."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tutela.domain.access import Principal
from tutela.services.context import Context

STATUSES = ("granted", "refused", "withdrawn", "none")


@dataclass(frozen=True, slots=True)
class PurposeCounts:
    purpose: str
    declared: bool  # still a consent-based purpose of the declarations in force
    granted: int
    refused: int
    withdrawn: int
    none: int

    @property
    def total(self) -> int:
        return self.granted + self.refused + self.withdrawn + self.none

    def as_dict(self) -> dict[str, Any]:
        return {
            "purpose": self.purpose,
            "declared": self.declared,
            "granted": self.granted,
            "refused": self.refused,
            "withdrawn": self.withdrawn,
            "none": self.none,
        }


def per_purpose(ctx: Context, who: Principal) -> tuple[int, list[PurposeCounts]]:
    """The number of active subjects and the counts of each consent-based purpose (declared
    ones in declaration order, then purposes no longer declared that still hold decisions)."""
    who.require("consent.statistics")
    with ctx.uow(read_only=True) as uow:
        total, counts = uow.consent.statistics(who.tenant_id)
    declared = [p.key for p in getattr(ctx.declarations, "consent_purposes", ())]
    rows: list[PurposeCounts] = []
    for purpose in [*declared, *sorted(set(counts) - set(declared))]:
        found = counts.get(purpose, {})
        decided = {s: found.get(s, 0) for s in ("granted", "refused", "withdrawn")}
        rows.append(
            PurposeCounts(
                purpose,
                purpose in declared,
                decided["granted"],
                decided["refused"],
                decided["withdrawn"],
                max(0, total - sum(decided.values())),
            )
        )
    return total, rows
