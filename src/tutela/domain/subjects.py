"""Data subjects: what may be stored about them and how a change is checked.

A subject's fields are keyed by data category (``user.contact.email``). Only categories the
declarations name may be stored; ``storage: hash`` categories are verify-only; categories
declared ``pseudonymous`` (usage analytics) are never stored with a subject, which would
combine them with identity data. The services turn the checked changes into ciphertexts,
hashes and blind indexes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from tutela.domain import identities
from tutela.domain.errors import InvalidInput

BIRTH_DATE_CATEGORY = "user.demographic.date_of_birth"
MAX_VALUE_CHARS = 10_000

ACTIVE = "active"
ERASED = "erased"
CLOSED = "closed"  # the account was closed (account_closure); the data waits for retention


class DeclaredCategory(Protocol):
    @property
    def key(self) -> str: ...
    @property
    def identity(self) -> bool: ...
    @property
    def storage(self) -> str: ...
    @property
    def pseudonymous(self) -> bool: ...


class CategoryCatalog(Protocol):
    """What the domain needs from the declarations."""

    def category(self, key: str) -> DeclaredCategory | None: ...
    @property
    def category_keys(self) -> frozenset[str]: ...
    @property
    def default_phone_region(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class FieldChange:
    category: str
    value: str | None  # None removes the field
    storage: Literal["encrypt", "hash"]
    lookup: str | None  # blind-index kind for identity categories
    normalized: str | None  # the value the blind index covers


@dataclass(frozen=True, slots=True)
class SubjectView:
    """A subject as its reader sees it: decrypted fields, names of hashed ones."""

    id: str
    tenant_id: str
    status: str
    created_at: int
    updated_at: int
    fields: Mapping[str, str] = field(default_factory=dict)
    hashed: tuple[str, ...] = ()
    language: str | None = None  # notices are written in it; None: the default language

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id,
            "tenant": self.tenant_id,
            "status": self.status,
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
            "fields": dict(sorted(self.fields.items())),
            "hashed_fields": list(self.hashed),
            "language": self.language,
        }
        if self.status == ERASED:
            data["message"] = "this subject was erased; its personal data no longer exists"
        return data


def iso(micros: int) -> str:
    moment = dt.datetime.fromtimestamp(micros / 1_000_000, tz=dt.UTC)
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def _check_birth_date(value: str, today: dt.date) -> str:
    try:
        born = dt.date.fromisoformat(value.strip())
    except ValueError:
        raise InvalidInput(
            f"{BIRTH_DATE_CATEGORY}: not a date; give it as YYYY-MM-DD",
            details={"category": BIRTH_DATE_CATEGORY},
        ) from None
    if born > today or born.year < today.year - 130:
        raise InvalidInput(
            f"{BIRTH_DATE_CATEGORY}: {born.isoformat()} is not a plausible birth date",
            details={"category": BIRTH_DATE_CATEGORY},
        )
    return born.isoformat()


def _suggest(key: str, known: frozenset[str]) -> str:
    import difflib

    close = difflib.get_close_matches(key, sorted(known), n=1)
    if close:
        return f"did you mean {close[0]}?"
    return "declare it under `categories` in the declaration file first"


def check_changes(
    catalog: CategoryCatalog,
    assignments: Mapping[str, str | None],
    *,
    today: dt.date,
    creating: bool,
) -> list[FieldChange]:
    """Validate field assignments against the declarations; every problem at once."""
    problems: list[str] = []
    changes: list[FieldChange] = []
    for key, raw in assignments.items():
        category = catalog.category(key)
        if category is None:
            problems.append(
                f"{key}: not a declared data category; {_suggest(key, catalog.category_keys)}"
            )
            continue
        if category.pseudonymous:
            problems.append(
                f"{key}: pseudonymous data is kept apart from identity data and never stored "
                "with a data subject; keep it in its own system under its own pseudonymous id"
            )
            continue
        if raw is None:
            if creating:
                problems.append(f"{key}: a new subject cannot remove a field; leave it out")
                continue
            changes.append(FieldChange(key, None, "encrypt", None, None))
            continue
        value = raw
        if not value.strip():
            problems.append(f"{key}: empty value; give a value or remove the field")
            continue
        if len(value) > MAX_VALUE_CHARS or "\0" in value:
            problems.append(f"{key}: value too long or contains NUL; at most 10,000 characters")
            continue
        if key == BIRTH_DATE_CATEGORY:
            try:
                value = _check_birth_date(value, today)
            except InvalidInput as exc:
                problems.append(exc.message)
                continue
        storage: Literal["encrypt", "hash"] = "hash" if category.storage == "hash" else "encrypt"
        lookup = normalized = None
        if category.identity:
            try:
                normalized = identities.normalize(key, value, catalog.default_phone_region)
            except InvalidInput as exc:
                problems.append(f"{key}: {exc.message}")
                continue
            lookup = identities.kind_of(key)
            if lookup in ("email", "phone"):
                value = normalized
        changes.append(FieldChange(key, value, storage, lookup, normalized))
    if problems:
        raise InvalidInput(
            "; ".join(problems), details={"problems": problems, "fields": sorted(assignments)}
        )
    return changes
