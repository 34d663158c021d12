"""``python -m benchmarks [--quick] [--json] [--only vault|consent]``."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable

from rich.console import Console

from benchmarks import consent, suite
from benchmarks.report import as_json, cpu_busy, render
from benchmarks.results import Group

GROUPS = ("vault", "consent")


def _run(name: str, quick: bool, progress: Callable[[str], None]) -> Group:
    if name == "vault":
        return suite.run_group(suite.QUICK if quick else suite.DEFAULT, progress)
    return consent.run_group(consent.QUICK if quick else consent.DEFAULT, progress)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Tutela's throughput beside the raw sqlite3 + cryptography limit.",
    )
    parser.add_argument(
        "--quick", action="store_true", help="small sizes, a few seconds in all (smoke test)"
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument(
        "--only", choices=GROUPS, help="run one group of measurements (default: all)"
    )
    args = parser.parse_args(argv)
    mode = "quick" if args.quick else "default"
    names = [args.only] if args.only else list(GROUPS)
    status = Console(stderr=True)
    groups: list[Group] = []
    busy = cpu_busy()
    if args.json:
        for name in names:
            groups.append(_run(name, args.quick, lambda _: None))
        json.dump(as_json(mode, groups, busy), sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    with status.status("measuring …") as spinner:
        for name in names:
            groups.append(
                _run(name, args.quick, lambda step: spinner.update(f"measuring {step} …"))
            )
    render(Console(), mode, groups, busy)
    return 0


if __name__ == "__main__":
    sys.exit(main())
