"""Presenting results: the machine they were measured on, a Rich table, or JSON."""

from __future__ import annotations

import os
import platform
import sqlite3
import time
from importlib import metadata
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from benchmarks.results import RATIO_KINDS, Group


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def cpu_busy(seconds: float = 0.5) -> float | None:
    """The share of all CPUs in use over ``seconds`` (Linux ``/proc/stat``), else None.

    Taken before the benchmarks start: anything above a few percent is other work on the
    machine, which the figures (the HTTP ones above all) will be noisier for."""

    def sample() -> tuple[int, int]:
        with open("/proc/stat") as stat:
            values = [int(v) for v in stat.readline().split()[1:]]
        idle = values[3] + (values[4] if len(values) > 4 else 0)
        return sum(values), idle

    try:
        total0, idle0 = sample()
        time.sleep(seconds)
        total1, idle1 = sample()
    except (OSError, ValueError, IndexError):
        return None
    spent = total1 - total0
    return None if spent <= 0 else 1 - (idle1 - idle0) / spent


def machine(busy: float | None = None) -> dict[str, Any]:
    return {
        "cpu_busy_before_run": None if busy is None else round(busy, 3),
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


def as_json(mode: str, groups: list[Group], busy: float | None = None) -> dict[str, Any]:
    document: dict[str, Any] = {"mode": mode, "machine": machine(busy)}
    for group in groups:
        if group.name == "vault":  # kept at the top level, where they were before groups
            document["rounds"] = group.settings["rounds"]
            document["round_seconds"] = group.settings["round_seconds"]
    document["groups"] = {
        g.name: {
            "description": g.description,
            **g.settings,
            "notes": g.notes,
            **({"tables": [e.as_dict() for e in g.extras]} if g.extras else {}),
        }
        for g in groups
    }
    document["results"] = [r.as_dict() for g in groups for r in g.rows]
    return document


def render(console: Console, mode: str, groups: list[Group], busy: float | None = None) -> None:
    m = machine(busy)
    console.print(
        f"[bold]Tutela benchmarks[/bold] ({mode})\n"
        f"Python {m['python']} ({m['implementation']}) on {m['platform']}, "
        f"{m['cpu_count']} CPU(s); SQLite {m['sqlite']}; SQLAlchemy {m['sqlalchemy']}; "
        f"cryptography {m['cryptography']}",
        highlight=False,
    )
    if busy is not None:
        warning = " [yellow](other work was running: expect noisy figures)[/]" if busy > 0.1 else ""
        console.print(f"CPU in use before the run: {busy:.0%}{warning}", highlight=False)
    for group in groups:
        console.print(f"[bold]{group.name}[/]: {escape(group.description)}", highlight=False)
    table = Table()
    table.add_column("measurement")
    table.add_column("Tutela", justify="right")
    table.add_column("raw limit", justify="right")
    table.add_column("Tutela / raw", justify="right")
    table.add_column("target", justify="right")
    rows = [r for g in groups for r in g.rows]
    for index, r in enumerate(rows):
        ratio = r.ratio_text()
        if r.target is None:
            target = "—"
        else:
            met = bool(r.met)
            target = f"{r.target.label} ({'met' if met else 'below'})"
            colour = "green" if met else "red"
            if r.target.kind in RATIO_KINDS:
                ratio = f"[{colour}]{ratio}[/]"
            if r.target.kind not in RATIO_KINDS or r.target.cap is not None:
                target = f"[{colour}]{target}[/]"
        last = index + 1 < len(rows) and rows[index + 1].group != r.group
        table.add_row(
            f"{escape(r.title)} [dim]{escape(r.unit)}[/]",
            escape(r.tutela_text),
            escape(r.raw_text),
            ratio,
            target,
            end_section=last,
        )
    console.print(table)
    for group in groups:
        for extra in group.extras:
            more = Table(title=escape(extra.title), title_justify="left")
            for index, name in enumerate(extra.columns):
                more.add_column(escape(name), justify="left" if index == 0 else "right")
            for cells in extra.rows:
                more.add_row(*(escape(c) for c in cells))
            console.print(more)
    for r in rows:
        console.print(f"  [bold]{escape(r.title)}[/]: {escape(r.work)}", highlight=False)
    for group in groups:
        for note in group.notes:
            console.print(f"  [bold]Note[/] ({group.name}): {escape(note)}", highlight=False)
