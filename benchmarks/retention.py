"""Retention sweeps: expired vault records and expired dataset rows, beside the raw limit.

For each backend (SQLite always; PostgreSQL when a URL is given) and each size (a tenth of
the largest, then the largest), the data is generated (``retention_data``): a vault of
subjects whose every rule has ended, and an application's access log whose old rows have.
Tutela's side is ``tutela.services.retention.run(ctx, who, apply=True)`` on a runtime opened
from the data directory, exactly as ``tutela retention sweep`` runs it; the raw side is the
same deletions written by hand (``retention_raw``). Both sides sweep identical data (an
SQLite vault is copied, everything else is generated twice), each in a process of its own
(``retention_sides``), so that its peak resident memory is its own: the figure shows whether
memory stays flat as the volume grows tenfold. Opening the runtime and reflecting the tables
happen before the clock starts. Afterwards both outcomes are checked: every subject erased,
no field, lookup or key left; every expired row gone and every recent row still there.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

from benchmarks import retention_data as data
from benchmarks.results import Extra, Group, Row, Target
from benchmarks.retention_raw import DATASET_BATCH, VAULT_BATCH

TARGET = 0.5


@dataclass(frozen=True)
class Sizes:
    subjects: tuple[int, ...]  # vault sizes, measured in turn; the last is the headline
    rows: tuple[int, ...]  # expired dataset rows


DEFAULT = Sizes((100_000, 1_000_000), (100_000, 1_000_000))
QUICK = Sizes((1_000, 10_000), (5_000, 50_000))


def scaled(size: int, base: Sizes = DEFAULT) -> Sizes:
    """A tenth of ``size``, then ``size``, for both the vault and the dataset."""
    return replace(base, subjects=(max(1, size // 10), size), rows=(max(1, size // 10), size))


@dataclass(frozen=True)
class Measure:
    items: int
    seconds: float
    peak_rss: int  # bytes

    @property
    def rate(self) -> float:
        return self.items / self.seconds if self.seconds else 0.0


def _apart(side: str, *args: Any) -> Measure:
    """Run one side in a fresh interpreter (``retention_sides``): its peak memory is its own."""
    root = Path(__file__).resolve().parent.parent
    path = os.environ.get("PYTHONPATH", "")
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.retention_sides", side, json.dumps(args)],
        cwd=root,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(root), path]))},
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode:
        raise RuntimeError(f"{side} failed: {done.stderr.strip()[-2000:]}")
    found = json.loads(done.stdout)
    return Measure(int(found["items"]), float(found["seconds"]), int(found["peak_rss"]))


# -- checks ---------------------------------------------------------------------------------


def _check_vault(made: data.Made) -> None:
    engine = create_engine(made.settings.database_url)
    keys = create_engine(made.settings.keystore_url)
    try:
        with engine.connect() as connection:
            left = {
                table: int(connection.execute(text(query)).scalar() or 0)
                for table, query in (
                    ("subjects", "SELECT count(*) FROM subjects WHERE status <> 'erased'"),
                    ("subject_fields", "SELECT count(*) FROM subject_fields"),
                    ("subject_lookups", "SELECT count(*) FROM subject_lookups"),
                )
            }
        with keys.connect() as connection:
            left["keys"] = int(
                connection.execute(text("SELECT count(*) FROM subject_keys")).scalar() or 0
            )
    finally:
        engine.dispose()
        keys.dispose()
    if any(left.values()):
        raise AssertionError(f"the vault sweep left {left}")


def _check_logs(made: data.Made) -> None:
    total, expired = data.logs_left(made.url)
    recent = max(1, made.size // 10)
    if (total, expired) != (recent, 0):
        raise AssertionError(f"the dataset sweep left {total} rows, {expired} of them expired")


# -- measuring ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pair:
    backend: str
    what: str  # vault | dataset
    size: int
    tutela: Measure
    raw: Measure
    generated: float  # seconds spent generating both copies

    def as_dict(self) -> dict[str, Any]:
        return {
            "backend": self.backend,
            "what": self.what,
            "size": self.size,
            "tutela_per_s": round(self.tutela.rate, 1),
            "raw_per_s": round(self.raw.rate, 1),
            "ratio": round(self.tutela.rate / self.raw.rate, 4) if self.raw.rate else None,
            "tutela_seconds": round(self.tutela.seconds, 3),
            "raw_seconds": round(self.raw.seconds, 3),
            "tutela_peak_rss_mb": round(self.tutela.peak_rss / 2**20, 1),
            "raw_peak_rss_mb": round(self.raw.peak_rss / 2**20, 1),
            "generated_s": round(self.generated, 1),
        }


def _vault(base: Path, size: int, url: str | None, raw_first: bool) -> Pair:
    backend = "postgres" if url else "sqlite"
    began = time.perf_counter()
    first = data.make_vault(base / f"vault-{backend}-{size}-t", size, url)
    second = (
        data.make_vault(base / f"vault-{backend}-{size}-r", size, url)
        if url
        else data.copy_vault(first, base / f"vault-{backend}-{size}-r")
    )
    generated = time.perf_counter() - began
    try:
        runs: dict[str, Measure] = {}
        for side in ("raw", "tutela") if raw_first else ("tutela", "raw"):
            if side == "raw":
                runs[side] = _apart(
                    "raw_vault", second.settings.database_url, second.settings.keystore_url
                )
                _check_vault(second)
            else:
                runs[side] = _apart(
                    "tutela_vault", str(first.data_dir), first.settings.database_url
                )
                _check_vault(first)
        if runs["tutela"].items != size or runs["raw"].items != size:
            raise AssertionError(f"vault: {runs} for {size} subjects")
        return Pair(backend, "vault", size, runs["tutela"], runs["raw"], generated)
    finally:
        data.drop(first, url)
        data.drop(second, url)


def _dataset(base: Path, size: int, url: str | None, raw_first: bool) -> Pair:
    backend = "postgres" if url else "sqlite"
    began = time.perf_counter()
    first = data.make_logs(base / f"logs-{backend}-{size}-t", size, url)
    second = data.make_logs(base / f"logs-{backend}-{size}-r", size, url)
    generated = time.perf_counter() - began
    cutoff_moment = time.time() - data.KEEP_DAYS * 86400
    try:
        runs: dict[str, Measure] = {}
        for side in ("raw", "tutela") if raw_first else ("tutela", "raw"):
            if side == "raw":
                runs[side] = _apart("raw_dataset", second.url, _cutoff(second, cutoff_moment))
                _check_logs(second)
            else:
                runs[side] = _apart("tutela_dataset", str(first.data_dir / "tutela"), first.url)
                _check_logs(first)
        if runs["tutela"].items != size or runs["raw"].items != size:
            raise AssertionError(f"dataset: {runs} for {size} rows")
        return Pair(backend, "dataset", size, runs["tutela"], runs["raw"], generated)
    finally:
        data.drop(first, url)
        data.drop(second, url)


def _cutoff(made: data.Made, moment: float) -> str:
    import datetime as dt

    utc = dt.datetime.fromtimestamp(moment, tz=dt.UTC).replace(tzinfo=None)
    return utc.isoformat() if made.backend == "postgres" else utc.strftime("%Y-%m-%d %H:%M:%S.%f")


def measure(sizes: Sizes, url: str | None, progress: Callable[[str], None]) -> list[Pair]:
    pairs: list[Pair] = []
    with tempfile.TemporaryDirectory(prefix="tutela-bench-retention-") as scratch:
        base = Path(scratch)
        for postgres in [None, url] if url else [None]:
            label = "PostgreSQL" if postgres else "SQLite"
            for index, size in enumerate(sizes.subjects):
                progress(f"retention, {label}: {size:,} expired vault subjects")
                pairs.append(_vault(base, size, postgres, raw_first=index % 2 == 0))
            for index, size in enumerate(sizes.rows):
                progress(f"retention, {label}: {size:,} expired dataset rows")
                pairs.append(_dataset(base, size, postgres, raw_first=index % 2 == 1))
    return pairs


# -- the table ------------------------------------------------------------------------------

WORK = {
    "vault": (
        "retention.run(apply=True) on a vault of subjects whose every rule ended: fields, "
        f"lookups and status in one transaction per {VAULT_BATCH} subjects with an audit entry "
        "per subject and evidence per rule, keys shredded in the key store; raw: the same "
        "deletions by hand (keyset walk, executemany), no audit"
    ),
    "dataset": (
        "retention.run(apply=True) on an access log (index on the time): DELETE … WHERE id IN "
        f"(SELECT id … WHERE requested_at <= cutoff LIMIT {DATASET_BATCH}) per transaction, "
        "evidence per batch in Tutela's audit log; raw: the same statement by hand"
    ),
}
UNITS = {"vault": "subjects/s", "dataset": "rows/s"}


def _mb(value: int) -> str:
    return f"{value / 2**20:,.0f} MB"


def _row(pair: Pair, smaller: Pair | None) -> Row:
    backend = "PostgreSQL" if pair.backend == "postgres" else "SQLite"
    what = "expired vault subjects" if pair.what == "vault" else "expired dataset rows"
    memory = f"\npeak RSS {_mb(pair.tutela.peak_rss)}"
    raw_memory = f"\npeak RSS {_mb(pair.raw.peak_rss)}"
    if smaller is not None:
        memory += f" ({_mb(smaller.tutela.peak_rss)} at {smaller.size:,})"
        raw_memory += f" ({_mb(smaller.raw.peak_rss)} at {smaller.size:,})"
    return Row(
        group="retention",
        key=f"retention.{pair.what}.{pair.backend}",
        title=f"retention sweep, {pair.size:,} {what}, {backend}",
        unit=UNITS[pair.what],
        work=WORK[pair.what],
        tutela=pair.tutela.rate,
        raw=pair.raw.rate,
        tutela_text=f"{pair.tutela.rate:,.0f} /s" + memory,
        raw_text=f"{pair.raw.rate:,.0f} /s" + raw_memory,
        target=Target("ratio", TARGET, f"≥ {TARGET:.0%}"),
        data={"sizes": [p.as_dict() for p in (smaller, pair) if p is not None]},
    )


def run_group(sizes: Sizes, url: str | None, progress: Callable[[str], None]) -> Group:
    pairs = measure(sizes, url, progress)
    rows: list[Row] = []
    for backend in dict.fromkeys(p.backend for p in pairs):
        for what in ("vault", "dataset"):
            found = [p for p in pairs if p.backend == backend and p.what == what]
            largest = max(found, key=lambda p: p.size)
            smaller = min(found, key=lambda p: p.size) if len(found) > 1 else None
            rows.append(_row(largest, smaller))
    table = Extra(
        title="retention: throughput and peak memory as the volume grows tenfold",
        columns=(
            "backend, data, size",
            "Tutela /s",
            "raw /s",
            "Tutela / raw",
            "Tutela peak RSS",
            "raw peak RSS",
            "generated",
        ),
        rows=[
            (
                f"{p.backend}, {p.what}, {p.size:,}",
                f"{p.tutela.rate:,.0f}",
                f"{p.raw.rate:,.0f}",
                f"{p.tutela.rate / p.raw.rate:.0%}" if p.raw.rate else "—",
                _mb(p.tutela.peak_rss),
                _mb(p.raw.peak_rss),
                f"{p.generated:,.1f} s",
            )
            for p in pairs
        ],
        data=[p.as_dict() for p in pairs],
    )
    return Group(
        "retention",
        "expired vault subjects and dataset rows swept by retention.run, beside the same "
        "deletions by hand, each side in a process of its own on identical data",
        rows,
        settings={"subjects": list(sizes.subjects), "rows": list(sizes.rows)},
        notes=[
            "peak RSS is the whole process's (interpreter and imports included), measured at "
            "a tenth of the volume and at the full volume: flat when the two are close"
        ],
        extras=[table],
    )
