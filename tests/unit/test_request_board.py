"""Pure parts of the admin queue: masked identities, duplicates, filters."""

from __future__ import annotations

import pytest

from tutela.domain.errors import InvalidInput
from tutela.domain.identities import mask
from tutela.services.ports import RequestRecord
from tutela.services.request_board import Filters, duplicates_of


def record(
    rid: str, kind: str, digest: bytes, subject: str | None = None, state: str = "verified"
) -> RequestRecord:
    return RequestRecord(
        rid, "default", kind, state, "gdpr", "en", "email", digest, b"x", subject, 0, 0
    )


def test_masks_keep_enough_to_tell_entries_apart() -> None:
    assert mask("email", "ada@example.com") == "a•••@example.com"
    assert mask("phone", "+4915123456789") == "+49•••89"
    assert mask("phone", "+4912") == "+•••"
    assert mask("email", "") == ""
    assert "lovelace" not in mask("email", "lovelace@example.com")


def test_duplicates_are_open_requests_of_one_type_for_one_identity_or_subject() -> None:
    found = duplicates_of(
        [
            record("a", "access", b"1"),
            record("b", "access", b"1"),
            record("c", "erasure", b"1"),  # another type
            record("d", "access", b"1", state="completed"),  # closed
            record("e", "erasure", b"2", subject="s"),
            record("f", "erasure", b"3", subject="s"),  # same subject, other address
            record("g", "erasure", b"4", subject="t"),
        ]
    )
    assert found == {"a": ("b",), "b": ("a",), "e": ("f",), "f": ("e",)}


def test_filters_are_checked_and_round_trip_as_a_query() -> None:
    chosen = Filters.parse({"type": "access", "urgency": "overdue", "unverified": "1"})
    assert chosen.as_query() == {"type": "access", "urgency": "overdue", "unverified": "1"}
    assert Filters.parse({}).as_query() == {}
    assert Filters.parse({"sort": "received"}).sort == "received"
    assert Filters.parse({"page": "3"}).on_page(1).as_query() == {}
    assert Filters.parse({"page": "3"}).as_query() == {"page": "3"}
    for wrong in (
        {"type": "gossip"},
        {"state": "lost"},
        {"urgency": "now"},
        {"sort": "name"},
        {"page": "0"},
        {"page": "-1"},
        {"page": "two"},
    ):
        with pytest.raises(InvalidInput):
            Filters.parse(wrong)
