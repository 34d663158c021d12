"""What the incident service needs from storage: the stored incident and its repository port."""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class IncidentRecord:
    """An incident as stored (times in microseconds since the epoch, UTC)."""

    tenant_id: str
    id: str
    state: str
    summary: str
    aware_at: int
    created_at: int
    created_by: str
    updated_at: int
    kinds: tuple[str, ...] = ()
    began_at: int | None = None
    tenants: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    datasets: tuple[str, ...] = ()
    approx_subjects: int | None = None
    approx_records: int | None = None
    encrypted: bool = False
    consequences: str | None = None
    measures: tuple[str, ...] = ()
    advice: tuple[str, ...] = ()
    assessment: dict[str, Any] | None = None
    met: dict[str, int] = field(default_factory=dict)
    delay_reasons: dict[str, str] = field(default_factory=dict)
    closed_at: int | None = None


@dataclass(frozen=True, slots=True)
class AffectedSubject:
    """A subject an incident touches: its id, the affected categories it has, its language."""

    subject_id: str
    categories: tuple[str, ...]
    language: str | None


class AbstractIncidentRepository(abc.ABC):
    @abc.abstractmethod
    def add(self, record: IncidentRecord) -> None: ...

    @abc.abstractmethod
    def get(self, tenant_id: str, incident_id: str, *, lock: bool = False) -> IncidentRecord | None:
        """``lock`` takes the row for update (one change at a time)."""

    @abc.abstractmethod
    def save(self, record: IncidentRecord) -> None: ...

    @abc.abstractmethod
    def listing(self, tenant_id: str, include_closed: bool) -> list[IncidentRecord]: ...

    @abc.abstractmethod
    def add_event(
        self,
        incident_id: str,
        at: int,
        actor: str,
        kind: str,
        note: str,
        details: dict[str, Any],
    ) -> None: ...

    @abc.abstractmethod
    def events(self, incident_id: str) -> list[dict[str, Any]]:
        """The timeline, oldest first: at, actor, kind, note, details."""

    @abc.abstractmethod
    def count_affected(self, tenant_id: str, categories: Sequence[str]) -> int:
        """How many subjects of the tenant (not erased) hold any of these categories."""

    @abc.abstractmethod
    def affected_page(
        self, tenant_id: str, categories: Sequence[str], after: str, limit: int
    ) -> list[AffectedSubject]:
        """The next subjects (by id, after ``after``) holding any of these categories."""

    @abc.abstractmethod
    def noticed(self, incident_id: str, tenant_id: str, subject_ids: Sequence[str]) -> set[str]:
        """Which of these subjects already have a notice of the incident."""

    @abc.abstractmethod
    def add_notice(
        self,
        incident_id: str,
        tenant_id: str,
        subject_id: str,
        state: str,
        language: str,
        at: int,
    ) -> None: ...

    @abc.abstractmethod
    def count_notices(self, incident_id: str) -> dict[str, int]:
        """How many notices are in each state (queued, no_email)."""
