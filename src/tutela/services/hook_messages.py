"""The messages exchanged with application endpoints: their signatures and the callbacks.

Both directions are signed with the endpoint's shared secret (docs/connectors.md)::

    Tutela-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 over "<t>." followed by the body>

A callback is ``{"request_id", "dataset", "type", "result" | "error"}``; its result has the
shape of Tutela's own results for the request type (access rows with their categories,
erasure counts and what was kept, rectification counts). Nothing here does I/O.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from tutela.datasets.ports import AbstractHookConnector
from tutela.domain.errors import InvalidInput, Unauthenticated

SIGNATURE_HEADER = "Tutela-Signature"
#: how far a signature's time may lie from the receiver's clock
TOLERANCE_SECONDS = 5 * 60
#: the largest callback body accepted
MAX_CALLBACK_BYTES = 20 * 1024 * 1024

M = TypeVar("M", bound=BaseModel)


# -- signatures ---------------------------------------------------------------------------


def sign(secret: bytes, body: bytes, timestamp: int) -> str:
    """The ``Tutela-Signature`` header value of ``body`` at ``timestamp`` (unix seconds)."""
    return f"t={timestamp},v1={_digest(secret, body, timestamp)}"


def _digest(secret: bytes, body: bytes, timestamp: int) -> str:
    return hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def verify(secret: bytes, body: bytes, header: str | None, now: int) -> None:
    """Check a signature header against ``body`` (``now`` in unix seconds), in constant time.

    Raises :class:`Unauthenticated` when it is missing, malformed, older or newer than five
    minutes (a replayed old message), or made with another secret or for another body.
    """
    if not header:
        raise Unauthenticated(
            f"sign the callback: send a {SIGNATURE_HEADER} header (see docs/connectors.md)",
            details={"reason": "missing_signature"},
        )
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == "v1":
            signatures.append(value)
    if timestamp is None or not signatures:
        raise Unauthenticated(
            f"the {SIGNATURE_HEADER} header must read t=<unix seconds>,v1=<hex HMAC-SHA256>",
            details={"reason": "malformed_signature"},
        )
    if abs(now - timestamp) > TOLERANCE_SECONDS:
        raise Unauthenticated(
            "the signature's time is more than five minutes away from now: sign each "
            "callback as it is sent, and keep the clock right",
            details={"reason": "signature_expired"},
        )
    expected = _digest(secret, body, timestamp).encode()
    matches = [hmac.compare_digest(expected, s.encode()) for s in signatures]
    if not any(matches):
        raise Unauthenticated(
            "the signature does not match the body: sign it with the endpoint's shared secret",
            details={"reason": "bad_signature"},
        )


# -- callbacks ----------------------------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Found(_Strict):
    value: Any = None
    categories: list[str] = Field(min_length=1)


class _Access(_Strict):
    dataset: str | None = None
    collections: dict[str, list[dict[str, _Found]]]
    unreachable: list[str] = Field(default_factory=list)


class _Kept(_Strict):
    field: str = Field(min_length=1)
    reason: str = Field(min_length=1)
    rows: int = Field(ge=0)
    until: str | None = None


class _Erased(_Strict):
    reached: int | None = Field(default=None, ge=0)
    deleted: int = Field(ge=0)
    updated: int = Field(ge=0)
    kept: list[_Kept] = Field(default_factory=list)


class _Erasure(_Strict):
    collections: dict[str, _Erased]


class _Rectification(_Strict):
    updated: dict[str, int]


class Callback(_Strict):
    """What an endpoint posts back: its result, or the error that kept it from one."""

    request_id: str
    dataset: str
    type: Literal["access", "erasure", "rectification"]
    result: dict[str, Any] | None = None
    error: str | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _result_or_error(self) -> Callback:
        if (self.result is None) == (self.error is None):
            raise ValueError("give exactly one of result or error")
        return self


def parse_callback(body: bytes) -> Callback:
    """The callback in ``body``; :class:`InvalidInput` listing each problem if malformed."""
    return _parse(Callback, body, "")


def checked_result(
    connector: AbstractHookConnector, kind: str, result: Mapping[str, Any]
) -> dict[str, Any]:
    """A callback's result, checked against the request type and normalised.

    Access: ``{"collections": {name: [{field: {"value", "categories"}}]}}``, every category
    one the endpoint's store holds. Erasure: ``{"collections": {name: {"reached", "deleted",
    "updated", "kept"}}}``. Rectification: ``{"updated": {name: int}}``.
    """
    if kind == "access":
        access = _parse(_Access, result, "result")
        _check_categories(connector, access)
        return {
            "collections": {
                name: [{field: found.model_dump() for field, found in row.items()} for row in rows]
                for name, rows in access.collections.items()
            }
        }
    if kind == "erasure":
        erasure = _parse(_Erasure, result, "result")
        return {
            "collections": {
                name: {
                    "reached": c.reached if c.reached is not None else c.deleted + c.updated,
                    "deleted": c.deleted,
                    "updated": c.updated,
                    "kept": [k.model_dump() for k in c.kept],
                }
                for name, c in erasure.collections.items()
            }
        }
    return _parse(_Rectification, result, "result").model_dump()


def _parse(model: type[M], raw: bytes | Mapping[str, Any], where: str) -> M:
    try:
        if isinstance(raw, bytes):
            return model.model_validate_json(raw)
        return model.model_validate(raw)
    except ValidationError as error:
        problems = [
            {
                "where": ".".join(str(p) for p in (where, *e["loc"]) if p != ""),
                "problem": e["msg"],
            }
            for e in error.errors(include_url=False, include_input=False)
        ]
        places = ", ".join(p["where"] or "body" for p in problems[:5])
        raise InvalidInput(
            f"the callback is not valid at: {places} (see docs/connectors.md)",
            details={"problems": problems[:50]},
        ) from None


def _check_categories(connector: AbstractHookConnector, access: _Access) -> None:
    problems = [
        {
            "where": f"result.collections.{name}.{index}.{field}",
            "problem": f"{category} is not a category declared for {connector.name}",
        }
        for name, rows in access.collections.items()
        for index, row in enumerate(rows)
        for field, found in row.items()
        for category in found.categories
        if not connector.holds(category)
    ]
    if problems:
        undeclared = sorted({p["problem"].split(" ", 1)[0] for p in problems})
        raise InvalidInput(
            f"the result holds data of categories not declared for {connector.name}: "
            f"{', '.join(undeclared)}; declare them under the dataset's categories (it "
            f"lists {', '.join(connector.categories)}), or leave those fields out",
            details={"problems": problems[:50]},
        )
