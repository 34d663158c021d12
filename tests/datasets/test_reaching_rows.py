"""Rows of the one-statement read: each made by a function compiled per collection from its
column names, which must take any name as data and nothing else."""

from __future__ import annotations

import builtins

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tutela.adapters.connectors.sql_reaching import _row_maker

STRANGE = (
    "it's",
    'say "hi"',
    "}); __import__('os').system('false'); ({",
    "back\\slash",
    "new\nline",
    "naïve résumé",
    "",
)


def test_any_column_name_is_a_key_and_nothing_of_it_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_: object, **__: object) -> None:
        raise AssertionError("a column name was run")

    monkeypatch.setattr(builtins, "__import__", refuse)
    make = _row_maker(STRANGE)
    record = (*range(len(STRANGE)), None, 9)  # then padding and the collection's position
    assert make(record) == dict(zip(STRANGE, range(len(STRANGE)), strict=True))


@given(st.lists(st.text(), unique=True, max_size=8))
def test_a_row_holds_each_column_by_position(names: list[str]) -> None:
    values = [object() for _ in names]
    row = _row_maker(tuple(names))([*values, None, 3])
    assert list(row) == names
    assert all(row[name] is value for name, value in zip(names, values, strict=True))
