"""Application endpoints under datasets: what `tutela check` says about each mistake."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.fixtures_support import DATASET_FILE
from tutela.declarations import Problem, check_file, check_text, parse_declarations

from .conftest import MINIMAL

BILLING: dict[str, Any] = {
    "name": "billing",
    "http": {"url": "https://billing.example.com/privacy-hook", "secret": "env:BILLING_SECRET"},
    "categories": ["user.contact.email"],
}


def problems_of(*datasets: dict[str, Any]) -> list[Problem]:
    data = {**MINIMAL, "datasets": list(datasets)}
    return check_text(yaml.safe_dump(data, sort_keys=False), "test.yml")


def only(problems: list[Problem]) -> Problem:
    assert len(problems) == 1, [str(p) for p in problems]
    return problems[0]


def with_http(**changes: Any) -> dict[str, Any]:
    return {**BILLING, "http": {**BILLING["http"], **changes}}


def test_an_endpoint_entry_is_valid() -> None:
    assert problems_of(BILLING, with_http(url="http://localhost:8080/hook") | {"name": "crm"}) == []
    declarations = parse_declarations(yaml.safe_dump({**MINIMAL, "datasets": [BILLING]}))
    (billing,) = declarations.datasets
    assert billing.is_http
    assert billing.http is not None
    assert billing.http.timeout_seconds == 10


@pytest.mark.parametrize(
    ("entry", "path", "words"),
    [
        (with_http(url="http://billing.example.com/hook"), "datasets[0].http.url", "https://"),
        (with_http(url="ftp://billing.example.com"), "datasets[0].http.url", "web address"),
        (with_http(secret="s3cr3t-value-of-the-hook"), "datasets[0].http.secret", "env:NAME"),
        (with_http(timeout="PT10M"), "datasets[0].http.timeout", "PT2M"),
        (with_http(timeout="PT0S"), "datasets[0].http.timeout", "PT1S"),
        (with_http(token="x"), "datasets[0].http.token", "unknown key"),
        ({**BILLING, "file": "x.yml", "connection": "env:X"}, "datasets[0]", "not both"),
        ({"description": "nothing else"}, "datasets[0]", "name and http"),
        ({k: v for k, v in BILLING.items() if k != "http"}, "datasets[0]", "needs http"),
        ({k: v for k, v in BILLING.items() if k != "name"}, "datasets[0]", "needs name"),
        ({k: v for k, v in BILLING.items() if k != "categories"}, "datasets[0]", "categories"),
        ({**BILLING, "erasure": {"categories": {"user": "delete"}}}, "datasets[0]", "erasure"),
        ({**BILLING, "correctable": ["invoice.name"]}, "datasets[0]", "correctable"),
        ({**BILLING, "name": "Billing Service"}, "datasets[0].name", "not a valid key"),
        ({**BILLING, "name": "tutela"}, "datasets[0].name", "reserved"),
        ({**BILLING, "categories": ["user.name"]}, "datasets[0].categories[0]", "not declared"),
        (
            {**BILLING, "categories": ["user.contact.emial"]},
            "datasets[0].categories[0]",
            "did you mean user.contact.email",
        ),
        (
            {"file": "x.yml", "connection": "env:X", "categories": ["user.contact.email"]},
            "datasets[0]",
            "application endpoints only",
        ),
    ],
)
def test_each_mistake_is_reported_where_it_is(entry: dict[str, Any], path: str, words: str) -> None:
    problem = only(problems_of(entry))
    assert problem.path == path
    assert words in str(problem)
    assert problem.line is not None


def test_the_secret_itself_is_never_repeated() -> None:
    problem = only(problems_of(with_http(secret="hunter2-hunter2-hunter2-hunter2")))
    assert "hunter2" not in str(problem)


def test_store_names_are_unique() -> None:
    problem = only(problems_of(BILLING, BILLING))
    assert problem.path == "datasets[1]"
    assert "declared twice" in problem.message


def test_a_store_name_may_not_be_a_dataset_files_key(tmp_path: Path) -> None:
    shutil.copy(DATASET_FILE, tmp_path / "shop.yml")
    keys = ["user.contact.email"]
    data = {
        **MINIMAL,
        "datasets": [
            {"file": "shop.yml", "connection": "env:SHOP_DATABASE_URL"},
            {**BILLING, "name": "postgres_example_test_dataset", "categories": keys},
        ],
    }
    file = tmp_path / "tutela.yml"
    file.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    names = [p for p in check_file(file) if p.path == "datasets[1].name"]
    assert len(names) == 1
    assert "already names a store" in names[0].message


def test_tutela_check_lists_the_problems_of_a_bad_endpoint(tmp_path: Path) -> None:
    data = {
        **MINIMAL,
        "datasets": [
            {
                "name": "billing",
                "http": {"url": "http://billing.example.com/hook", "secret": "xyzzy-in-clear"},
                "categories": ["user.contact.email"],
            }
        ],
    }
    file = tmp_path / "tutela.yml"
    file.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    tutela = Path(sys.executable).parent / "tutela"
    result = subprocess.run(
        [str(tutela), "check", str(file), "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    report = json.loads(result.stdout)
    paths = {p["path"] for p in report["files"][str(file)]}
    assert paths == {"datasets[0].http.url", "datasets[0].http.secret"}
    assert "xyzzy" not in result.stdout
