"""Data whose retention has run out: a Tutela vault, and an application's access log.

**The vault** is a data directory made by ``tutela.bootstrap.initialize`` from
``examples/desktop-vendor.yml``, then filled inside the database (one ``INSERT … SELECT`` per
table: a recursive CTE on SQLite, ``generate_series`` on PostgreSQL) with ``n`` subjects of
the default tenant whose accounts were closed twelve years ago. Each has an email address
and a username (random bytes standing in for ciphertexts: a sweep never decrypts them),
their two blind-index lookups, and a wrapped data key in the key store (an SQLite file of
its own, as by default). Every rule of both categories (the account 30 days after closing,
orders 10 years, support 2 years, security logs 90 days after collection) has ended, so a
sweep erases every subject entirely and shreds its key. Subject ids are random, as
``uuid4`` makes them.

**The dataset** is an application's ``access_log`` (id, email, IP address, time of the
request) with ``n`` rows 200 days old — past their 90-day rule — and ``n / 10`` rows younger
than it that stay, in time order, with an index on the time (``tutela check`` advises it).
Its declarations (``LOG_DECLARATIONS``, ``LOG_DATASET``) cover it with
``retention: {access_log: {dated_by: requested_at}}``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from benchmarks.shop import libpq_url, schema_url
from tutela.bootstrap import initialize
from tutela.settings import Argon2Params, Settings

ROOT = Path(__file__).resolve().parent.parent
VAULT_DECLARATIONS = ROOT / "examples" / "desktop-vendor.yml"

MICROS = 1_000_000
DAY = 86400 * MICROS
YEAR = 365 * DAY
#: how long ago the vault's accounts were closed and its fields written
VAULT_AGE = 12 * YEAR
#: how old the dataset's expired rows are (its rule keeps them 90 days)
EXPIRED_DAYS = 200
KEEP_DAYS = 90

FAST_ARGON2 = Argon2Params(memory_kib=1024, time_cost=1, parallelism=1)
LOGS_VARIABLE = "BENCH_LOGS_DATABASE_URL"

LOG_DECLARATIONS = """\
tutela: 1
organization: {name: Example Logs Ltd., contact: privacy@example.com, country: GB}
jurisdictions: [gdpr]
languages: [en]
storage: {region: EU}
categories:
  - {key: user.contact.email, identity: true, description: Account email.}
  - {key: user.device.ip_address, description: Address a request came from.}
purposes:
  - key: security_logs
    use: essential.service.security
    legal_basis: legitimate_interests
    categories: [user.contact.email, user.device.ip_address]
    retention: {keep: P90D, after: collected, then: delete}
datasets:
  - file: logs.yml
    connection: env:BENCH_LOGS_DATABASE_URL
    retention:
      access_log: {dated_by: requested_at}
"""
LOG_DATASET = """\
dataset:
  - fides_key: app_logs
    collections:
      - name: access_log
        fields:
          - {name: id, data_categories: [system.operations], fides_meta: {primary_key: true}}
          - name: email
            data_categories: [user.contact.email]
            fides_meta: {identity: email, data_type: string}
          - {name: ip, data_categories: [user.device.ip_address]}
          - {name: requested_at, data_categories: [system.operations]}
"""


def now_micros() -> int:
    return time.time_ns() // 1000


def settings_for(data_dir: Path, database_url: str | None = None) -> Settings:
    settings = Settings.from_env(env={}, data_dir=data_dir).with_overrides(argon2=FAST_ARGON2)
    if database_url:
        settings = settings.with_overrides(database_url=database_url)
    return settings


@dataclass
class Made:
    """Something generated: where, how much, how long it took."""

    backend: str  # sqlite | postgres
    size: int
    data_dir: Path
    url: str  # the main database (vault) or the application's database (dataset)
    settings: Settings  # of the Tutela data directory that sweeps it
    seconds: float = 0.0
    schemas: list[str] = field(default_factory=list)  # PostgreSQL schemas to drop


# -- the vault ------------------------------------------------------------------------------

_SQLITE_SUBJECTS = """
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :count)
INSERT INTO subjects (tenant_id, id, status, created_at, updated_at, language, closed_at)
SELECT 'default',
       lower(hex(randomblob(4))) || '-' || lower(hex(randomblob(2))) || '-4' ||
       substr(lower(hex(randomblob(2))), 2) || '-a' || substr(lower(hex(randomblob(2))), 2) ||
       '-' || lower(hex(randomblob(6))),
       'closed', :t0 + i, :t0 + i, NULL, :t0 + i
FROM n
"""
_POSTGRES_SUBJECTS = """
INSERT INTO subjects (tenant_id, id, status, created_at, updated_at, language, closed_at)
SELECT 'default', gen_random_uuid()::text, 'closed', :t0 + i, :t0 + i, NULL, :t0 + i
FROM generate_series(1, :count) AS i
"""
_FIELDS = """
INSERT INTO subject_fields (tenant_id, subject_id, category, kind, value, updated_at)
SELECT tenant_id, id, :category, 'e', {random}, created_at FROM subjects
"""
_LOOKUPS = """
INSERT INTO subject_lookups (tenant_id, kind, digest, subject_id)
SELECT tenant_id, :kind, {random}, id FROM subjects
"""
_PG_RANDOM = "decode(md5(random()::text) || md5(id || random()::text), 'hex')"


def make_vault(data_dir: Path, subjects: int, postgres_url: str | None = None) -> Made:
    """A data directory whose ``subjects`` subjects have outlived every rule (see above);
    with ``postgres_url``, its main database is a schema of its own there."""
    began = time.perf_counter()
    schemas: list[str] = []
    database_url = None
    if postgres_url:
        schema = _schema_name("vault", data_dir)
        _create_schema(postgres_url, schema)
        schemas.append(schema)
        database_url = schema_url(postgres_url, schema)
    settings = settings_for(data_dir, database_url)
    initialize(settings, VAULT_DECLARATIONS)
    postgres = database_url is not None
    t0 = now_micros() - VAULT_AGE
    engine = create_engine(settings.database_url)
    ids: list[str] | None = None
    with engine.begin() as connection:
        connection.execute(
            text(_POSTGRES_SUBJECTS if postgres else _SQLITE_SUBJECTS),
            {"count": subjects, "t0": t0},
        )
        for category in ("user.contact.email", "user.account.username"):
            random = _PG_RANDOM if postgres else "randomblob(60)"
            connection.execute(text(_FIELDS.format(random=random)), {"category": category})
        for kind in ("email", "user.account.username"):
            random = _PG_RANDOM if postgres else "randomblob(32)"
            connection.execute(text(_LOOKUPS.format(random=random)), {"kind": kind})
        if postgres:
            ids = [str(r[0]) for r in connection.execute(text("SELECT id FROM subjects"))]
    with engine.connect() as connection:
        connection.execution_options(isolation_level="AUTOCOMMIT")
        for table in ("subjects", "subject_fields", "subject_lookups"):
            connection.execute(text(f"{'VACUUM ' if postgres else ''}ANALYZE {table}"))
    engine.dispose()
    _fill_keys(settings, ids, t0)
    return Made(
        "postgres" if postgres else "sqlite",
        subjects,
        data_dir,
        settings.database_url,
        settings,
        time.perf_counter() - began,
        schemas,
    )


def _fill_keys(settings: Settings, ids: list[str] | None, t0: int) -> None:
    """A wrapped data key per subject in the key store."""
    keys = create_engine(settings.keystore_url)
    with keys.begin() as connection:
        if ids is None:  # both SQLite: copy the ids across
            main = make_url(settings.database_url).database
            connection.exec_driver_sql(f"ATTACH DATABASE '{main}' AS main_db")
            connection.execute(
                text(
                    "INSERT INTO subject_keys (subject_id, tenant_id, kek_version, wrapped, "
                    "created_at) SELECT id, tenant_id, 1, randomblob(60), :t0 "
                    "FROM main_db.subjects"
                ),
                {"t0": t0},
            )
        else:
            statement = text(
                "INSERT INTO subject_keys (subject_id, tenant_id, kek_version, wrapped, "
                "created_at) VALUES (:s, 'default', 1, randomblob(60), :t0)"
            )
            for start in range(0, len(ids), 50_000):
                chunk = ids[start : start + 50_000]
                connection.execute(statement, [{"s": s, "t0": t0} for s in chunk])
    with keys.begin() as connection:
        connection.execute(text("ANALYZE"))
    keys.dispose()


def copy_vault(made: Made, target: Path) -> Made:
    """An identical copy of an SQLite vault, so that both sides sweep the same data."""
    if made.backend != "sqlite":
        raise ValueError("only SQLite vaults are copied; PostgreSQL ones are generated twice")
    shutil.copytree(made.data_dir, target)
    settings = settings_for(target)
    return Made(made.backend, made.size, target, settings.database_url, settings)


# -- the dataset ----------------------------------------------------------------------------

_LOG_TABLE = """CREATE TABLE access_log (
    id {id_type} PRIMARY KEY,
    email VARCHAR(100),
    ip VARCHAR(45),
    requested_at TIMESTAMP
)"""
_SQLITE_LOGS = """
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :count)
INSERT INTO access_log (id, email, ip, requested_at)
SELECT :first + i, 'user-' || (i % 50000) || '@example.com',
       '198.51.' || ((i / 256) % 256) || '.' || (i % 256),
       strftime('%Y-%m-%d %H:%M:%f', :start + i * :step, 'unixepoch')
FROM n
"""
_POSTGRES_LOGS = """
INSERT INTO access_log (id, email, ip, requested_at)
SELECT :first + i, 'user-' || (i % 50000) || '@example.com',
       '198.51.' || ((i / 256) % 256) || '.' || (i % 256),
       to_timestamp(:start + i * :step)::timestamp
FROM generate_series(1, :count) AS i
"""


def make_logs(data_dir: Path, rows: int, postgres_url: str | None = None) -> Made:
    """The access log (``rows`` expired rows, a tenth as many recent ones) in a database of
    its own, and a Tutela data directory whose declarations cover it."""
    began = time.perf_counter()
    data_dir.mkdir(parents=True)
    schemas: list[str] = []
    if postgres_url:
        schema = _schema_name("logs", data_dir)
        _create_schema(postgres_url, schema)
        schemas.append(schema)
        url = schema_url(postgres_url, schema)
    else:
        url = f"sqlite:///{data_dir / 'logs.db'}"
    now = time.time()
    expired_end = now - EXPIRED_DAYS * 86400
    recent = max(1, rows // 10)
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text(_LOG_TABLE.format(id_type="BIGINT" if postgres_url else "INTEGER")))
        fill = text(_POSTGRES_LOGS if postgres_url else _SQLITE_LOGS)
        span = 365 * 86400  # the expired rows are spread over the year before EXPIRED_DAYS
        connection.execute(
            fill, {"count": rows, "first": 0, "start": expired_end - span, "step": span / rows}
        )
        window = (KEEP_DAYS - 10) * 86400
        connection.execute(
            fill,
            {"count": recent, "first": rows, "start": now - window, "step": window / recent},
        )
        connection.execute(
            text("CREATE INDEX ix_access_log_requested_at ON access_log (requested_at)")
        )
    with engine.connect() as connection:
        connection.execution_options(isolation_level="AUTOCOMMIT")
        connection.execute(text(("VACUUM " if postgres_url else "") + "ANALYZE access_log"))
    engine.dispose()
    (data_dir / "logs.yml").write_text(LOG_DATASET, encoding="utf-8")
    declarations = data_dir / "declarations.yml"
    declarations.write_text(LOG_DECLARATIONS, encoding="utf-8")
    os.environ[LOGS_VARIABLE] = url
    settings = settings_for(data_dir / "tutela")
    initialize(settings, declarations)
    return Made(
        "postgres" if postgres_url else "sqlite",
        rows,
        data_dir,
        url,
        settings,
        time.perf_counter() - began,
        schemas,
    )


def logs_left(url: str) -> tuple[int, int]:
    """(rows left, rows left that had expired)."""
    cutoff = time.time() - KEEP_DAYS * 86400
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            total = int(connection.execute(text("SELECT count(*) FROM access_log")).scalar() or 0)
            rows = connection.execute(text("SELECT requested_at FROM access_log")).scalars()
            old = 0
            for value in rows:
                moment = value if not isinstance(value, str) else _parse(value)
                if moment.timestamp() <= cutoff:
                    old += 1
        return total, old
    finally:
        engine.dispose()


def _parse(value: str) -> object:
    import datetime as dt

    return dt.datetime.fromisoformat(value).replace(tzinfo=dt.UTC)


def _schema_name(kind: str, data_dir: Path) -> str:
    suffix = "".join(c if c.isalnum() else "_" for c in data_dir.name)
    return f"tutela_bench_{kind}_{os.getpid()}_{suffix}".lower()


def _create_schema(url: str, schema: str) -> None:
    import psycopg

    with psycopg.connect(libpq_url(url), autocommit=True) as admin:
        admin.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        admin.execute(f"CREATE SCHEMA {schema}")


def drop(made: Made, postgres_url: str | None) -> None:
    """Remove what was generated (PostgreSQL schemas and the data directory)."""
    if made.schemas and postgres_url:
        import psycopg

        with psycopg.connect(libpq_url(postgres_url), autocommit=True) as admin:
            for schema in made.schemas:
                admin.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    shutil.rmtree(made.data_dir, ignore_errors=True)


@contextlib.contextmanager
def generated(made: Made, postgres_url: str | None) -> Iterator[Made]:
    try:
        yield made
    finally:
        drop(made, postgres_url)
