"""Presenting results: the machine they were measured on, a Rich table, or JSON."""

from __future__ import annotations

import os
import platform
import sqlite3
from importlib import metadata
from typing import Any

from rich.console import Console
from rich.table import Table

from benchmarks.suite import Result, Sizes


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def machine() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "sqlite": sqlite3.sqlite_version,
        "sqlalchemy": _version("sqlalchemy"),
        "cryptography": _version("cryptography"),
        "tutela": _version("tutela"),
    }


def as_json(mode: str, sizes: Sizes, results: list[Result]) -> dict[str, Any]:
    return {
        "mode": mode,
        "machine": machine(),
        "rounds": sizes.rounds,
        "round_seconds": sizes.round_seconds,
        "results": [r.as_dict() for r in results],
    }


def _rate(value: float) -> str:
    return f"{value:,.0f}"


def render(console: Console, mode: str, sizes: Sizes, results: list[Result]) -> None:
    m = machine()
    console.print(
        f"[bold]Tutela benchmarks[/bold] ({mode}: median of {sizes.rounds} round(s); both "
        f"sides do the same work per round, ~{sizes.round_seconds:g} s on the slower side)\n"
        f"Python {m['python']} ({m['implementation']}) on {m['platform']}, "
        f"{m['cpu_count']} CPU(s); SQLite {m['sqlite']}; SQLAlchemy {m['sqlalchemy']}; "
        f"cryptography {m['cryptography']}"
    )
    table = Table()
    table.add_column("measurement")
    table.add_column("Tutela", justify="right")
    table.add_column("raw limit", justify="right")
    table.add_column("Tutela / raw", justify="right")
    table.add_column("target", justify="right")
    for r in results:
        ratio = f"{r.ratio:.1%}"
        if r.target is None:
            target = "—"
        else:
            met = r.ratio >= r.target
            target = f"≥ {r.target:.0%} ({'met' if met else 'below'})"
            ratio = f"[{'green' if met else 'red'}]{ratio}[/]"
        table.add_row(
            f"{r.title} [dim]{r.unit}[/]", _rate(r.tutela.rate), _rate(r.raw.rate), ratio, target
        )
    console.print(table)
    for r in results:
        console.print(f"  [bold]{r.title}[/]: {r.work}", highlight=False)
