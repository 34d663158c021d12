"""Index advice for ``tutela check``: identity, reference and date columns without an index.

Requests look rows up by identity fields and follow references both ways, and retention
sweeps find expired rows by the field that dates them (``datasets[].retention``); without an
index starting with the column, each look-up scans the whole table. For every declared
database whose connection variable is set, the tables are inspected and a recommendation
(never an error) is given for each such column no index, primary key or unique constraint
starts with.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from pathlib import Path

from sqlalchemy import inspect
from sqlalchemy.engine import Inspector
from sqlalchemy.exc import SQLAlchemyError

from tutela.adapters.database import make_engine, parsed_safe
from tutela.datasets.loading import DatasetSource, read_dataset_file
from tutela.datasets.models import Dataset
from tutela.declarations.models import Declarations
from tutela.declarations.problems import ADVICE, Issue, Loc, Problem
from tutela.domain.errors import ConfigurationError


def index_advice(
    declarations: Declarations,
    base_dir: Path,
    source_name: str,
    *,
    environ: Mapping[str, str] | None = None,
) -> list[Problem]:
    """Recommendations for the declared databases whose connection variable is set."""
    env = os.environ if environ is None else environ
    advice: list[Problem] = []
    for index, entry in enumerate(declarations.datasets):
        if entry.file is None or entry.connection is None:
            continue
        variable = entry.connection.removeprefix("env:")
        url = env.get(variable)
        if not url:
            continue
        source = read_dataset_file(base_dir / entry.file)
        if source.problems or not source.datasets:
            continue  # reported as problems by the check itself
        dated = {name: r.dated_by for name, r in entry.retention.items()}
        try:
            advice.extend(_advise(url, source, dated))
        except (SQLAlchemyError, ConfigurationError) as error:
            reason = str(error).splitlines()[0]
            advice.append(
                Problem(
                    source_name,
                    None,
                    f"datasets[{index}].connection",
                    f"indexes not checked: cannot inspect {parsed_safe(url)} ({reason})",
                    f"check the database {variable} names, or unset it to skip this advice",
                    severity=ADVICE,
                )
            )
    return advice


def _advise(url: str, source: DatasetSource, dated: Mapping[str, str]) -> Iterator[Problem]:
    engine = make_engine(url, pool=False)
    try:
        with engine.connect() as connection:
            inspector = inspect(connection)
            postgres = engine.dialect.name == "postgresql"
            leading: dict[str, frozenset[str] | None] = {}
            for d_index, dataset in source.datasets:
                for (collection, field), loc in _wanted(dataset, d_index, dated).items():
                    if collection not in leading:
                        leading[collection] = _leading_columns(inspector, collection)
                    indexed = leading[collection]
                    if indexed is None or field in indexed:
                        continue  # a missing table is the live check's business
                    name = f"ix_{collection}_{field}"
                    statement = (
                        f"CREATE INDEX ON {collection} ({field})"
                        if postgres
                        else f"CREATE INDEX {name} ON {collection} ({field})"
                    )
                    why = (
                        "retention sweeps find expired rows by it"
                        if dated.get(collection) == field
                        else "requests look rows up by it"
                    )
                    yield source.place(
                        Issue(
                            loc,
                            f"{collection}.{field}: no index starts with this column; {why} "
                            "and scan the whole table without one",
                            statement,
                        )
                    ).as_advice()
    finally:
        engine.dispose()


def _wanted(dataset: Dataset, d_index: int, dated: Mapping[str, str]) -> dict[tuple[str, str], Loc]:
    """Identity fields, both ends of references inside the dataset, and the fields that
    date the rows retention sweeps cover, with their place."""
    places: dict[tuple[str, str], Loc] = {}
    for c_index, collection in enumerate(dataset.collections):
        for f_index, field in enumerate(collection.fields):
            places[(collection.name, field.name)] = (
                "dataset",
                d_index,
                "collections",
                c_index,
                "fields",
                f_index,
            )
    wanted: dict[tuple[str, str], Loc] = {}
    for collection in dataset.active_collections:
        for field in collection.fields:
            here = (collection.name, field.name)
            if (field.meta.identity or dated.get(collection.name) == field.name) and (
                here in places
            ):
                wanted.setdefault(here, places[here])
            for reference in field.meta.references or ():
                if reference.dataset != dataset.fides_key:
                    continue
                there = (reference.collection, reference.field_path)
                for end in (here, there):
                    if end in places:
                        wanted.setdefault(end, places[end])
    return dict(sorted(wanted.items(), key=lambda item: item[1][2:]))


def _leading_columns(inspector: Inspector, table: str) -> frozenset[str] | None:
    """First columns of the table's primary key, indexes and unique constraints; ``None``
    when the database has no such table."""
    if not inspector.has_table(table):
        return None
    firsts: set[str] = set()
    primary = inspector.get_pk_constraint(table).get("constrained_columns") or []
    if primary:
        firsts.add(primary[0])
    for index in inspector.get_indexes(table):
        columns = index.get("column_names") or []
        if columns and columns[0] is not None:
            firsts.add(columns[0])
    for unique in inspector.get_unique_constraints(table):
        names = unique.get("column_names") or []
        if names:
            firsts.add(names[0])
    return frozenset(firsts)
