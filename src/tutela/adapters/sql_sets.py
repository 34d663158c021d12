"""Statements over a set of values passed as one parameter, for set-based batch work.

``column IN (…)`` with one bound value per item costs a parameter (and, through SQLAlchemy,
some Python work) per item; executing a statement once per item costs more. Here the whole
set is one parameter: a JSON array read with ``json_each`` on SQLite, an array compared with
``= ANY`` on PostgreSQL. Statements are built once per dialect by their callers.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ARRAY, ColumnElement, String, any_, bindparam, func, literal_column, select


def one_of(column: ColumnElement[Any], name: str, dialect: str) -> ColumnElement[bool]:
    """``column`` equals one of the values bound as ``name`` (see :func:`values`)."""
    if dialect == "postgresql":
        return column == any_(bindparam(name, type_=ARRAY(String)))
    return column.in_(select(literal_column("value")).select_from(func.json_each(bindparam(name))))


def each_of(name: str, dialect: str) -> Any:
    """A selectable of one column, ``value``, holding each of the values bound as ``name``."""
    if dialect == "postgresql":
        return select(func.unnest(bindparam(name, type_=ARRAY(String))).label("value"))
    return select(literal_column("value")).select_from(func.json_each(bindparam(name)))


def values(items: Sequence[str], dialect: str) -> object:
    """The parameter for a set of text values."""
    return list(items) if dialect == "postgresql" else json.dumps(list(items))
