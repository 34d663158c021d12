"""Reading subject rows for batch import: CSV with a header of categories, or JSON Lines."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from tutela.domain.errors import InvalidInput


def read_rows(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        raise InvalidInput(f"{path}: no such file")
    if path.suffix.lower() in (".jsonl", ".ndjson", ".json"):
        return _jsonl(path)
    if path.suffix.lower() == ".csv":
        with path.open(newline="", encoding="utf-8-sig") as handle:
            return [{k: v for k, v in row.items() if k} for row in csv.DictReader(handle)]
    raise InvalidInput(f"{path}: unknown format; use a .csv or .jsonl file")


def _jsonl(path: Path) -> list[dict[str, str]]:
    rows: list[dict[str, str]] = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InvalidInput(f"{path}:{number}: not JSON ({exc.msg})") from None
            if not isinstance(item, dict) or not all(isinstance(v, str) for v in item.values()):
                raise InvalidInput(f"{path}:{number}: expected an object of category: string value")
            rows.append(item)
    return rows
