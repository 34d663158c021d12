"""The consent measurements: checks in-process and over HTTP, and consent writes.

Everything runs on one data directory, initialised with ``tutela.bootstrap.initialize`` from
``examples/desktop-vendor.yml`` and filled before any clock starts: subjects imported, and a
mix of consent states for the consent-based purpose ``user_counting`` (1/4 none, 1/2
granted, 1/8 refused, 1/8 granted then withdrawn), and 1 % of the subjects erased. Checks
ask about random known subjects, half of them about ``user_counting`` and half about the
contract, legal-obligation and legitimate-interest purposes.

* In-process: ``Tutela.may_process`` and ``DecisionCache.check`` with a warm cache beside a
  bare ``d[(tenant, subject)][purpose]`` on the same decisions, in the same run. Two timings:
  per call (``perf_counter_ns`` around each call; the median cost of the timer pair itself,
  measured in the same run, is subtracted and reported) giving p50 / p99, and batch (a clock
  around each tenth of the calls, minus the same loop with an empty body; the median of the
  tenths) giving the mean.
* HTTP: the production application and a bare Starlette application answering constant JSON
  of the same shape, both under uvicorn with the production settings (see ``serving``),
  loaded by ``wrk`` (or the Python fallback, see ``load``) over 127.0.0.1 with an API key.
  The decision cache of every worker is warmed first (batches of checks over fresh
  connections, then one pass of the load itself), and the answers are compared with the
  in-process decisions before any load.
  The server's CPU time per request (supervisor and workers, from ``/proc``) is reported
  too: it is much less sensitive than req/s to other work on the machine.
* Writes: ``consent.record(..., ["user_counting"], "grant")`` beside ``consent_raw``.
"""

from __future__ import annotations

import json
import os
import random
import statistics
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from benchmarks import load, serving
from benchmarks.apps import BARE_BATCH
from benchmarks.consent_raw import RawConsent, jws_part
from benchmarks.harness import Plan, Side, compare
from benchmarks.raw import EMAIL, USERNAME, clone_schema
from benchmarks.results import Group, Row, Target
from tutela.bootstrap import Runtime, initialize, open_runtime
from tutela.domain.consent import Decision
from tutela.library import Tutela
from tutela.services import consent, imports, tenants, vault
from tutela.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
DECLARATIONS = ROOT / "examples" / "desktop-vendor.yml"
CONSENT_PURPOSE = "user_counting"
OTHER_PURPOSES = ("account", "orders", "support", "session", "security_logs")
TENANT = "default"

P50_TARGET_US = 2.0
HTTP_RATIO_TARGET = 0.50
BATCH_TARGET = 200_000
WRITE_RATIO_TARGET = 0.25


@dataclass(frozen=True)
class Sizes:
    subjects: int
    calls: int  # in-process checks per timing (each side)
    http_seconds: float  # each measured HTTP run
    http_rounds: int  # measured runs per side, alternating the order of the sides
    warm_seconds: float  # the load pass that warms each server before it is measured
    warm_passes: int  # batches of every subject over fresh connections (cache warm-up)
    stock_seconds: float  # the stock-uvicorn run, when its socket loses TCP_NODELAY (0: skip)
    connections: int
    batch: int  # checks per POST
    rounds: int  # consent writes, as in the vault group
    round_seconds: float
    warmup_ops: int


DEFAULT = Sizes(
    subjects=3000,
    calls=200_000,
    http_seconds=3,
    http_rounds=3,
    warm_seconds=1,
    warm_passes=16,
    stock_seconds=2,
    connections=64,
    batch=100,
    rounds=3,
    round_seconds=0.5,
    warmup_ops=100,
)
QUICK = Sizes(
    subjects=400,
    calls=100_000,
    http_seconds=1,
    http_rounds=1,
    warm_seconds=0,
    warm_passes=8,
    stock_seconds=0,
    connections=64,
    batch=100,
    rounds=1,
    round_seconds=0.1,
    warmup_ops=20,
)


# -- the data directory ---------------------------------------------------------------------


@dataclass
class Bench:
    root: Path
    settings: Settings
    runtime: Runtime
    subjects: list[str]  # every subject that is not erased
    erased: list[str]
    sizes: Sizes

    def pairs(self, count: int, seed: int) -> list[tuple[str, str]]:
        """Random (subject, purpose) checks: half ``user_counting``, erased ones included."""
        rng = random.Random(seed)
        everyone = self.subjects + self.erased
        return [
            (
                everyone[rng.randrange(len(everyone))],
                CONSENT_PURPOSE if rng.random() < 0.5 else rng.choice(OTHER_PURPOSES),
            )
            for _ in range(count)
        ]


def _fill(runtime: Runtime, count: int) -> tuple[list[str], list[str]]:
    """Import ``count`` subjects and give them a mix of consent states."""
    ctx, who = runtime.ctx, runtime.operator()
    rows = [{EMAIL: f"user{n}@example.com", USERNAME: f"User {n}"} for n in range(count)]
    ids = imports.import_subjects(ctx, who, rows, batch_size=1000).ids
    erased: list[str] = []
    for n, sid in enumerate(ids):
        kind = n % 8
        if kind in (2, 3, 4, 6, 7):
            consent.record(ctx, who, sid, [CONSENT_PURPOSE], "grant")
        elif kind == 5:
            consent.record(ctx, who, sid, [CONSENT_PURPOSE], "refuse")
        if kind == 6:
            consent.record(ctx, who, sid, [CONSENT_PURPOSE], "withdraw")
        if n % 100 == 99:
            vault.erase(ctx, who, sid, "benchmark")
            erased.append(sid)
    gone = set(erased)
    return [sid for sid in ids if sid not in gone], erased


@contextmanager
def bench(sizes: Sizes) -> Iterator[Bench]:
    if not DECLARATIONS.exists():
        raise FileNotFoundError(
            f"the consent benchmarks need {DECLARATIONS} (purpose user_counting)"
        )
    with tempfile.TemporaryDirectory(prefix="tutela-bench-consent-") as tmp:
        root = Path(tmp)
        settings = Settings.from_env(env={}, data_dir=root / "tutela")
        initialize(settings, DECLARATIONS)
        runtime = open_runtime(settings)
        try:
            subjects, erased = _fill(runtime, sizes.subjects)
            yield Bench(root, settings, runtime, subjects, erased, sizes)
        finally:
            runtime.close()


# -- in-process checks ----------------------------------------------------------------------


@dataclass(frozen=True)
class Latency:
    p50_us: float
    p99_us: float
    mean_us: float  # batch timing

    def text(self) -> str:
        return f"p50 {self.p50_us:.2f}\np99 {self.p99_us:.2f}\nmean {self.mean_us:.2f}"

    def as_dict(self) -> dict[str, float]:
        return {
            "p50_us": round(self.p50_us, 4),
            "p99_us": round(self.p99_us, 4),
            "batch_mean_us": round(self.mean_us, 4),
        }


def _percentile(sorted_ns: Sequence[int], p: float) -> float:
    return float(sorted_ns[min(len(sorted_ns) - 1, int(p / 100 * len(sorted_ns)))])


def _timer_overhead(count: int) -> int:
    """The median of an empty ``perf_counter_ns`` pair, in the loop shape used below."""
    clock = time.perf_counter_ns
    samples = [0] * count
    for i in range(count):
        began = clock()
        samples[i] = clock() - began
    return int(statistics.median(samples))


CHUNKS = 10  # the batch timing: the median over this many slices of the calls


def _empty_loop_ns(chunk: Sequence[tuple[str, str]]) -> int:
    clock = time.perf_counter_ns
    spent = []
    for _ in range(3):
        began = clock()
        for _subject, _purpose in chunk:
            pass
        spent.append(clock() - began)
    return min(spent)


def _batch_mean_us(per_chunk_ns: list[int], chunks: list[list[tuple[str, str]]]) -> float:
    """The median over the slices of (time - empty loop time) / calls, in µs."""
    return statistics.median(
        (spent - _empty_loop_ns(chunk)) / len(chunk) / 1000
        for spent, chunk in zip(per_chunk_ns, chunks, strict=True)
    )


def _summarise(samples: list[int], mean_us: float, overhead: int) -> Latency:
    samples.sort()
    return Latency(
        max(0.0, _percentile(samples, 50) - overhead) / 1000,
        max(0.0, _percentile(samples, 99) - overhead) / 1000,
        mean_us,
    )


# Three copies of the same two loops, one per side, so that each loop calls its side
# directly (no extra indirection in the timed code).


def _time_library(t: Tutela, pairs: list[tuple[str, str]]) -> tuple[list[int], float]:
    clock, check = time.perf_counter_ns, t.may_process
    samples = [0] * len(pairs)
    for i, (subject, purpose) in enumerate(pairs):
        began = clock()
        check(subject, purpose)
        samples[i] = clock() - began
    chunks, spent = _chunks(pairs), []
    for chunk in chunks:
        began = clock()
        for subject, purpose in chunk:
            check(subject, purpose)
        spent.append(clock() - began)
    return samples, _batch_mean_us(spent, chunks)


def _time_cache(cache: Any, pairs: list[tuple[str, str]]) -> tuple[list[int], float]:
    clock, check, tenant = time.perf_counter_ns, cache.check, TENANT
    samples = [0] * len(pairs)
    for i, (subject, purpose) in enumerate(pairs):
        began = clock()
        check(tenant, subject, purpose)
        samples[i] = clock() - began
    chunks, spent = _chunks(pairs), []
    for chunk in chunks:
        began = clock()
        for subject, purpose in chunk:
            check(tenant, subject, purpose)
        spent.append(clock() - began)
    return samples, _batch_mean_us(spent, chunks)


def _time_dict(
    d: dict[tuple[str, str], dict[str, Decision]], pairs: list[tuple[str, str]]
) -> tuple[list[int], float]:
    clock, tenant = time.perf_counter_ns, TENANT
    samples = [0] * len(pairs)
    for i, (subject, purpose) in enumerate(pairs):
        began = clock()
        _ = d[(tenant, subject)][purpose]
        samples[i] = clock() - began
    chunks, spent = _chunks(pairs), []
    for chunk in chunks:
        began = clock()
        for subject, purpose in chunk:
            _ = d[(tenant, subject)][purpose]
        spent.append(clock() - began)
    return samples, _batch_mean_us(spent, chunks)


def _chunks(pairs: list[tuple[str, str]]) -> list[list[tuple[str, str]]]:
    size = -(-len(pairs) // CHUNKS)
    return [pairs[start : start + size] for start in range(0, len(pairs), size)]


def in_process(b: Bench) -> list[Row]:
    ctx = b.runtime.ctx
    library = Tutela(b.runtime, TENANT, "benchmark")
    everyone = b.subjects + b.erased
    for sid in everyone:  # warm: one fill per subject
        library.may_process(sid, CONSENT_PURPOSE)
    cache = consent.decision_cache(ctx)
    # the bare dict holds the same answers the cache gives
    bare = {
        (TENANT, sid): {p: cache.check(TENANT, sid, p) for p in (CONSENT_PURPOSE, *OTHER_PURPOSES)}
        for sid in everyone
    }
    pairs = b.pairs(b.sizes.calls, seed=1)
    for subject, purpose in pairs[:1000]:
        if library.may_process(subject, purpose) != bare[(TENANT, subject)][purpose]:
            raise AssertionError("the bare dict does not hold the cache's answers")
    overhead = _timer_overhead(b.sizes.calls)
    library_run = _time_library(library, pairs)
    cache_run = _time_cache(cache, pairs)
    dict_run = _time_dict(bare, pairs)
    count = len(pairs)
    dict_latency = _summarise(*dict_run, overhead)
    common = {"calls": count, "subjects": len(everyone), "timer_overhead_ns": overhead}
    rows = []
    for key, title, measured in (
        ("check_library", "In-process check: Tutela.may_process", library_run),
        ("check_cache", "In-process check: DecisionCache.check", cache_run),
    ):
        latency = _summarise(*measured, overhead)
        rows.append(
            Row(
                "consent",
                key,
                title,
                "µs/call",
                f"warm cache, {count:,} calls over {len(everyone):,} subjects, mixed purposes "
                f"and states; raw = dict[(tenant, subject)][purpose] on the same answers; "
                f"per call: perf_counter_ns around each call minus the timer pair's median "
                f"({overhead} ns); mean: a clock around each tenth of the calls minus the same "
                "loop left empty, median of the tenths",
                latency.p50_us,
                dict_latency.p50_us,
                latency.text(),
                dict_latency.text(),
                Target("at_most", P50_TARGET_US, f"p50 ≤ {P50_TARGET_US:g} µs"),
                lower_is_better=True,
                data={
                    **common,
                    "tutela_latency": latency.as_dict(),
                    "raw_latency": dict_latency.as_dict(),
                },
            )
        )
    return rows


# -- HTTP -----------------------------------------------------------------------------------


def _http(
    method: str, url: str, headers: dict[str, str], body: bytes | None = None
) -> dict[str, Any]:
    request = urllib.request.Request(url, data=body, method=method, headers=headers)
    with urllib.request.urlopen(request, timeout=60) as response:
        data: dict[str, Any] = json.loads(response.read())
        return data


def _check_path(subject: str, purpose: str) -> str:
    return f"/v1/consent/check?subject={subject}&purpose={purpose}"


def _batch_body(pairs: Sequence[tuple[str, str]]) -> bytes:
    checks = [{"subject": s, "purpose": p} for s, p in pairs]
    return json.dumps({"checks": checks}, separators=(",", ":")).encode()


def _warm_and_verify(b: Bench, base: str, headers: dict[str, str]) -> None:
    """Fill every worker's cache (fresh connections land on random workers), then compare a
    sample of answers, single and batched, with the in-process decisions."""
    ctx, who = b.runtime.ctx, b.runtime.operator()
    everyone = b.subjects + b.erased
    post = {**headers, "Content-Type": "application/json"}
    for _ in range(b.sizes.warm_passes):
        for start in range(0, len(everyone), 1000):
            chunk = [(s, CONSENT_PURPOSE) for s in everyone[start : start + 1000]]
            _http("POST", f"{base}/v1/consent/check", post, _batch_body(chunk))
    sample = b.pairs(200, seed=7)
    expected = [d.as_dict() for d in consent.check_many(ctx, who, sample)]
    for (subject, purpose), wanted in zip(sample[:50], expected, strict=False):
        got = _http("GET", base + _check_path(subject, purpose), headers)
        if got != wanted:
            raise AssertionError(f"GET check answered {got}, expected {wanted}")
    got_many = _http("POST", f"{base}/v1/consent/check", post, _batch_body(sample))["results"]
    if got_many != expected:
        raise AssertionError("the batch check does not give the in-process answers")


def _load(
    server: serving.Server,
    headers: dict[str, str],
    requests: list[load.Request],
    seconds: float,
    connections: int,
) -> load.Load:
    """One run; also the server's CPU time per request over the run (all its processes)."""
    before = server.cpu_seconds()
    result = load.run(server.base_url, requests, headers, connections=connections, seconds=seconds)
    after = server.cpu_seconds()
    if result.errors:
        raise AssertionError(f"{result.errors} failed requests under load at {server.base_url}")
    if before is not None and after is not None and result.requests:
        result = replace(result, cpu_us=(after - before) / result.requests * 1e6)
    return result


def _alternate(
    b: Bench,
    sides: dict[str, tuple[serving.Server, dict[str, str]]],
    requests: list[load.Request],
) -> dict[str, load.Load]:
    """A warm pass on each side, then ``rounds`` runs of each, alternating the order; each
    side's figures are the medians over its runs."""
    sizes = b.sizes
    runs: dict[str, list[load.Load]] = {name: [] for name in sides}
    names = list(sides)
    if sizes.warm_seconds:
        for server, headers in sides.values():
            _load(server, headers, requests, sizes.warm_seconds, sizes.connections)
    for number in range(sizes.http_rounds):
        for name in names if number % 2 == 0 else reversed(names):
            server, headers = sides[name]
            runs[name].append(
                _load(server, headers, requests, sizes.http_seconds, sizes.connections)
            )
    return {name: _median_load(found) for name, found in runs.items()}


def _median_load(runs: list[load.Load]) -> load.Load:
    rates = [r.rate for r in runs]
    seconds = sum(r.seconds for r in runs)
    cpu = [r.cpu_us for r in runs if r.cpu_us is not None]
    return load.Load(
        runs[0].tool,
        round(statistics.median(rates) * seconds),
        seconds,
        statistics.median(r.p50_ms for r in runs),
        statistics.median(r.p99_ms for r in runs),
        sum(r.errors for r in runs),
        tuple(rates),
        statistics.median(cpu) if cpu else None,
    )


def _cells(result: load.Load, per_request: int = 1) -> str:
    lines = [f"{result.rate * per_request:,.0f}"]
    if per_request != 1:
        lines.append(f"{result.rate:,.0f} req/s")
    lines.append(f"p99 {result.p99_ms:.1f} ms")
    if result.cpu_us is not None:
        lines.append(f"CPU {result.cpu_us:,.0f} µs/req")
    return "\n".join(lines)


@dataclass(frozen=True)
class Http:
    rows: list[Row]
    notes: list[str]


def http(b: Bench, progress: Callable[[str], None]) -> Http:
    sizes = b.sizes
    ctx, who = b.runtime.ctx, b.runtime.operator()
    token = tenants.issue_key(ctx, who, TENANT, "benchmark", ["app"]).token
    headers = {"Authorization": f"Bearer {token}"}
    options = serving.production_options()
    env = {**_environ(), "TUTELA_DATA_DIR": str(b.settings.data_dir)}
    singles = [load.Request("GET", _check_path(s, p)) for s, p in b.pairs(4096, seed=11)]
    batches = [
        load.Request("POST", "/v1/consent/check", _batch_body(b.pairs(sizes.batch, seed=100 + n)))
        for n in range(64)
    ]
    post_headers = {**headers, "Content-Type": "application/json"}
    progress("HTTP servers")
    with serving.serve(["tutela", "bare"], options, env) as (tutela_server, bare_server):
        progress("HTTP cache warm-up")
        _warm_and_verify(b, tutela_server.base_url, headers)
        progress("HTTP single checks")
        found = _alternate(
            b,
            {
                "bare": (bare_server, headers),
                "tutela": (tutela_server, headers),
            },
            singles,
        )
        bare_single, tutela_single = found["bare"], found["tutela"]
        progress("HTTP batch checks")
        found = _alternate(
            b,
            {
                "tutela": (tutela_server, post_headers),
                "bare": (bare_server, post_headers),
            },
            batches,
        )
        tutela_batch, bare_batch = found["tutela"], found["bare"]
    notes = []
    stock: load.Load | None = None
    if options.nodelay_fix and sizes.stock_seconds:
        progress("HTTP single checks, stock uvicorn")
        stock_options = replace(options, nodelay_fix=False)
        with serving.serve(["tutela"], stock_options, env) as (server,):
            _warm_and_verify(b, server.base_url, headers)
            stock = _load(server, headers, singles, sizes.stock_seconds, sizes.connections)
        notes.append(
            f"Stock `{stock_options.describe()}`: {stock.rate:,.0f} req/s, p50 "
            f"{stock.p50_ms:.0f} ms, p99 {stock.p99_ms:.0f} ms on the single check: without "
            "uvloop, uvicorn's multi-worker socket loses TCP_NODELAY (uvicorn issue #3149) "
            "and every keep-alive request waits for a delayed ACK. The HTTP rows above mark "
            "the listening socket as TCP (benchmarks/uvicorn_nodelay.py) and change nothing "
            "else."
        )
    tool = load.describe_tool()
    setting = (
        f"{options.describe()}; load: {tool}, {sizes.connections} connections, median of "
        f"{sizes.http_rounds} alternating run(s) of {sizes.http_seconds:g} s per side after a "
        f"{sizes.warm_seconds:g} s warm pass, 127.0.0.1"
    )
    common: dict[str, Any] = {"server": options.as_dict(), "load_tool": load.tool_name()}
    if stock is not None:
        common["stock_uvicorn_single"] = stock.as_dict()
    by = "" if load.tool_name() == "wrk" else ", Python load generator"
    single = Row(
        "consent",
        "http_single",
        f"HTTP single check (GET{by})",
        "req/s",
        f"GET /v1/consent/check?subject=…&purpose=… with an API key, warm cache, "
        f"{len(singles):,} distinct checks; raw = bare Starlette endpoint answering constant "
        f"JSON; {setting}",
        tutela_single.rate,
        bare_single.rate,
        _cells(tutela_single),
        _cells(bare_single),
        Target("ratio", HTTP_RATIO_TARGET, f"≥ {HTTP_RATIO_TARGET:.0%}"),
        data={**common, "tutela_load": tutela_single.as_dict(), "raw_load": bare_single.as_dict()},
    )
    per = sizes.batch
    batch = Row(
        "consent",
        "http_batch",
        f"HTTP batch check (POST, {per}{by})",
        "checks/s",
        f"POST /v1/consent/check with {per} checks per request, 64 distinct bodies; raw = bare "
        f"Starlette endpoint that reads the body and answers {BARE_BATCH} constant results; "
        f"{setting}",
        tutela_batch.rate * per,
        bare_batch.rate * BARE_BATCH,
        _cells(tutela_batch, per),
        _cells(bare_batch, BARE_BATCH),
        Target("at_least", BATCH_TARGET, f"≥ {BATCH_TARGET:,} checks/s"),
        data={
            **common,
            "checks_per_request": per,
            "tutela_load": tutela_batch.as_dict(),
            "raw_load": bare_batch.as_dict(),
        },
    )
    return Http([single, batch], notes)


def _environ() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("TUTELA_")}


# -- writes ---------------------------------------------------------------------------------


def writes(b: Bench) -> Row:
    ctx, who = b.runtime.ctx, b.runtime.operator()
    sample = consent.record(ctx, who, b.subjects[0], [CONSENT_PURPOSE], "grant")[0]
    receipt = sample["receipt"]
    main_db = Path(b.settings.database_url.removeprefix("sqlite:///"))
    raw_db = b.root / "raw-consent.db"
    clone_schema(main_db, raw_db, copy_tables=("tenants", "subjects"))
    raw = RawConsent(
        raw_db,
        TENANT,
        who.actor,
        jws_part(receipt, 1),
        jws_part(receipt, 0)["kid"],
        ctx.declarations_version,
    )
    if abs(len(raw.grant(b.subjects[0], CONSENT_PURPOSE)) - len(receipt)) > 4:
        raise AssertionError("the raw receipt is not the size of Tutela's")
    rng = random.Random(3)

    def pick(count: int) -> list[str]:
        return [b.subjects[rng.randrange(len(b.subjects))] for _ in range(count)]

    def tutela_run(ids: list[str]) -> int:
        for sid in ids:
            consent.record(ctx, who, sid, [CONSENT_PURPOSE], "grant")
        return len(ids)

    def raw_run(ids: list[str]) -> int:
        for sid in ids:
            raw.grant(sid, CONSENT_PURPOSE)
        return len(ids)

    sizes = b.sizes
    try:
        timings = compare(
            {"tutela": Side(pick, tutela_run), "raw": Side(pick, raw_run)},
            Plan(sizes.warmup_ops, sizes.rounds, sizes.round_seconds),
        )
    finally:
        raw.close()
    t, r = timings["tutela"], timings["raw"]
    return Row(
        "consent",
        "consent_writes",
        "Consent writes",
        "grants/s",
        f"consent.record(…, ['{CONSENT_PURPOSE}'], 'grant'): Ed25519-signed receipt "
        f"({len(receipt):,} B JWS), event, state upsert, change feed, audit entry + sealed head, "
        f"one transaction each; raw = sqlite3 + cryptography, same rows and settings; median "
        f"of {sizes.rounds} round(s)",
        t.rate,
        r.rate,
        f"{t.rate:,.0f}",
        f"{r.rate:,.0f}",
        Target("ratio", WRITE_RATIO_TARGET, f"≥ {WRITE_RATIO_TARGET:.0%}"),
        data={
            "receipt_bytes": len(receipt),
            "tutela_rounds_per_s": [round(x, 1) for x in t.rates],
            "raw_rounds_per_s": [round(x, 1) for x in r.rates],
        },
    )


# -- the group ------------------------------------------------------------------------------


def run_group(sizes: Sizes, progress: Callable[[str], None] = lambda _: None) -> Group:
    progress("consent setup")
    with bench(sizes) as b:
        progress("in-process checks")
        rows = in_process(b)
        served = http(b, progress)
        rows += served.rows
        progress("consent writes")
        rows.append(writes(b))
    options = serving.production_options()
    return Group(
        "consent",
        f"{sizes.subjects:,} subjects; in-process p50/p99 per call and batch mean; HTTP under "
        f"{options.describe()}, load by {load.describe_tool()}",
        rows,
        {
            "subjects": sizes.subjects,
            "calls": sizes.calls,
            "http_seconds": sizes.http_seconds,
            "connections": sizes.connections,
            "batch": sizes.batch,
            "server": options.as_dict(),
            "load_tool": load.tool_name(),
        },
        served.notes,
    )
