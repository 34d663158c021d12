"""Timing: warm up, size the rounds from a calibration run, alternate the sides.

A side is measured in operations (one registration, one import call, one verify pass …);
each operation handles some number of items (subjects, rows, entries), and the figure
reported is items per second, the median over the rounds. Inputs are built before the clock
starts, so only the work itself is timed.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass
from time import perf_counter
from typing import Any


@dataclass(frozen=True)
class Side:
    """``prepare(n)`` builds the input of ``n`` operations (untimed); ``execute(input)``
    performs them and returns how many items they handled (timed)."""

    prepare: Callable[[int], Any]
    execute: Callable[[Any], int]


@dataclass(frozen=True)
class Plan:
    warmup_ops: int
    rounds: int
    round_seconds: float


@dataclass(frozen=True)
class Timing:
    rate: float  # items per second, median over the rounds
    rates: tuple[float, ...]
    items: int
    seconds: float


def _timed(side: Side, ops: int) -> tuple[int, float]:
    payload = side.prepare(ops)
    start = perf_counter()
    items = side.execute(payload)
    return items, perf_counter() - start


def compare(sides: dict[str, Side], plan: Plan) -> dict[str, Timing]:
    """Time every side under the same plan; rounds alternate the order of the sides."""
    per_op: dict[str, float] = {}
    for name, side in sides.items():
        _timed(side, plan.warmup_ops)  # warm-up: caches, statement compilation, pages
        _, seconds = _timed(side, plan.warmup_ops)  # calibration
        per_op[name] = max(seconds, 1e-9) / plan.warmup_ops
    # Every side does the same number of operations per round, sized on the slowest side:
    # the write workloads grow their databases, and both must be measured at the same size.
    count = max(1, round(plan.round_seconds / max(per_op.values())))
    rates: dict[str, list[float]] = {name: [] for name in sides}
    totals = {name: [0, 0.0] for name in sides}
    names = list(sides)
    for number in range(plan.rounds):
        for name in names if number % 2 == 0 else reversed(names):
            items, seconds = _timed(sides[name], count)
            rates[name].append(items / seconds)
            totals[name][0] += items
            totals[name][1] += seconds
    return {
        name: Timing(
            statistics.median(rates[name]),
            tuple(rates[name]),
            int(totals[name][0]),
            float(totals[name][1]),
        )
        for name in sides
    }
