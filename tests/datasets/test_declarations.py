"""`tutela check` (check_file) reads the dataset files a declaration file lists."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import yaml

from tests.fixtures_support import DATASET_FILE
from tutela.declarations import Problem, check_file, load_declarations

CATEGORIES = [
    "user.contact.email",
    "user.name",
    "user.contact.address",
    "user.unique_id",
    "user.financial",
    "user.sensor",
]


def declarations(**dataset: Any) -> dict[str, Any]:
    return {
        "tutela": 1,
        "organization": {"name": "Example Shop", "contact": "privacy@example.com", "country": "DE"},
        "jurisdictions": ["gdpr"],
        "languages": ["en"],
        "storage": {"region": "EU"},
        "categories": [{"key": key, "identity": key == CATEGORIES[0]} for key in CATEGORIES],
        "purposes": [
            {
                "key": "shop",
                "use": "essential.service",
                "legal_basis": "contract",
                "categories": CATEGORIES,
                "retention": {"keep": "P3Y", "after": "account_closed", "then": "delete"},
            }
        ],
        "datasets": [
            {"file": "shop.yml", "connection": "env:SHOP_DATABASE_URL", **dataset},
        ],
    }


def write(tmp_path: Path, data: dict[str, Any], dataset_text: str | None = None) -> Path:
    if dataset_text is None:
        shutil.copy(DATASET_FILE, tmp_path / "shop.yml")
    else:
        (tmp_path / "shop.yml").write_text(dataset_text, encoding="utf-8")
    file = tmp_path / "tutela.yml"
    file.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return file


def line_of(file: Path, needle: str, after: str | None = None) -> int:
    lines = file.read_text(encoding="utf-8").splitlines()
    start = 0 if after is None else next(i for i, line in enumerate(lines) if after in line)
    return next(i for i, line in enumerate(lines[start:], start + 1) if needle in line)


def only(problems: list[Problem]) -> Problem:
    assert len(problems) == 1, [str(p) for p in problems]
    return problems[0]


def test_fixture_with_default_erasure_is_valid(tmp_path: Path) -> None:
    file = write(tmp_path, declarations(correctable=["customer.name", "address.street"]))
    assert check_file(file) == []
    loaded = load_declarations(file)
    assert loaded.datasets[0].correctable == ("customer.name", "address.street")


def test_override_that_cannot_fit_is_placed_in_the_declaration_file(tmp_path: Path) -> None:
    file = write(tmp_path, declarations(erasure={"fields": {"customer.id": "null"}}))
    problem = only(check_file(file))
    assert problem.file == str(file)
    assert problem.line == line_of(file, "customer.id:")
    assert problem.path == "datasets[0].erasure.fields['customer.id']"
    assert "keys are never overwritten" in problem.message
    assert "delete" in (problem.fix or "")


def test_category_default_that_cannot_fit_is_placed_at_the_dataset_field(tmp_path: Path) -> None:
    text = DATASET_FILE.read_text(encoding="utf-8").replace("length: 40", "length: 4")
    file = write(tmp_path, declarations(erasure={"categories": {"user.name": "hash"}}), text)
    problem = only(check_file(file))
    dataset_file = tmp_path / "shop.yml"
    assert problem.file == str(dataset_file)
    # customer.name: the fifth field of the second collection
    assert problem.line == line_of(dataset_file, "- name: name", after="- name: customer")
    assert problem.path == "dataset[0].collections[1].fields[4]"
    assert problem.message.startswith("customer.name: hash: the column holds 4 characters")
    assert "erasure in the declarations" in (problem.fix or "")


def test_hash_in_a_declared_integer_column(tmp_path: Path) -> None:
    text = DATASET_FILE.read_text(encoding="utf-8").replace(
        "data_categories: [user.sensor]",
        "data_categories: [user.sensor]\n            fides_meta: {data_type: integer}",
    )
    file = write(tmp_path, declarations(erasure={"fields": {"login.time": "hash"}}), text)
    problem = only(check_file(file))
    assert problem.path == "datasets[0].erasure.fields['login.time']"
    assert "holds integer values" in problem.message


def test_settings_naming_unknown_fields_and_keys(tmp_path: Path) -> None:
    file = write(
        tmp_path,
        declarations(
            erasure={
                "fields": {"customer.nmae": "redact"},
                "categories": {"user.nmae": "null"},
                "keep": [{"fields": ["orderz.*"], "reason": "tax law"}],
            },
            correctable=["customer.id", "login.customer_id"],
        ),
    )
    found = {p.path: p for p in check_file(file)}
    assert set(found) == {
        "datasets[0].erasure.fields['customer.nmae']",
        "datasets[0].erasure.categories['user.nmae']",
        "datasets[0].erasure.keep[0].fields[0]",
        "datasets[0].correctable[0]",
        "datasets[0].correctable[1]",
    }
    assert found["datasets[0].erasure.fields['customer.nmae']"].fix == "did you mean customer.name?"
    assert found["datasets[0].erasure.keep[0].fields[0]"].fix == "did you mean orders?"
    assert "cannot be corrected" in found["datasets[0].correctable[0]"].message


def test_broken_dataset_file_is_reported_in_that_file(tmp_path: Path) -> None:
    text = DATASET_FILE.read_text(encoding="utf-8").replace(
        "field: customer.id", "field: customers.id"
    )
    file = write(tmp_path, declarations(), text)
    problems = check_file(file)
    assert len(problems) == 3  # login, orders and payment_card reference customer.id
    assert {p.file for p in problems} == {str(tmp_path / "shop.yml")}
    assert all(p.fix == "did you mean customer?" for p in problems)
    assert all(p.line is not None for p in problems)


def test_bad_field_path_in_settings(tmp_path: Path) -> None:
    file = write(tmp_path, declarations(correctable=["name"]))
    problem = only(check_file(file))
    assert problem.path == "datasets[0].correctable[0]"
    assert "collection.field" in problem.message


def test_unknown_strategy(tmp_path: Path) -> None:
    file = write(tmp_path, declarations(erasure={"fields": {"customer.name": "scramble"}}))
    problem = only(check_file(file))
    assert problem.path == "datasets[0].erasure.fields['customer.name']"
    assert problem.line == line_of(file, "customer.name: scramble")
    assert problem.message == "scramble: not one of delete, null, redact, hash, generalize"
