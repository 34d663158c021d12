"""`tutela check` on a database entry's `retention`: each problem at its place, with a fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from tutela.declarations import Problem, check_file

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "retention"


def check(tmp_path: Path, declarations: str = "", dataset: str = "") -> list[Problem]:
    decl = (FIXTURE / "declarations.yml").read_text(encoding="utf-8")
    data = (FIXTURE / "dataset.yml").read_text(encoding="utf-8")
    for old_new in filter(None, declarations.split("\n---\n")):
        old, new = old_new.split(" => ")
        assert old in decl, old
        decl = decl.replace(old, new)
    for old_new in filter(None, dataset.split("\n---\n")):
        old, new = old_new.split(" => ")
        assert old in data, old
        data = data.replace(old, new)
    (tmp_path / "declarations.yml").write_text(decl, encoding="utf-8")
    (tmp_path / "dataset.yml").write_text(data, encoding="utf-8")
    return check_file(tmp_path / "declarations.yml")


def only(problems: list[Problem]) -> Problem:
    assert len(problems) == 1, [str(p) for p in problems]
    return problems[0]


def test_the_fixture_is_valid(tmp_path: Path) -> None:
    assert check(tmp_path) == []


@pytest.mark.parametrize(
    ("edit", "path", "message", "fix"),
    [
        (
            "access_log: {dated_by => access_logs: {dated_by",
            "datasets[0].retention.access_logs",
            "access_logs: no such collection in the dataset file",
            "did you mean access_log?",
        ),
        (
            "dated_by: requested_at => dated_by: requested",
            "datasets[0].retention.access_log.dated_by",
            "requested: no such field in collection access_log",
            "did you mean requested_at?",
        ),
        (
            "dated_by: requested_at => dated_by: requested_at.day",
            "datasets[0].retention.access_log.dated_by",
            "requested_at.day: a nested field cannot date a row",
            "name a top-level field",
        ),
    ],
)
def test_names_the_dataset_lacks(
    tmp_path: Path, edit: str, path: str, message: str, fix: str
) -> None:
    problem = only(check(tmp_path, declarations=edit))
    assert problem.path == path
    assert problem.line is not None
    assert problem.message == message
    assert problem.fix.startswith(fix)


def test_a_field_declared_as_a_number_cannot_date_rows(tmp_path: Path) -> None:
    edit = (
        "          - name: requested_at\n            data_categories: [system.operations]\n => "
        "          - name: requested_at\n            data_categories: [system.operations]\n"
        "            fides_meta: {data_type: integer}\n"
    )
    problem = only(check(tmp_path, dataset=edit))
    assert problem.path == "datasets[0].retention.access_log.dated_by"
    assert "declared as integer in the dataset; a row's date must be a date or time" in (
        problem.message
    )


def test_a_category_no_rule_covers_would_keep_rows_forever(tmp_path: Path) -> None:
    edit = (
        "          - name: ip\n => "
        "          - name: agent\n            data_categories: [user.device.device_id]\n"
        "          - name: ip\n"
    )
    problem = only(check(tmp_path, dataset=edit))
    assert problem.path == "datasets[0].retention.access_log"
    assert "no retention rule covers user.device.device_id" in problem.message
    assert "would never be due" in problem.message


def test_a_subjects_event_needs_a_way_to_the_subject(tmp_path: Path) -> None:
    problems = check(
        tmp_path,
        declarations="after: collected => after: account_closed",
        dataset="fides_meta: {identity: email, data_type: string} => "
        "fides_meta: {data_type: string}",
    )
    # the dataset file is told no subject could be found in it at all, and so is retention
    problem = only([p for p in problems if p.path == "datasets[0].retention.access_log"])
    assert "counts from account_closed, an event of the row's subject" in problem.message
    assert problem.fix.startswith("mark the field holding the subject's email")


def test_anonymizing_refuses_a_keyed_hash(tmp_path: Path) -> None:
    edit = (
        "then: delete} => then: anonymize}\n---\n"
        "    retention:\n => "
        "    erasure: {fields: {access_log.email: hash}}\n    retention:\n"
    )
    problem = only(check(tmp_path, declarations=edit))
    assert problem.message == (
        "access_log.email: a sweep would hash it (its rule anonymizes), and a keyed hash is "
        "a pseudonym, not anonymous data"
    )


def test_retention_is_for_databases_only(tmp_path: Path) -> None:
    edit = (
        "  - file: dataset.yml\n    connection: env:APP_LOGS_DATABASE_URL\n => "
        "  - name: logs\n    http: {url: 'https://logs.example.com/hook', secret: env:LOGS}\n"
        "    categories: [user.device.ip_address]\n"
    )
    problem = only(check(tmp_path, declarations=edit))
    assert "retention apply to databases Tutela reaches itself" in problem.message
