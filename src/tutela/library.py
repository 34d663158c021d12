"""Tutela embedded in an application: the same services, called in-process.

    from tutela import Tutela

    with Tutela.open("./tutela-data") as t:
        sid = t.register({"user.contact.email": "ada@example.com"})["id"]
        t.grant(sid, ["newsletter"])
        if t.may_process(sid, "newsletter").allowed:
            ...

``may_process`` answers from an in-process cache (a couple of dictionary look-ups when warm)
that other processes' changes reach within 50 ms.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from tutela.bootstrap import Runtime, check_data_dir, open_runtime
from tutela.domain.access import Principal, operator
from tutela.domain.consent import Decision
from tutela.services import consent, vault
from tutela.settings import Settings


class Tutela:
    """One tenant's view of an initialised Tutela data directory."""

    def __init__(self, runtime: Runtime, tenant: str = "default", actor: str = "app") -> None:
        self.runtime = runtime
        self.ctx = runtime.ctx
        self.who: Principal = operator(tenant, f"lib:{actor}")

    @classmethod
    def open(
        cls, data_dir: str | Path | None = None, *, tenant: str = "default", actor: str = "app"
    ) -> Tutela:
        settings = Settings.from_env(data_dir=data_dir)
        check_data_dir(settings)
        return cls(open_runtime(settings), tenant, actor)

    def __enter__(self) -> Tutela:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self.runtime.close()

    # -- subjects ---------------------------------------------------------------------------

    def register(self, fields: Mapping[str, str], *, age: int | None = None) -> dict[str, Any]:
        return vault.register(self.ctx, self.who, fields, age_claim=age).as_dict()

    def find(self, *, email: str | None = None, phone: str | None = None) -> dict[str, Any]:
        kind, value = ("email", email) if email is not None else ("phone", phone)
        return vault.find(self.ctx, self.who, kind, value or "").as_dict()

    def read(self, subject_id: str) -> dict[str, Any]:
        return vault.read(self.ctx, self.who, subject_id).as_dict()

    def correct(self, subject_id: str, fields: Mapping[str, str | None]) -> dict[str, Any]:
        return vault.update(self.ctx, self.who, subject_id, fields).as_dict()

    # -- consent ----------------------------------------------------------------------------

    def grant(
        self, subject_id: str, purposes: Sequence[str], **options: Any
    ) -> list[dict[str, Any]]:
        return consent.record(self.ctx, self.who, subject_id, purposes, "grant", **options)

    def refuse(
        self, subject_id: str, purposes: Sequence[str], **options: Any
    ) -> list[dict[str, Any]]:
        return consent.record(self.ctx, self.who, subject_id, purposes, "refuse", **options)

    def withdraw(
        self, subject_id: str, purposes: Sequence[str] | None = None, **options: Any
    ) -> list[dict[str, Any]]:
        if not purposes:
            return consent.withdraw_all(self.ctx, self.who, subject_id, **options)
        return consent.record(self.ctx, self.who, subject_id, purposes, "withdraw", **options)

    def may_process(self, subject_id: str, purpose: str) -> Decision:
        """Allowed or not, and why (a reason code); never raises for unknown ids."""
        return consent.check(self.ctx, self.who, subject_id, purpose)

    def check_many(self, pairs: Iterable[tuple[str, str]]) -> list[Decision]:
        return consent.check_many(self.ctx, self.who, pairs)
