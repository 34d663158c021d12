"""``python -m benchmarks [--quick] [--json]``."""

from __future__ import annotations

import argparse
import json
import sys

from rich.console import Console

from benchmarks.report import as_json, render
from benchmarks.suite import DEFAULT, QUICK, run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Tutela's throughput beside the raw sqlite3 + cryptography limit.",
    )
    parser.add_argument(
        "--quick", action="store_true", help="small sizes, a few seconds in all (smoke test)"
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)
    mode, sizes = ("quick", QUICK) if args.quick else ("default", DEFAULT)
    status = Console(stderr=True)
    if args.json:
        results = run(sizes)
        json.dump(as_json(mode, sizes, results), sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    with status.status("measuring …") as spinner:
        results = run(sizes, lambda name: spinner.update(f"measuring {name} …"))
    render(Console(), mode, sizes, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
