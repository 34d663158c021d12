"""Connectors run without pre-ping: a request failing on a dropped pooled connection is run
once more, unless a transaction had already done something."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import DBAPIError

from tutela.adapters.connectors.sql import _Progress, _retrying
from tutela.adapters.database import make_engine


def _dropped() -> DBAPIError:
    return DBAPIError(
        "SELECT 1", {}, Exception("server closed the connection"), connection_invalidated=True
    )


def test_a_dropped_connection_on_the_first_statement_is_retried() -> None:
    calls: list[int] = []

    def work(progress: _Progress) -> str:
        calls.append(1)
        if len(calls) == 1:
            raise _dropped()
        return "done"

    assert _retrying(work) == "done"
    assert len(calls) == 2


def test_a_transaction_that_started_is_not_retried() -> None:
    calls: list[int] = []

    def work(progress: _Progress) -> str:
        calls.append(1)
        progress.started = True
        raise _dropped()

    with pytest.raises(DBAPIError):
        _retrying(work)
    assert len(calls) == 1


def test_a_read_is_retried_wherever_it_failed() -> None:
    calls: list[int] = []

    def work(progress: _Progress) -> str:
        calls.append(1)
        progress.started = True
        if len(calls) == 1:
            raise _dropped()
        return "read"

    assert _retrying(work, always=True) == "read"


def test_other_errors_are_not_retried() -> None:
    calls: list[int] = []

    def work(progress: _Progress) -> str:
        calls.append(1)
        raise DBAPIError("SELECT 1", {}, Exception("syntax error"))

    with pytest.raises(DBAPIError):
        _retrying(work, always=True)
    assert len(calls) == 1


def test_connector_engines_skip_pre_ping() -> None:
    url = "postgresql+psycopg://nobody@127.0.0.1:1/none"
    assert make_engine(url).pool._pre_ping
    engine = make_engine(url, pre_ping=False)
    assert not engine.pool._pre_ping
    assert engine.pool._recycle > 0
