"""Retention sweeps over a connected database: an application's access log (SQLite, and
PostgreSQL when TUTELA_TEST_DATABASE_URL is set; MySQL or MariaDB when TUTELA_TEST_MYSQL_URL
is)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, create_engine, text
from typer.testing import CliRunner

from tests.conftest import PG_URL
from tests.fixtures_support import MYSQL_URL, mysql_database, postgres_schema
from tutela.adapters.connectors import sql_retention
from tutela.bootstrap import Runtime, initialize, open_runtime
from tutela.domain.errors import ConfigurationError, NotFound
from tutela.entrypoints.cli import app as cli
from tutela.services import audit, holds, retention, vault
from tutela.settings import Settings

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "retention"
DAY = 86400 * 1_000_000
NOW = dt.datetime(2026, 6, 1, 12, tzinfo=dt.UTC)
NOW_MICROS = int(NOW.timestamp() * 1_000_000)
TABLE = """CREATE TABLE access_log (
    id INTEGER PRIMARY KEY,
    email VARCHAR(100),
    ip VARCHAR(45),
    requested_at {date_type}
)"""


@dataclass
class Logs:
    runtime: Runtime
    engine: Engine
    url: str
    declarations: Path

    def add(self, rows: list[tuple[int, str | None, str | None, int]]) -> None:
        """Rows of (id, email, ip, age in days)."""
        if not rows:
            return
        with self.engine.begin() as connection:
            connection.execute(
                text("INSERT INTO access_log VALUES (:i, :e, :p, :at)"),
                [
                    {
                        "i": i,
                        "e": e,
                        "p": p,
                        "at": (NOW - dt.timedelta(days=age)).replace(tzinfo=None),
                    }
                    for i, e, p, age in rows
                ],
            )

    def rows(self) -> dict[int, tuple[Any, ...]]:
        with self.engine.connect() as connection:
            found = connection.execute(text("SELECT id, email, ip FROM access_log"))
            return {int(r[0]): (r[1], r[2]) for r in found}

    def sweep(self, *, apply: bool = True) -> dict[str, Any]:
        return retention.run(self.runtime.ctx, self.runtime.operator(), apply=apply)


def _declared(tmp_path: Path, text: str) -> Path:
    """The fixture's declarations changed to ``text``, beside its dataset file."""
    declarations = tmp_path / "declarations.yml"
    declarations.write_text(text, encoding="utf-8")
    (tmp_path / "dataset.yml").write_text(
        (FIXTURE / "dataset.yml").read_text(encoding="utf-8"), encoding="utf-8"
    )
    return declarations


@pytest.fixture(params=["own"] + (["mysql"] if MYSQL_URL else []))
def app_server(request: pytest.FixtureRequest, backend: str) -> str:
    """The kind of database the application's log is on: Tutela's own kind, or MySQL (as
    an application on MySQL beside Tutela on SQLite or PostgreSQL would be)."""
    return backend if request.param == "own" else "mysql"


def _database(tmp_path: Path, backend: str, date_type: str) -> Iterator[str]:
    ddl = TABLE.format(date_type=date_type)
    if backend == "mysql":
        with mysql_database(MYSQL_URL, [ddl.replace("TIMESTAMP", "DATETIME")]) as url:
            yield url
        return
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'logs.db'}"
        engine = create_engine(url)
        with engine.begin() as connection:
            connection.exec_driver_sql(ddl)
        engine.dispose()
        yield url
        return
    with postgres_schema(PG_URL, lambda _schema: [ddl]) as url:
        yield url


def _runtime(
    settings: Settings, url: str, declarations: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Logs]:
    monkeypatch.setenv("APP_LOGS_DATABASE_URL", url)
    initialize(settings, declarations)
    runtime = open_runtime(settings)
    runtime.ctx.clock = lambda: NOW_MICROS
    engine = create_engine(url)
    try:
        yield Logs(runtime, engine, url, declarations)
    finally:
        for connector in runtime.ctx.connectors() if runtime.ctx.connectors else []:
            connector.close()  # type: ignore[attr-defined]
        engine.dispose()
        runtime.close()


@pytest.fixture
def logs(
    settings: Settings, app_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Logs]:
    for url in _database(tmp_path, app_server, "TIMESTAMP"):
        yield from _runtime(settings, url, FIXTURE / "declarations.yml", monkeypatch)


def rows_done(data: dict[str, Any]) -> dict[str, int]:
    lines = [d for d in data["datasets"] if d["collection"] == "access_log"]
    return {
        "deleted": sum(d["deleted"] for d in lines),
        "anonymized": sum(d["anonymized"] for d in lines),
    }


def test_expired_rows_go_in_batches_and_each_batch_is_in_the_audit_log(
    logs: Logs, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sql_retention, "BATCH", 7)
    logs.add([(i, f"u{i}@example.com", f"192.0.2.{i}", 91 + i) for i in range(20)])
    logs.add([(100 + i, None, f"198.51.100.{i}", 89 - i) for i in range(10)])  # within P90D
    plan = logs.sweep(apply=False)
    assert plan["datasets"] == [
        {
            "dataset": "app_logs",
            "collection": "access_log",
            "rule": "security_logs",
            "then": "delete",
            "deleted": 20,
            "anonymized": 0,
        }
    ]
    assert "192.0.2" not in repr(plan)  # counts and names only
    assert len(logs.rows()) == 30  # a dry run
    done = logs.sweep()
    assert rows_done(done) == {"deleted": 20, "anonymized": 0}
    assert sorted(logs.rows()) == list(range(100, 110))
    entries = audit.entries(
        logs.runtime.ctx, logs.runtime.operator(), subject_id=None, after=0, limit=1000
    )
    evidence = [e["details"] for e in entries if e["action"] == "retention.sweep"]
    assert [e["deleted"] for e in evidence if e.get("dataset") == "app_logs"] == [7, 7, 6]
    assert rows_done(logs.sweep()) == {"deleted": 0, "anonymized": 0}  # nothing twice


def test_a_hold_on_the_category_keeps_every_row_and_is_named(logs: Logs) -> None:
    who = logs.runtime.operator()
    logs.add([(i, None, f"192.0.2.{i}", 100) for i in range(5)])
    hold = holds.place(
        logs.runtime.ctx, who, reason="Case 7 C 12/26", category="user.device.ip_address"
    )
    done = logs.sweep()
    assert done["datasets_held"] == [
        {"dataset": "app_logs", "collection": "access_log", "hold": hold["id"], "rows": 5}
    ]
    assert len(logs.rows()) == 5
    holds.release(logs.runtime.ctx, who, hold["id"])
    assert rows_done(logs.sweep()) == {"deleted": 5, "anonymized": 0}
    assert logs.rows() == {}


def test_a_hold_on_a_subject_keeps_that_subjects_rows_only(logs: Logs) -> None:
    who = logs.runtime.operator()
    held = vault.register(logs.runtime.ctx, who, {"user.contact.email": "held@example.com"}).id
    logs.add([(1, "Held@Example.com", "192.0.2.1", 120), (2, "held@example.com", None, 95)])
    logs.add([(3, "other@example.com", "192.0.2.3", 120), (4, None, "192.0.2.4", 100)])
    hold = holds.place(logs.runtime.ctx, who, reason="Order 2026/4", subject_id=held)
    done = logs.sweep()
    assert done["datasets_held"] == [
        {"dataset": "app_logs", "collection": "access_log", "hold": hold["id"], "rows": 2}
    ]
    assert rows_done(done) == {"deleted": 2, "anonymized": 0}
    assert sorted(logs.rows()) == [1, 2]


def test_anonymize_keeps_the_rows_with_the_erasure_strategies_applied(
    settings: Settings, app_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text_ = (FIXTURE / "declarations.yml").read_text(encoding="utf-8")
    text_ = text_.replace("then: delete}", "then: anonymize}").replace(
        "    retention:\n      access_log",
        "    erasure:\n      categories: {user.device.ip_address: generalize, "
        'user.contact.email: "null"}\n    retention:\n      access_log',
    )
    declarations = _declared(tmp_path, text_)
    for url in _database(tmp_path, app_server, "TIMESTAMP"):
        for logs in _runtime(settings, url, declarations, monkeypatch):
            logs.add([(1, "a@example.com", "192.0.2.77", 120), (2, None, "203.0.113.9", 10)])
            assert rows_done(logs.sweep()) == {"deleted": 0, "anonymized": 1}
            assert logs.rows() == {1: (None, "192.0.2.0"), 2: (None, "203.0.113.9")}
            assert rows_done(logs.sweep()) == {"deleted": 0, "anonymized": 0}  # anonymous now


def test_a_column_without_dates_is_refused_by_check_and_by_the_sweep(
    settings: Settings, app_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for url in _database(tmp_path, app_server, "INTEGER"):
        for logs in _runtime(settings, url, FIXTURE / "declarations.yml", monkeypatch):
            result = CliRunner().invoke(cli, ["check", str(logs.declarations)])
            assert result.exit_code == 1
            assert "datasets[0].retention.access_log.dated_by" in result.output
            assert "holds integer values, not dates or times" in result.output
            with pytest.raises(ConfigurationError, match="does not fit the database"):
                logs.sweep(apply=False)


# -- the invariant -------------------------------------------------------------------------

ROWS = st.lists(
    st.tuples(
        st.sampled_from([None, "held@example.com", "free@example.com"]),
        st.integers(min_value=0, max_value=200),  # age in days; the rule keeps 90
    ),
    max_size=25,
)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(rows=ROWS, on_subject=st.booleans(), on_category=st.booleans())
def test_a_sweep_never_removes_a_held_row_or_one_still_within_its_period(
    logs: Logs,
    rows: list[tuple[str | None, int]],
    on_subject: bool,
    on_category: bool,
) -> None:
    ctx, who = logs.runtime.ctx, logs.runtime.operator()
    with logs.engine.begin() as connection:
        connection.execute(text("DELETE FROM access_log"))
    for hold in holds.listing(ctx, who):
        holds.release(ctx, who, hold["id"])
    try:
        held = vault.find(ctx, who, "email", "held@example.com").id
    except NotFound:
        held = vault.register(ctx, who, {"user.contact.email": "held@example.com"}).id
    if on_subject:
        holds.place(ctx, who, reason="subject hold", subject_id=held)
    if on_category:
        holds.place(ctx, who, reason="category hold", category="user.contact.email")
    logs.add([(i, email, "192.0.2.1", age) for i, (email, age) in enumerate(rows)])
    logs.sweep()
    left = logs.rows()
    for i, (email, age) in enumerate(rows):
        held_row = on_category or (on_subject and email == "held@example.com")
        if age < 90 or held_row:  # within its period (P90D), or kept by a hold
            assert i in left, (i, email, age)
        else:
            assert i not in left, (i, email, age)


def test_plan_and_sweep_from_the_command_line(logs: Logs) -> None:
    real_now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    with logs.engine.begin() as connection:
        connection.execute(
            text("INSERT INTO access_log VALUES (:i, NULL, '192.0.2.8', :at)"),
            [
                {"i": 1, "at": (real_now - dt.timedelta(days=100)).replace(tzinfo=None)},
                {"i": 2, "at": (real_now - dt.timedelta(days=10)).replace(tzinfo=None)},
            ],
        )
    env = {"TUTELA_DATA_DIR": str(logs.runtime.settings.data_dir)}
    if logs.runtime.settings.database_url.startswith("postgresql"):
        env["TUTELA_DATABASE_URL"] = logs.runtime.settings.database_url
    runner = CliRunner()
    plan = runner.invoke(cli, ["retention", "plan"], env=env)
    assert plan.exit_code == 0, plan.output
    assert (
        "dataset app_logs.access_log: 1 row(s) to delete, 0 to anonymize "
        "(rule security_logs, then delete)"
    ) in plan.output
    swept = runner.invoke(cli, ["retention", "sweep", "--json"], env=env)
    assert swept.exit_code == 0, swept.output
    assert '"deleted": 1' in swept.output
    assert sorted(logs.rows()) == [2]


def test_an_erasure_exemption_keeps_the_row_with_only_the_exempt_data(
    settings: Settings, app_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text_ = (
        (FIXTURE / "declarations.yml")
        .read_text(encoding="utf-8")
        .replace(
            "    retention:\n      access_log",
            "    erasure:\n      keep:\n        - fields: [access_log.ip]\n"
            "          reason: kept for fraud investigations\n    retention:\n      access_log",
        )
    )
    declarations = _declared(tmp_path, text_)
    for url in _database(tmp_path, app_server, "TIMESTAMP"):
        for logs in _runtime(settings, url, declarations, monkeypatch):
            logs.add([(1, "a@example.com", "192.0.2.77", 120)])
            assert rows_done(logs.sweep()) == {"deleted": 0, "anonymized": 1}
            assert logs.rows() == {1: (None, "192.0.2.77")}  # the email goes, the IP stays
