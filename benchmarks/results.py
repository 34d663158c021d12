"""One row of the table: Tutela's figure beside its raw limit, and the target it aims at."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

RATIO_KINDS = ("ratio", "ratio_at_most")


@dataclass(frozen=True)
class Target:
    """``ratio``: Tutela / raw ≥ value; ``ratio_at_most``: Tutela / raw ≤ value (times,
    lower is better); ``at_most`` / ``at_least``: Tutela's own figure. ``cap``: Tutela's
    worst figure (the row's ``worst``, else its headline) must also stay below it."""

    kind: Literal["ratio", "ratio_at_most", "at_most", "at_least"]
    value: float
    label: str  # how the table shows it, e.g. "≥ 25 %" or "p50 ≤ 2 µs"
    cap: float | None = None

    def met(self, tutela: float, raw: float, worst: float | None = None) -> bool:
        if self.cap is not None and (tutela if worst is None else worst) >= self.cap:
            return False
        if self.kind == "ratio":
            return tutela / raw >= self.value
        if self.kind == "ratio_at_most":
            return tutela / raw <= self.value
        if self.kind == "at_most":
            return tutela <= self.value
        return tutela >= self.value

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "value": self.value, "label": self.label}
        if self.cap is not None:
            out["cap"] = self.cap
        return out


@dataclass(frozen=True)
class Row:
    """``tutela`` and ``raw`` are the headline figures (in ``unit``) the ratio and the
    target are computed on; the ``*_text`` cells may add more lines (p99, mean …)."""

    group: str
    key: str
    title: str
    unit: str
    work: str
    tutela: float
    raw: float
    tutela_text: str
    raw_text: str
    target: Target | None
    lower_is_better: bool = False  # latencies: the ratio is shown as "n ×" of raw
    data: dict[str, Any] = field(default_factory=dict)  # extra JSON fields
    worst: float | None = None  # e.g. p95, for a target's cap

    @property
    def ratio(self) -> float:
        return self.tutela / self.raw if self.raw else float("nan")

    @property
    def met(self) -> bool | None:
        if self.target is None:
            return None
        return self.target.met(self.tutela, self.raw, self.worst)

    def ratio_text(self) -> str:
        return f"{self.ratio:.1f} ×" if self.lower_is_better else f"{self.ratio:.1%}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "group": self.group,
            "key": self.key,
            "title": self.title,
            "unit": self.unit,
            "work": self.work,
            "tutela": round(self.tutela, 3),
            "raw": round(self.raw, 3),
            "ratio": round(self.ratio, 4),
            "target": None if self.target is None else self.target.as_dict(),
            "meets_target": self.met,
            **self.data,
        }


@dataclass(frozen=True)
class Extra:
    """A table of its own below the main one (e.g. how times grow with the data)."""

    title: str
    columns: tuple[str, ...]
    rows: list[tuple[str, ...]]
    data: list[dict[str, Any]] = field(default_factory=list)  # the same, for JSON

    def as_dict(self) -> dict[str, Any]:
        return {"title": self.title, "rows": self.data}


@dataclass(frozen=True)
class Group:
    """Measurements run together; ``description`` says how (printed above the table)."""

    name: str
    description: str
    rows: list[Row]
    settings: dict[str, Any] = field(default_factory=dict)  # JSON: sizes and options
    notes: list[str] = field(default_factory=list)  # printed below the table
    extras: list[Extra] = field(default_factory=list)  # printed after the main table
