"""One side of a retention measurement, run in a process of its own so that its peak
resident memory is its own: ``python -m benchmarks.retention_sides SIDE JSON-ARGUMENTS``
prints ``{"items", "seconds", "peak_rss"}``. A raw side imports only its driver; a Tutela
side opens the runtime (and reflects the tables) before its clock starts.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
from typing import Any


def _peak_rss() -> int:
    """This process's peak resident memory, in bytes: ``VmHWM`` (Linux), which starts afresh
    at ``exec``, unlike ``ru_maxrss``, which keeps the parent's size at ``fork``."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


def raw_vault(database_url: str, keystore_url: str) -> tuple[int, float]:
    from benchmarks.retention_raw import sweep_vault

    swept = sweep_vault(database_url, keystore_url)
    return swept.rows, swept.seconds


def raw_dataset(url: str, cutoff: str) -> tuple[int, float]:
    import datetime as dt

    from benchmarks.retention_raw import sweep_dataset

    value: Any = cutoff if url.startswith("sqlite") else dt.datetime.fromisoformat(cutoff)
    swept = sweep_dataset(url, value)
    return swept.rows, swept.seconds


def tutela_vault(data_dir: str, database_url: str) -> tuple[int, float]:
    from pathlib import Path

    from benchmarks.retention_data import settings_for
    from tutela.bootstrap import open_runtime
    from tutela.services import retention

    runtime = open_runtime(settings_for(Path(data_dir), database_url))
    try:
        began = time.perf_counter()
        done = retention.run(runtime.ctx, runtime.operator(), apply=True)
        seconds = time.perf_counter() - began
    finally:
        runtime.close()
    return int(done["subjects_erased"]), seconds


def tutela_dataset(data_dir: str, url: str) -> tuple[int, float]:
    from pathlib import Path

    from benchmarks.retention_data import LOGS_VARIABLE, settings_for
    from tutela.bootstrap import open_runtime
    from tutela.services import dataset_retention, retention

    os.environ[LOGS_VARIABLE] = url
    runtime = open_runtime(settings_for(Path(data_dir)))
    try:
        for store in dataset_retention.stores(runtime.ctx):
            store.collections()  # reflect the tables before the clock starts
        began = time.perf_counter()
        done = retention.run(runtime.ctx, runtime.operator(), apply=True)
        seconds = time.perf_counter() - began
    finally:
        for connector in runtime.ctx.connectors() if runtime.ctx.connectors else []:
            connector.close()  # type: ignore[attr-defined]
        runtime.close()
    return sum(int(d["deleted"]) for d in done["datasets"]), seconds


SIDES = {
    "raw_vault": raw_vault,
    "raw_dataset": raw_dataset,
    "tutela_vault": tutela_vault,
    "tutela_dataset": tutela_dataset,
}


def main(argv: list[str]) -> int:
    side, arguments = argv[0], json.loads(argv[1])
    items, seconds = SIDES[side](*arguments)
    json.dump({"items": items, "seconds": seconds, "peak_rss": _peak_rss()}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
