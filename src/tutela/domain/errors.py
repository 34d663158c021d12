"""The one error tree of Tutela.

Every error a user can meet is one of these. They carry no HTTP status codes and no
exit codes: each entrypoint maps them once (``entrypoints/api_errors.py`` for HTTP,
``entrypoints/cli.py`` for the command line). Messages never contain secrets or
personal values; ``details`` holds machine-readable context (field names, ids, paths).

    TutelaError
    ├── InvalidInput                 bad value given by the caller (what, where, how to fix)
    │   └── DeclarationInvalid       a declaration file has problems (list of Problem)
    ├── NotFound                     no such subject / tenant / key (or not visible to caller)
    ├── Conflict                     would break uniqueness (identity already registered …)
    ├── Forbidden                    authenticated but the scope does not allow it
    ├── Unauthenticated              missing or unknown credentials
    ├── SubjectErased                the subject was erased; its data is gone for good
    ├── ConfigurationError           settings, key ring or data directory unusable
    │   └── KeyRingError             key ring missing, unreadable, world-readable, bad version
    ├── SchemaOutOfDate              the database needs ``tutela init`` to upgrade
    └── IntegrityError               stored data failed verification (audit chain, ciphertext)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class TutelaError(Exception):
    """Base of every error Tutela raises on purpose."""

    code = "error"

    def __init__(self, message: str, *, details: Mapping[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = dict(details or {})


class InvalidInput(TutelaError):
    code = "invalid_input"


class DeclarationInvalid(InvalidInput):
    """A declaration file failed validation; ``problems`` lists every one of them."""

    code = "declaration_invalid"

    def __init__(self, problems: list[Any]) -> None:
        self.problems = problems
        count = len(problems)
        super().__init__(
            f"the declaration file has {count} problem{'s' if count != 1 else ''}",
            details={"problems": [p.as_dict() for p in problems]},
        )


class NotFound(TutelaError):
    code = "not_found"


class Conflict(TutelaError):
    code = "conflict"


class Forbidden(TutelaError):
    code = "forbidden"


class Unauthenticated(TutelaError):
    code = "unauthenticated"


class SubjectErased(TutelaError):
    code = "subject_erased"


class ConfigurationError(TutelaError):
    code = "configuration_error"


class KeyRingError(ConfigurationError):
    code = "keyring_error"


class SchemaOutOfDate(ConfigurationError):
    code = "schema_out_of_date"


class IntegrityError(TutelaError):
    code = "integrity_error"
