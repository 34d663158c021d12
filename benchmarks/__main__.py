"""``python -m benchmarks [--quick] [--json] [--only vault|consent|requests|retention|pages]
[--size N] [--postgres URL]``."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable

from rich.console import Console

from benchmarks import consent, dsr, pages, retention, suite
from benchmarks.report import as_json, cpu_busy, render
from benchmarks.results import Group

GROUPS = ("vault", "consent", "requests", "retention", "pages")


def _run(name: str, args: argparse.Namespace, progress: Callable[[str], None]) -> Group:
    quick: bool = args.quick
    if name == "vault":
        return suite.run_group(suite.QUICK if quick else suite.DEFAULT, progress)
    if name == "consent":
        return consent.run_group(consent.QUICK if quick else consent.DEFAULT, progress)
    if name == "pages":
        return pages.run_group(pages.QUICK if quick else pages.DEFAULT, progress)
    url = args.postgres or os.environ.get("TUTELA_TEST_DATABASE_URL") or None
    if name == "retention":
        base = retention.QUICK if quick else retention.DEFAULT
        return retention.run_group(
            retention.scaled(args.size, base) if args.size else base, url, progress
        )
    sizes = dsr.QUICK if quick else dsr.DEFAULT
    if args.size:
        sizes = dsr.growth(args.size, sizes)
    return dsr.run_group(sizes, url, progress)


def _customers(text: str) -> int:
    value = int(text.replace("_", "").replace(",", ""))
    if value < 1000:
        raise argparse.ArgumentTypeError("at least 1000 customers")
    return value


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
    parser.add_argument(
        "--size",
        type=_customers,
        metavar="N",
        help="requests: customers in the largest shop database, measured after every power of "
        "ten from 10,000 below it (default: 10,000 only; 2,000 with --quick); retention: "
        "expired vault subjects and dataset rows, measured at a tenth of N and at N "
        "(default 1,000,000; 10,000 and 50,000 with --quick)",
    )
    parser.add_argument(
        "--postgres",
        metavar="URL",
        help="requests and retention: also on this PostgreSQL database, in schemas of their "
        "own (default: $TUTELA_TEST_DATABASE_URL when set)",
    )
    args = parser.parse_args(argv)
    mode = "quick" if args.quick else "default"
    if args.size:
        mode += f", requests up to {args.size:,} customers, retention at {args.size:,}"
    names = [args.only] if args.only else list(GROUPS)
    status = Console(stderr=True)
    groups: list[Group] = []
    busy = cpu_busy()
    if args.json:
        for name in names:
            groups.append(_run(name, args, lambda _: None))
        json.dump(as_json(mode, groups, busy), sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    with status.status("measuring …") as spinner:
        for name in names:
            groups.append(_run(name, args, lambda step: spinner.update(f"measuring {step} …")))
    render(Console(), mode, groups, busy)
    return 0


if __name__ == "__main__":
    sys.exit(main())
