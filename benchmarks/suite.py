"""The measurements: each Tutela use case beside its raw limit, on fresh SQLite files."""

from __future__ import annotations

import random
import sqlite3
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.harness import Plan, Side, Timing, compare
from benchmarks.raw import EMAIL, USERNAME, RawVault, clone_schema, connect, verify_chains
from benchmarks.results import Group, Row, Target
from tutela.bootstrap import Runtime, initialize, open_runtime
from tutela.domain.audit import AuditEvent
from tutela.services import audit, imports, vault
from tutela.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
DECLARATIONS = ROOT / "examples" / "desktop-vendor.yml"

# Used only when the example declarations are missing from the checkout.
FALLBACK_DECLARATIONS = """\
tutela: 1
organization: {name: Example Software LLC, contact: privacy@example.com, country: DE}
jurisdictions: [gdpr]
languages: [en]
minimum_age: 16
storage: {region: EU}
categories:
  - {key: user.contact.email, identity: true, sensitive: true}
  - {key: user.account.username, identity: true}
  - {key: user.demographic.date_of_birth}
purposes:
  - key: account
    use: essential.service.authentication
    legal_basis: contract
    categories: [user.contact.email, user.account.username, user.demographic.date_of_birth]
    retention: {keep: P3Y, after: account_closed, then: delete}
"""


@dataclass(frozen=True)
class Sizes:
    """How much work each measurement does; ``plan`` sets warm-up and round lengths."""

    import_rows: int  # rows per import_subjects call
    batch_size: int  # rows per transaction inside an import
    chain_entries: int  # audit chain length that verify walks (at least)
    rounds: int
    round_seconds: float
    warmup_ops: int  # single-subject operations before calibration

    def plan(self, warmup_ops: int | None = None) -> Plan:
        return Plan(warmup_ops or self.warmup_ops, self.rounds, self.round_seconds)


DEFAULT = Sizes(
    import_rows=5000,
    batch_size=1000,
    chain_entries=100_000,
    rounds=3,
    round_seconds=0.5,
    warmup_ops=200,
)
QUICK = Sizes(
    import_rows=200,
    batch_size=100,
    chain_entries=2000,
    rounds=1,
    round_seconds=0.05,
    warmup_ops=20,
)


@dataclass(frozen=True)
class Result:
    key: str
    title: str
    unit: str
    work: str
    tutela: Timing
    raw: Timing
    target: float | None  # the Tutela/raw ratio aimed at

    @property
    def ratio(self) -> float:
        return self.tutela.rate / self.raw.rate

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "title": self.title,
            "unit": self.unit,
            "work": self.work,
            "tutela_per_s": round(self.tutela.rate, 1),
            "raw_per_s": round(self.raw.rate, 1),
            "ratio": round(self.ratio, 4),
            "target": self.target,
            "meets_target": None if self.target is None else self.ratio >= self.target,
            "tutela_rounds_per_s": [round(r, 1) for r in self.tutela.rates],
            "raw_rounds_per_s": [round(r, 1) for r in self.raw.rates],
        }

    def row(self) -> Row:
        target = None
        if self.target is not None:
            target = Target("ratio", self.target, f"≥ {self.target:.0%}")
        data = self.as_dict()
        for name in ("key", "title", "unit", "work", "ratio", "target"):
            data.pop(name)
        return Row(
            "vault",
            self.key,
            self.title,
            self.unit,
            self.work,
            self.tutela.rate,
            self.raw.rate,
            f"{self.tutela.rate:,.0f}",
            f"{self.raw.rate:,.0f}",
            target,
            data=data,
        )


def person(n: int) -> dict[str, str]:
    return {EMAIL: f"person{n}@example.com", USERNAME: f"Person {n}"}


@dataclass
class Bench:
    """Both vaults, side by side in one temporary directory, and their subjects so far."""

    runtime: Runtime
    raw: RawVault
    main_db: Path
    sizes: Sizes
    tutela_subjects: list[tuple[str, str]] = field(default_factory=list)  # (id, email)
    raw_subjects: list[tuple[str, str]] = field(default_factory=list)
    counters: dict[str, int] = field(default_factory=lambda: {"tutela": 0, "raw": 0})

    def people(self, side: str, count: int) -> list[dict[str, str]]:
        start = self.counters[side]
        self.counters[side] = start + count
        return [person(n) for n in range(start, start + count)]

    def sample(self, subjects: list[tuple[str, str]], count: int) -> list[tuple[str, str]]:
        rng = random.Random(count)
        return [subjects[rng.randrange(len(subjects))] for _ in range(count)]


def _sqlite_path(url: str) -> Path:
    return Path(url.removeprefix("sqlite:///"))


@contextmanager
def bench(sizes: Sizes) -> Iterator[Bench]:
    with tempfile.TemporaryDirectory(prefix="tutela-bench-") as tmp:
        root = Path(tmp)
        settings = Settings.from_env(env={}, data_dir=root / "tutela")
        declarations = DECLARATIONS
        if not declarations.exists():
            declarations = root / "declarations.yml"
            declarations.write_text(FALLBACK_DECLARATIONS)
        initialize(settings, declarations)
        runtime = open_runtime(settings)
        main_db = _sqlite_path(settings.database_url)
        clone_schema(main_db, root / "raw.db", copy_tables=("tenants",))
        clone_schema(_sqlite_path(settings.keystore_url), root / "raw-keys.db")
        who = runtime.operator()
        raw = RawVault(root / "raw.db", root / "raw-keys.db", who.tenant_id, who.actor)
        try:
            yield Bench(runtime, raw, main_db, sizes)
        finally:
            raw.close()
            runtime.close()


# -- the measurements --------------------------------------------------------------------


def registrations(b: Bench) -> Result:
    ctx, who, raw = b.runtime.ctx, b.runtime.operator(), b.raw

    def tutela_run(rows: list[dict[str, str]]) -> int:
        for row in rows:
            b.tutela_subjects.append((vault.register(ctx, who, row).id, row[EMAIL]))
        return len(rows)

    def raw_run(rows: list[dict[str, str]]) -> int:
        for row in rows:
            b.raw_subjects.append((raw.register(row), row[EMAIL]))
        return len(rows)

    timings = compare(
        {
            "tutela": Side(lambda n: b.people("tutela", n), tutela_run),
            "raw": Side(lambda n: b.people("raw", n), raw_run),
        },
        b.sizes.plan(),
    )
    return Result(
        "registrations",
        "Subject registrations",
        "subjects/s",
        "email + username, one transaction each",
        timings["tutela"],
        timings["raw"],
        0.25,
    )


def batch_import(b: Bench) -> Result:
    ctx, who, raw = b.runtime.ctx, b.runtime.operator(), b.raw
    rows, batch = b.sizes.import_rows, b.sizes.batch_size

    def tutela_run(calls: list[list[dict[str, str]]]) -> int:
        for data in calls:
            ids = imports.import_subjects(ctx, who, data, batch_size=batch).ids
            b.tutela_subjects += [(sid, row[EMAIL]) for sid, row in zip(ids, data, strict=True)]
        return sum(len(c) for c in calls)

    def raw_run(calls: list[list[dict[str, str]]]) -> int:
        for data in calls:
            ids = raw.import_rows(data, batch)
            b.raw_subjects += [(sid, row[EMAIL]) for sid, row in zip(ids, data, strict=True)]
        return sum(len(c) for c in calls)

    timings = compare(
        {
            "tutela": Side(lambda n: [b.people("tutela", rows) for _ in range(n)], tutela_run),
            "raw": Side(lambda n: [b.people("raw", rows) for _ in range(n)], raw_run),
        },
        b.sizes.plan(warmup_ops=1),
    )
    return Result(
        "import",
        "Batch import",
        "rows/s",
        f"{rows:,} rows per call, {batch:,} per transaction",
        timings["tutela"],
        timings["raw"],
        0.50,
    )


def reads(b: Bench) -> Result:
    ctx, who, raw = b.runtime.ctx, b.runtime.operator(), b.raw

    def tutela_run(picked: list[tuple[str, str]]) -> int:
        for sid, _ in picked:
            vault.read(ctx, who, sid)
        return len(picked)

    def raw_run(picked: list[tuple[str, str]]) -> int:
        for sid, _ in picked:
            raw.read(sid)
        return len(picked)

    timings = compare(
        {
            "tutela": Side(lambda n: b.sample(b.tutela_subjects, n), tutela_run),
            "raw": Side(lambda n: b.sample(b.raw_subjects, n), raw_run),
        },
        b.sizes.plan(),
    )
    return Result(
        "reads",
        "Reads with decryption",
        "reads/s",
        f"random of {len(b.tutela_subjects):,} subjects, audited, one transaction each",
        timings["tutela"],
        timings["raw"],
        None,
    )


def lookups(b: Bench) -> Result:
    ctx, who, raw = b.runtime.ctx, b.runtime.operator(), b.raw

    def tutela_run(picked: list[tuple[str, str]]) -> int:
        for _, email in picked:
            vault.find(ctx, who, "email", email)
        return len(picked)

    def raw_run(picked: list[tuple[str, str]]) -> int:
        for _, email in picked:
            raw.find_email(email)
        return len(picked)

    timings = compare(
        {
            "tutela": Side(lambda n: b.sample(b.tutela_subjects, n), tutela_run),
            "raw": Side(lambda n: b.sample(b.raw_subjects, n), raw_run),
        },
        b.sizes.plan(),
    )
    return Result(
        "lookups",
        "Lookups by email",
        "lookups/s",
        "blind index + audited read",
        timings["tutela"],
        timings["raw"],
        None,
    )


def _grow_chain(b: Bench, entries: int) -> None:
    """Append audit entries (through Tutela's own audit log) until the chain is long enough."""
    ctx, who = b.runtime.ctx, b.runtime.operator()
    missing = entries - audit.count_entries(ctx)
    rng = random.Random(entries)
    while missing > 0:
        step = min(missing, 5000)
        now = ctx.clock()
        events = [
            AuditEvent(
                "subject.read",
                who.actor,
                who.tenant_id,
                b.tutela_subjects[rng.randrange(len(b.tutela_subjects))][0],
                [EMAIL, USERNAME],
            )
            for _ in range(step)
        ]
        with ctx.uow() as uow:
            uow.audit.append_many(events, now)
            uow.commit()
        missing -= step


def audit_verify(b: Bench) -> Result:
    ctx, who = b.runtime.ctx, b.runtime.operator()
    _grow_chain(b, b.sizes.chain_entries)
    seal_key = b.runtime.ring.index_key("_audit", "head-seal")
    con: sqlite3.Connection = connect(b.main_db)

    def tutela_run(passes: int) -> int:
        total = 0
        for _ in range(passes):
            result = audit.verify(ctx, who)
            if not result.ok:
                raise AssertionError(f"the audit chain does not verify: {result.problems}")
            total += result.entries
        return total

    def raw_run(passes: int) -> int:
        return sum(verify_chains(con, seal_key) for _ in range(passes))

    try:
        timings = compare(
            {"tutela": Side(int, tutela_run), "raw": Side(int, raw_run)},
            b.sizes.plan(warmup_ops=1),
        )
        entries = audit.count_entries(ctx)
    finally:
        con.close()
    return Result(
        "verify",
        "Audit verify",
        "entries/s",
        f"all chains, {entries:,} entries, same database",
        timings["tutela"],
        timings["raw"],
        0.50,
    )


MEASUREMENTS: list[Callable[[Bench], Result]] = [
    registrations,
    batch_import,
    reads,
    lookups,
    audit_verify,
]


def run(sizes: Sizes, progress: Callable[[str], None] = lambda _: None) -> list[Result]:
    results: list[Result] = []
    with bench(sizes) as b:
        for measure in MEASUREMENTS:
            progress(measure.__name__.replace("_", " "))
            results.append(measure(b))
    return results


def run_group(sizes: Sizes, progress: Callable[[str], None] = lambda _: None) -> Group:
    """The vault measurements as one group of the table."""
    results = run(sizes, progress)
    return Group(
        "vault",
        f"median of {sizes.rounds} round(s); both sides do the same work per round, "
        f"~{sizes.round_seconds:g} s on the slower side",
        [r.row() for r in results],
        {"rounds": sizes.rounds, "round_seconds": sizes.round_seconds},
    )
