"""Data-subject requests on the application's own database: access and erasure on a shop.

For each backend (SQLite always; PostgreSQL when a URL is given) and each size, a shop
database shaped like the Fides sample shop is generated (``shop``), with the indexes a user
should have. Tutela's side is the ``SqlConnector`` exactly as the request runner gets and
uses it: opened by ``open_sql_connectors`` from ``examples/fides-shop/tutela.yaml`` (its
dataset file unchanged, the URL in ``SHOP_DATABASE_URL``), one connector reused for every
request, its tables reflected before any clock starts; an access request is
``connector.access({"email": …}).as_json()``, an erasure ``connector.erase({"email": …})``
and the summary the runner stores. The raw side is the same traversal and the same erasure
written by hand on the bare driver (``shop_raw``).

Before anything is timed, both sides are checked against each other: the rows an access
returns (every declared column) on a set of customers of every shape, and for erasure,
every column of every row the subject reaches after the raw side's transaction (then rolled
back) and after Tutela's, plus the rows deleted and updated per table. After the timed
erasures, erased customers are found by neither side.

Timing: warm-up requests on both sides, then one request at a time alternating the sides
(random customers; each erasure on a customer of its own), ``perf_counter`` around each.
The figures are p50 and p95 per request, in milliseconds.
"""

from __future__ import annotations

import random
import secrets
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from sqlalchemy import event

from benchmarks import shop
from benchmarks.results import Extra, Group, Row, Target
from benchmarks.shop_raw import FIELDS, RawShop, Rows
from tutela.adapters.connectors import open_sql_connectors
from tutela.adapters.connectors.sql import SqlConnector
from tutela.datasets.ports import AbstractConnector
from tutela.declarations.loading import load_declarations

ROOT = Path(__file__).resolve().parent.parent
DECLARATIONS = ROOT / "examples" / "fides-shop" / "tutela.yaml"

RATIO_TARGET = 1.5
CAP_MS = 1000.0
#: The sizes the growth table steps through, up to the size asked for.
GROWTH = (10_000, 100_000, 1_000_000, 10_000_000)
#: Customers of every shape (see ``shop``): 3 gives a gift to 4's address, 44 receives one
#: from 43 and has no order, 5/6/102 have 1/2/2 orders, 8/12/100 none, 12 and 102 have an
#: alternative email on their service request, 100 has a report. No two are neighbours.
VERIFY = (3, 5, 6, 8, 12, 44, 100, 102)
ACCESS_CHECKS = 24  # random customers whose access is compared besides VERIFY


@dataclass(frozen=True)
class Sizes:
    customers: tuple[int, ...]  # generated and measured in turn; the table shows the last
    access: int  # timed access requests per side and size
    erasure: int  # timed erasure requests per side and size
    warmup: int  # untimed access requests per side (and a quarter as many erasures)


DEFAULT = Sizes((10_000,), access=400, erasure=200, warmup=20)
QUICK = Sizes((2_000,), access=60, erasure=30, warmup=8)


def growth(customers: int, base: Sizes = DEFAULT) -> Sizes:
    """Every step of ``GROWTH`` below ``customers``, then ``customers`` itself."""
    steps = (*(s for s in GROWTH if s < customers), customers)
    return replace(base, customers=steps)


# -- measuring ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Latency:
    p50: float  # ms
    p95: float
    mean: float
    count: int

    @classmethod
    def of(cls, seconds: list[float]) -> Latency:
        ms = sorted(s * 1000 for s in seconds)
        p95 = statistics.quantiles(ms, n=20, method="inclusive")[18] if len(ms) > 1 else ms[0]
        return cls(statistics.median(ms), p95, statistics.fmean(ms), len(ms))

    def text(self) -> str:
        return f"p50 {_ms(self.p50)}\np95 {_ms(self.p95)}"

    def as_dict(self) -> dict[str, float]:
        return {
            "p50_ms": round(self.p50, 4),
            "p95_ms": round(self.p95, 4),
            "mean_ms": round(self.mean, 4),
            "requests": self.count,
        }


def _ms(value: float) -> str:
    return f"{value:.2f}" if value < 100 else f"{value:,.0f}"


@dataclass(frozen=True)
class Measured:
    generated: shop.Generated
    access: tuple[Latency, Latency]  # Tutela, raw
    erasure: tuple[Latency, Latency]
    statements: dict[str, tuple[int, int]]  # access / erasure: Tutela, raw
    checked: tuple[int, int]  # customers whose access / erasure were compared
    load: tuple[float | None, float | None]  # 1-minute load average before and after

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.generated.as_dict(),
            "access": {"tutela": self.access[0].as_dict(), "raw": self.access[1].as_dict()},
            "erasure": {"tutela": self.erasure[0].as_dict(), "raw": self.erasure[1].as_dict()},
            "statements_per_request": {
                kind: {"tutela": t, "raw": r} for kind, (t, r) in self.statements.items()
            },
            "compared_access_customers": self.checked[0],
            "compared_erasure_customers": self.checked[1],
            "load_average_1min": list(self.load),
        }


def load_average() -> float | None:
    try:
        with open("/proc/loadavg") as file:
            return float(file.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def open_connector(url: str) -> SqlConnector:
    """The shop's connector as the request runner opens it (``bootstrap``'s factory)."""
    declarations = load_declarations(DECLARATIONS)
    (entry,) = [e for e in declarations.datasets if not e.is_http]
    taxonomy = declarations.taxonomy
    parents = {e.key: e.parent for e in taxonomy.categories} if taxonomy else {}
    connectors = open_sql_connectors(
        entry,
        base_dir=DECLARATIONS.parent,
        environ={"SHOP_DATABASE_URL": url},
        parents=parents,
        hash_key=secrets.token_bytes(32),
    )
    (connector,) = connectors
    return connector


def tutela_access(connector: AbstractConnector, email: str) -> dict[str, Any]:
    """What ``request_runner.dataset_access`` does per connector."""
    return connector.access({"email": email}).as_json()


def tutela_erasure(connector: AbstractConnector, email: str) -> dict[str, Any]:
    """What ``request_runner.dataset_erasure`` does per connector."""
    result = connector.erase({"email": email})
    return {
        c.collection: {
            "reached": c.reached,
            "deleted": c.deleted,
            "updated": c.updated,
            "kept": [
                {"field": k.field, "reason": k.reason, "rows": k.rows, "until": k.until}
                for k in c.kept
            ],
        }
        for c in result.collections
    }


def _found(connector: SqlConnector, email: str) -> Rows:
    """Tutela's access as rows of the declared columns, in the raw side's column order."""
    result = connector.access({"email": email})
    out: Rows = {}
    for table, rows in result.collections.items():
        for row in rows:
            if set(row) != set(FIELDS[table]):
                raise AssertionError(f"{table}: Tutela returned {sorted(row)}")
        if rows:
            out[table] = sorted(
                (tuple(row[f].value for f in FIELDS[table]) for row in rows), key=repr
            )
    return out


def _sorted(rows: Rows) -> Rows:
    return {table: sorted(found, key=repr) for table, found in rows.items()}


def _end_read(raw: RawShop) -> None:
    if raw.kind == "postgres":
        raw.rollback()


@contextmanager
def _counting(connector: SqlConnector) -> Iterator[list[str]]:
    """Statements the connector sends (transaction control left out)."""
    sent: list[str] = []

    def listen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if not statement.lstrip().upper().startswith(("BEGIN", "COMMIT", "ROLLBACK")):
            sent.append(statement)

    event.listen(connector.engine, "before_cursor_execute", listen)
    try:
        yield sent
    finally:
        event.remove(connector.engine, "before_cursor_execute", listen)


def verify(
    connector: SqlConnector, raw: RawShop, customers: int, rng: random.Random
) -> tuple[tuple[int, int], dict[str, tuple[int, int]]]:
    """Compare both sides (see the module's docstring); statements per request."""
    shapes = [c for c in VERIFY if c <= customers]
    sample = [c for c in rng.sample(range(1, customers + 1), ACCESS_CHECKS) if c not in shapes]
    for number in shapes + sample:
        email = shop.email(number)
        got, wanted = _found(connector, email), _sorted(raw.access(email))
        if got != wanted:
            raise AssertionError(f"access for {email}: Tutela {got} != raw {wanted}")
    statements: dict[str, tuple[int, int]] = {}
    email = shop.email(shapes[0])
    before = raw.statements
    raw.access(email)
    with _counting(connector) as sent:
        tutela_access(connector, email)
    statements["access"] = (len(sent), raw.statements - before)
    for index, number in enumerate(shapes):
        email = shop.email(number)
        reached = raw.access(email)
        original = raw.snapshot(email, reached)
        _end_read(raw)
        before = raw.statements
        raw_counts = raw.erase(email, commit=False)
        raw_sent = raw.statements - before
        by_raw = raw.snapshot(email, reached)
        raw.rollback()
        if raw.snapshot(email, reached) != original:
            raise AssertionError("the raw erasure was not rolled back")
        _end_read(raw)
        with _counting(connector) as sent:
            result = connector.erase({"email": email})
        if index == 0:
            statements["erasure"] = (len(sent), raw_sent)
        by_tutela = raw.snapshot(email, reached)
        _end_read(raw)
        if by_tutela != by_raw:
            raise AssertionError(f"erasure of {email}: Tutela left {by_tutela}, raw {by_raw}")
        counts = {c.collection: (c.deleted, c.updated) for c in result.collections}
        counts = {table: pair for table, pair in counts.items() if pair != (0, 0)}
        if counts != raw_counts:
            raise AssertionError(f"erasure of {email}: Tutela {counts} != raw {raw_counts}")
        if connector.access({"email": email}).row_count or raw.access(email):
            raise AssertionError(f"{email} is still found after erasure")
    return (len(shapes) + len(sample), len(shapes)), statements


def _alternate(
    tutela: Callable[[str], object],
    raw: Callable[[str], object],
    targets: list[tuple[str, str]],
) -> tuple[list[float], list[float]]:
    """One request per side per step, alternating which goes first."""
    clock = time.perf_counter
    spent_t: list[float] = []
    spent_r: list[float] = []
    for step, (for_tutela, for_raw) in enumerate(targets):
        order = ((tutela, for_tutela, spent_t), (raw, for_raw, spent_r))
        for side, email, spent in order if step % 2 == 0 else reversed(order):
            began = clock()
            side(email)
            spent.append(clock() - began)
    return spent_t, spent_r


def measure(
    generated: shop.Generated, raw: RawShop, sizes: Sizes, progress: Callable[[str], None]
) -> Measured:
    customers = generated.customers
    rng = random.Random(customers)
    connector = open_connector(generated.url)
    try:
        load_before = load_average()
        label = f"{generated.backend}, {customers:,} customers"
        progress(f"{label}: warm-up and checks")
        erased = set(VERIFY) | {c + 1 for c in VERIFY}  # VERIFY's neighbours: left alone
        warm = max(1, sizes.warmup // 4)
        wanted = 2 * (sizes.erasure + warm)
        picks = [
            c
            for c in rng.sample(range(1, customers + 1), min(customers, wanted + len(erased)))
            if c not in erased
        ][:wanted]
        if len(picks) < wanted:
            raise ValueError(f"{customers:,} customers are too few for {wanted} erasures")
        for number in rng.sample(range(1, customers + 1), sizes.warmup):
            tutela_access(connector, shop.email(number))
            raw.access(shop.email(number))
        checked, statements = verify(connector, raw, customers, rng)
        for number in picks[:warm]:
            tutela_erasure(connector, shop.email(number))
        for number in picks[warm : 2 * warm]:
            raw.erase(shop.email(number))
        erased.update(picks[: 2 * warm])
        picks = picks[2 * warm :]

        def present() -> str:
            while (number := rng.randint(1, customers)) in erased:
                pass
            return shop.email(number)

        progress(f"{label}: access requests")
        pairs = [(present(), present()) for _ in range(sizes.access)]
        spent = _alternate(lambda e: tutela_access(connector, e), raw.access, pairs)
        access = (Latency.of(spent[0]), Latency.of(spent[1]))
        progress(f"{label}: erasure requests")
        ours, theirs = picks[: sizes.erasure], picks[sizes.erasure : 2 * sizes.erasure]
        pairs = [(shop.email(a), shop.email(b)) for a, b in zip(ours, theirs, strict=True)]
        spent = _alternate(lambda e: tutela_erasure(connector, e), raw.erase, pairs)
        erasure = (Latency.of(spent[0]), Latency.of(spent[1]))
        for a, b in pairs[:5]:
            for email in (a, b):
                if connector.access({"email": email}).row_count or raw.access(email):
                    raise AssertionError(f"{email} is still found after erasure")
        return Measured(
            generated,
            access,
            erasure,
            statements,
            checked,
            (load_before, load_average()),
        )
    finally:
        connector.close()


# -- backends -------------------------------------------------------------------------------


def run_sqlite(sizes: Sizes, progress: Callable[[str], None]) -> list[Measured]:
    out = []
    for customers in sizes.customers:
        with tempfile.TemporaryDirectory(prefix="tutela-bench-shop-") as tmp:
            progress(f"SQLite, {customers:,} customers: generating")
            generated = shop.generate_sqlite(Path(tmp) / "shop.db", customers)
            assert generated.path is not None
            raw = RawShop.sqlite(generated.path)
            try:
                out.append(measure(generated, raw, sizes, progress))
            finally:
                raw.close()
    return out


def run_postgres(
    url: str, sizes: Sizes, progress: Callable[[str], None]
) -> tuple[list[Measured], dict[str, str]]:
    out = []
    server: dict[str, str] = {}
    for customers in sizes.customers:
        progress(f"PostgreSQL, {customers:,} customers: generating")
        with shop.postgres(url, customers, f"_{customers}") as generated:
            raw = RawShop.postgres(shop.libpq_url(generated.url))
            try:
                if not server:
                    for name in ("server_version", "fsync", "synchronous_commit"):
                        value = str(raw.connection.execute(f"SHOW {name}").fetchone()[0])
                        server[name] = value.split(" ", maxsplit=1)[0]
                    raw.rollback()
                out.append(measure(generated, raw, sizes, progress))
            finally:
                raw.close()
    return out, server


# -- the group ------------------------------------------------------------------------------


def _row(kind: str, m: Measured, work: str, statements: tuple[int, int]) -> Row:
    tutela, raw = m.access if kind == "access" else m.erasure
    title = "Access request" if kind == "access" else "Erasure request"
    return Row(
        "requests",
        f"{kind}_{m.generated.backend.lower()}",
        f"{title}, {m.generated.backend} ({m.generated.customers:,} customers)",
        "ms/request",
        f"{work}; statements per request (a customer with orders): Tutela {statements[0]}, "
        f"raw {statements[1]}",
        tutela.p50,
        raw.p50,
        tutela.text(),
        raw.text(),
        Target(
            "ratio_at_most",
            RATIO_TARGET,
            f"p50 ≤ {RATIO_TARGET:g} × raw, p95 < {CAP_MS / 1000:g} s",
            cap=CAP_MS,
        ),
        lower_is_better=True,
        data={"tutela_latency": tutela.as_dict(), "raw_latency": raw.as_dict()},
        worst=tutela.p95,
    )


ACCESS_WORK = (
    "connector.access({{'email': …}}).as_json() on the connector the request runner opens from "
    "examples/fides-shop/tutela.yaml (reused, tables reflected), {n} random customers, one "
    "request at a time alternating with the raw side; raw = the same traversal by hand on "
    "{driver} (look-ups by email, then IN lists of ids)"
)
ERASURE_WORK = (
    "connector.erase({{'email': …}}) and the runner's summary, {n} customers each side (each "
    "erased once), alternating; raw = hand-written DELETE/UPDATE children first in one "
    "transaction on {driver}, same outcome (checked row by row on {v} customers before timing)"
)


def _growth_table(measured: list[Measured]) -> Extra:
    columns = (
        "database",
        "customers",
        "rows",
        "generated in",
        "access p50, Tutela / raw",
        "erasure p50, Tutela / raw",
        "load (1 min)",
    )
    rows: list[tuple[str, ...]] = []
    for m in measured:
        g = m.generated
        phases = " + ".join(f"{g.seconds[k]:.1f}" for k in ("rows", "indexes", "analyze"))
        cells = [
            f"{_ms(t.p50)} / {_ms(r.p50)} ms\n{t.p50 / r.p50:.1f} ×"
            for t, r in (m.access, m.erasure)
        ]
        load = " → ".join("?" if x is None else f"{x:.1f}" for x in m.load)
        rows.append(
            (
                g.backend,
                f"{g.customers:,}",
                f"{g.total_rows:,}",
                f"{g.total_seconds:.1f} s\n({phases})",
                *cells,
                load,
            )
        )
    return Extra(
        "Per database: generation (rows + indexes + statistics, s) and p50 per request",
        columns,
        rows,
        [m.as_dict() for m in measured],
    )


def _growth_notes(measured: list[Measured]) -> list[str]:
    notes = []
    for backend in dict.fromkeys(m.generated.backend for m in measured):
        series = [m for m in measured if m.generated.backend == backend]
        if len(series) < 2:
            continue
        first, last = series[0], series[-1]
        parts = []
        for kind, pick in (("access", 0), ("erasure", 1)):
            before = (first.access, first.erasure)[pick]
            after = (last.access, last.erasure)[pick]
            parts.append(
                f"{kind} p50 × {after[0].p50 / before[0].p50:.2f} for Tutela, "
                f"× {after[1].p50 / before[1].p50:.2f} raw"
            )
        notes.append(
            f"Growth on {backend} from {first.generated.customers:,} to "
            f"{last.generated.customers:,} customers: " + "; ".join(parts) + "."
        )
    return notes


def run_group(
    sizes: Sizes, postgres_url: str | None = None, progress: Callable[[str], None] = lambda _: None
) -> Group:
    if not DECLARATIONS.exists():
        raise FileNotFoundError(f"the request benchmarks need {DECLARATIONS}")
    measured = run_sqlite(sizes, progress)
    server: dict[str, str] = {}
    if postgres_url:
        found, server = run_postgres(postgres_url, sizes, progress)
        measured += found
    rows: list[Row] = []
    largest = sizes.customers[-1]
    for m in measured:
        if m.generated.customers != largest:
            continue
        driver = "sqlite3" if m.generated.backend == "SQLite" else "psycopg"
        access_n = m.access[0].count
        rows.append(
            _row(
                "access",
                m,
                ACCESS_WORK.format(n=access_n, driver=driver),
                m.statements["access"],
            )
        )
        rows.append(
            _row(
                "erasure",
                m,
                ERASURE_WORK.format(n=m.erasure[0].count, driver=driver, v=m.checked[1]),
                m.statements["erasure"],
            )
        )
    notes = _growth_notes(measured)
    if server:
        notes.append(
            f"PostgreSQL {server['server_version']} (fsync={server['fsync']}, "
            f"synchronous_commit={server['synchronous_commit']}), the shop in a schema of its "
            "own, dropped afterwards; Tutela's engine does not ping the server before using a "
            "pooled connection (one the server dropped is replaced and the request retried)."
        )
    else:
        notes.append(
            "PostgreSQL not measured: set TUTELA_TEST_DATABASE_URL or pass --postgres URL."
        )
    indexes = ", ".join(f"{t}.{c}" for t, c in shop.INDEXES)
    notes.append(f"Indexes created on every database: {indexes}.")
    backends = ["SQLite"] + (["PostgreSQL"] if postgres_url else [])
    return Group(
        "requests",
        f"access and erasure on a generated shop ({', '.join(f'{n:,}' for n in sizes.customers)}"
        f" customers; {' and '.join(backends)}), p50/p95 per request beside hand-written SQL",
        rows,
        {
            "customers": list(sizes.customers),
            "access_requests": sizes.access,
            "erasure_requests": sizes.erasure,
            "backends": backends,
            "postgres": server,
        },
        notes,
        [_growth_table(measured)],
    )
