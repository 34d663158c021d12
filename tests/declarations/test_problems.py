from __future__ import annotations

from pathlib import Path

import pytest

from tutela.declarations import (
    Problem,
    check_file,
    check_text,
    load_declarations,
    parse_declarations,
)
from tutela.domain.errors import DeclarationInvalid, InvalidInput

BROKEN = """\
tutela: 1
organization: {name: Example Software LLC, contact: privacy@example.com, country: DE}
jurisdictions: [gdpr]
languages: [en, de]
storage: {region: EU}
categories:
  - key: user.contact.email
    identity: true
  - key: user.authorization.password
    storage: hash
purposes:
  - key: account
    use: essential.servce
    legal_basis: contract
    categories: [user.contact.email, user.authorization.password, user.contact.emial]
    retention: {keep: 3 years, after: account_closed}
  - key: newsletter
    use: marketing.communications.email
    legal_basis: consent
    legal_basis: consent
    categories:
      - user.contact.email
      - user.contact.phone_number
"""


def find(problems: list[Problem], path: str) -> Problem:
    matches = [p for p in problems if p.path == path]
    assert matches, f"no problem at {path}: {[str(p) for p in problems]}"
    return matches[0]


def test_every_problem_is_reported_with_its_line() -> None:
    problems = check_text(BROKEN, "examples/x.yml")
    summary = {(p.line, p.path) for p in problems}
    assert summary == {
        (13, "purposes[0].use"),
        (15, "purposes[0].categories[2]"),
        (16, "purposes[0].retention.keep"),
        (20, "purposes[1].legal_basis"),
        (23, "purposes[1].categories[1]"),
    }
    assert [p.line for p in problems] == sorted(p.line or 0 for p in problems)


def test_typo_in_category_suggests_the_right_key() -> None:
    problem = find(check_text(BROKEN, "examples/x.yml"), "purposes[0].categories[2]")
    assert str(problem) == (
        "examples/x.yml:15: purposes[0].categories[2]: user.contact.emial: unknown data "
        "category; did you mean user.contact.email?"
    )


def test_typo_in_data_use_suggests_the_right_key() -> None:
    problem = find(check_text(BROKEN, "x.yml"), "purposes[0].use")
    assert problem.message == "essential.servce: unknown data use"
    assert problem.fix == "did you mean essential.service?"


def test_undeclared_category_in_a_purpose() -> None:
    problem = find(check_text(BROKEN, "x.yml"), "purposes[1].categories[1]")
    assert problem.message == "user.contact.phone_number: not declared under categories"
    assert problem.fix is not None
    assert "add '- key: user.contact.phone_number' to categories" in problem.fix


def test_bad_duration() -> None:
    problem = find(check_text(BROKEN, "x.yml"), "purposes[0].retention.keep")
    assert problem.message == "3 years: not an ISO 8601 duration"
    assert problem.fix is not None
    assert "P3Y" in problem.fix


def test_duplicate_key() -> None:
    problem = find(check_text(BROKEN, "x.yml"), "purposes[1].legal_basis")
    assert problem.line == 20
    assert problem.message == "duplicate key (first at line 19)"


def test_yaml_syntax_error_has_its_line() -> None:
    text = "tutela: 1\norganization:\n  name: [Example\n  contact: a@example.com\n"
    (problem,) = check_text(text, "x.yml")
    assert problem.line is not None
    assert problem.line >= 3
    assert problem.message.startswith("not valid YAML")
    assert problem.path == ""
    assert str(problem).startswith(f"x.yml:{problem.line}: not valid YAML")


def test_parse_raises_declaration_invalid_with_all_problems() -> None:
    with pytest.raises(DeclarationInvalid) as caught:
        parse_declarations(BROKEN, "x.yml")
    error = caught.value
    assert isinstance(error, InvalidInput)
    assert len(error.problems) == 5
    assert error.message == "the declaration file has 5 problems"
    first = error.details["problems"][0]
    assert first == {
        "file": "x.yml",
        "line": 13,
        "path": "purposes[0].use",
        "message": "essential.servce: unknown data use",
        "fix": "did you mean essential.service?",
    }


def test_load_and_check_a_file(tmp_path: Path) -> None:
    path = tmp_path / "declarations.yml"
    path.write_text(BROKEN, encoding="utf-8")
    assert len(check_file(path)) == 5
    with pytest.raises(DeclarationInvalid):
        load_declarations(path)


def test_missing_file_is_one_problem_without_line(tmp_path: Path) -> None:
    (problem,) = check_file(tmp_path / "nope.yml")
    assert problem.line is None
    assert problem.message == "file not found"
    assert str(problem).startswith(f"{tmp_path / 'nope.yml'}: file not found")
    with pytest.raises(DeclarationInvalid):
        load_declarations(tmp_path / "nope.yml")


def test_file_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yml"
    path.write_bytes("tutela: 1\nname: Müller\n".encode("latin-1"))
    (problem,) = check_file(path)
    assert "UTF-8" in problem.message


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "the file is empty"),
        ("# only a comment\n", "the file is empty"),
        ("- tutela\n", "the file must be a mapping of keys"),
    ],
)
def test_file_that_is_not_a_mapping(text: str, message: str) -> None:
    (problem,) = check_text(text, "x.yml")
    assert problem.message == message


def test_unknown_and_missing_keys() -> None:
    text = BROKEN.replace("  - key: newsletter\n", "  - key: newsletter\n    colour: blue\n")
    text = text.replace("storage: {region: EU}", "storage: {regoin: EU}")
    problems = check_text(text, "x.yml")
    colour = find(problems, "purposes[1].colour")
    assert colour.line == 18
    assert colour.message == "unknown key"
    assert colour.fix is not None
    assert colour.fix.startswith("remove it; allowed here: key, use, legal_basis")
    typo = find(problems, "storage.regoin")
    assert typo.fix == "did you mean region?"
    missing = find(problems, "storage.region")
    assert missing.line == 5
    assert missing.message == "required key 'region' is missing"


def test_yes_and_no_read_as_booleans_get_a_hint() -> None:
    problems = check_text(BROKEN.replace("[en, de]", "[en, no]"), "x.yml")
    problem = find(problems, "languages[1]")
    assert problem.line == 4
    assert problem.fix is not None
    assert "quotes" in problem.fix


def test_wrong_format_version() -> None:
    problem = find(check_text(BROKEN.replace("tutela: 1", "tutela: 2"), "x.yml"), "tutela")
    assert problem.line == 1
    assert problem.fix == "write 'tutela: 1' as the first line"


def test_a_broken_item_does_not_hide_problems_of_its_neighbours() -> None:
    text = BROKEN.replace("    storage: hash\n", "    storage: hashed\n")
    problems = check_text(text, "x.yml")
    storage = find(problems, "categories[1].storage")
    assert storage.fix == "did you mean hash?"
    # The category is still declared, so the purpose that lists it is not blamed.
    assert all(p.path != "purposes[0].categories[1]" for p in problems)
    assert len(problems) == 6


def test_problem_rendering() -> None:
    problem = Problem("f.yml", 3, "purposes[0]", "something is wrong", "fix it")
    assert str(problem) == "f.yml:3: purposes[0]: something is wrong; fix it"
    assert str(Problem("f.yml", None, "", "no file")) == "f.yml: no file"
    assert problem.as_dict()["line"] == 3


def test_tab_indentation_gets_its_own_fix() -> None:
    (problem,) = check_text("tutela: 1\nlanguages:\n\t- en\n", "x.yml")
    assert problem.line == 3
    assert problem.fix == "indent with spaces; YAML does not allow tabs"


def test_yaml_tags_are_refused() -> None:
    text = BROKEN + "policy: !!python/object:os.system {}\n"
    problem = find(check_text(text, "x.yml"), "policy")
    assert (
        problem.message == "tag:yaml.org,2002:python/object:os.system: YAML tags are not supported"
    )
