"""`tutela policy diff`: every change between two declaration files, material or editorial."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from tutela.declarations import load_declarations
from tutela.declarations.diff import Change, diff_declarations, is_material
from tutela.entrypoints.cli import app

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "desktop-vendor.yml"

Edit = Callable[[dict[str, Any]], None]


def _purpose(data: dict[str, Any], key: str) -> dict[str, Any]:
    return next(p for p in data["purposes"] if p["key"] == key)


def _write(tmp_path: Path, edit: Edit, name: str = "new.yml") -> Path:
    data = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    edit(data)
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def _diff(tmp_path: Path, edit: Edit) -> list[Change]:
    return diff_declarations(load_declarations(EXAMPLE), load_declarations(_write(tmp_path, edit)))


def _only(changes: list[Change]) -> Change:
    assert len(changes) == 1, [c.as_dict() for c in changes]
    return changes[0]


def _add_newsletter(data: dict[str, Any]) -> None:
    data["purposes"].append(
        {
            "key": "newsletter",
            "use": "marketing.communications.email",
            "legal_basis": "consent",
            "categories": ["user.contact.email"],
            "retention": {"keep": "P2Y", "after": "consent_withdrawn"},
        }
    )


def test_identical_files_have_no_changes() -> None:
    same = load_declarations(EXAMPLE)
    assert diff_declarations(same, same) == []


def test_a_new_purpose_is_material(tmp_path: Path) -> None:
    change = _only(_diff(tmp_path, _add_newsletter))
    assert (change.path, change.kind, change.material) == ("purposes[newsletter]", "added", True)
    assert change.old is None
    assert change.new["key"] == "newsletter"
    assert "new purpose" in change.reason


def test_a_removed_purpose_is_listed_as_editorial(tmp_path: Path) -> None:
    def drop(data: dict[str, Any]) -> None:
        data["purposes"] = [p for p in data["purposes"] if p["key"] != "user_counting"]
        data["cookies"] = [c for c in data["cookies"] if c["purpose"] != "user_counting"]

    changes = _diff(tmp_path, drop)
    assert {(c.path, c.kind) for c in changes} == {
        ("purposes[user_counting]", "removed"),
        ("cookies[visitor_id]", "removed"),
    }
    assert not is_material(changes)


def test_a_recipient_in_another_country_is_a_material_transfer(tmp_path: Path) -> None:
    def add(data: dict[str, Any]) -> None:
        data["recipients"] = [
            {
                "name": "Mailer",
                "role": "processor",
                "company": "Mailer Inc.",
                "country": "US",
                "purposes": ["support"],
                "categories": ["user.contact.email"],
                "transfer_safeguard": "standard_contract",
            }
        ]

    change = _only(_diff(tmp_path, add))
    assert (change.path, change.kind, change.material) == ("recipients[Mailer]", "added", True)
    assert "processor" in change.reason
    assert "cross-border transfer" in change.reason
    assert "US" in change.reason


@pytest.mark.parametrize(("keep", "material"), [("P3Y", True), ("P1Y", False), ("P24M", False)])
def test_retention_is_compared_by_length(tmp_path: Path, keep: str, material: bool) -> None:
    def edit(data: dict[str, Any]) -> None:
        _purpose(data, "support")["retention"]["keep"] = keep

    change = _only(_diff(tmp_path, edit))
    assert change.path == "purposes[support].retention.keep"
    assert (change.old, change.new, change.material) == ("P2Y", keep, material)


def test_retention_then_delete_to_anonymize_is_material_and_back_is_editorial(
    tmp_path: Path,
) -> None:
    def to_anonymize(data: dict[str, Any]) -> None:
        _purpose(data, "support")["retention"]["then"] = "anonymize"

    def to_delete(data: dict[str, Any]) -> None:
        _purpose(data, "user_counting")["retention"]["then"] = "delete"

    assert _only(_diff(tmp_path, to_anonymize)).material
    assert not _only(_diff(tmp_path, to_delete)).material


def test_a_changed_retention_start_is_material(tmp_path: Path) -> None:
    def edit(data: dict[str, Any]) -> None:
        _purpose(data, "support")["retention"]["after"] = "last_activity"

    change = _only(_diff(tmp_path, edit))
    assert (change.path, change.material) == ("purposes[support].retention.after", True)


def test_a_changed_legal_basis_is_material(tmp_path: Path) -> None:
    def edit(data: dict[str, Any]) -> None:
        _purpose(data, "security_logs")["legal_basis"] = "consent"

    change = _only(_diff(tmp_path, edit))
    assert change.path == "purposes[security_logs].legal_basis"
    assert (change.old, change.new, change.material) == ("legitimate_interests", "consent", True)


def test_a_changed_contact_and_dpo_are_material(tmp_path: Path) -> None:
    def edit(data: dict[str, Any]) -> None:
        data["organization"]["contact"] = "privacy@example.com"
        data["organization"]["dpo"]["email"] = "officer@example.com"

    changes = _diff(tmp_path, edit)
    assert [c.path for c in changes] == ["organization.contact", "organization.dpo"]
    assert all(c.material for c in changes)


def test_a_new_or_newly_sensitive_category_is_material(tmp_path: Path) -> None:
    def edit(data: dict[str, Any]) -> None:
        data["categories"][-1]["sensitive"] = True  # user.device.ip_address
        data["categories"].append({"key": "user.contact.phone_number"})
        _purpose(data, "support")["categories"].append("user.contact.phone_number")

    changes = {c.path: c for c in _diff(tmp_path, edit)}
    assert set(changes) == {
        "categories[user.device.ip_address].sensitive",
        "categories[user.contact.phone_number]",
        "purposes[support].categories[user.contact.phone_number]",
    }
    assert all(c.material for c in changes.values())


def test_rights_changes_are_material(tmp_path: Path) -> None:
    def edit(data: dict[str, Any]) -> None:
        data["languages"] = ["de", "en", "fr"]
        data["minimum_age"] = 16

    changes = {c.path: c for c in _diff(tmp_path, edit)}
    assert set(changes) == {"languages[fr]", "minimum_age"}
    assert changes["languages[fr]"].kind == "added"
    assert all(c.material for c in changes.values())


def test_storage_in_a_new_country_is_material(tmp_path: Path) -> None:
    def edit(data: dict[str, Any]) -> None:
        data["storage"]["countries"] = ["DE", "IE"]

    change = _only(_diff(tmp_path, edit))
    assert (change.path, change.kind, change.material) == ("storage.countries[IE]", "added", True)


def test_a_description_only_is_editorial(tmp_path: Path) -> None:
    def edit(data: dict[str, Any]) -> None:
        _purpose(data, "orders")["description"] = "Orders, kept as tax law requires."
        data["categories"][0]["description"] = "The login name."

    changes = _diff(tmp_path, edit)
    assert len(changes) == 2
    assert {c.kind for c in changes} == {"changed"}
    assert not is_material(changes)


def test_reordered_lists_are_no_change(tmp_path: Path) -> None:
    def edit(data: dict[str, Any]) -> None:
        data["purposes"].reverse()
        data["categories"].reverse()
        data["cookies"].reverse()
        for purpose in data["purposes"]:
            purpose["categories"].reverse()

    assert _diff(tmp_path, edit) == []


# --- command line ----------------------------------------------------------------------


def test_cli_prints_one_line_per_change(tmp_path: Path) -> None:
    def edit(data: dict[str, Any]) -> None:
        _add_newsletter(data)
        _purpose(data, "orders")["description"] = "Orders, kept as tax law requires."

    new = _write(tmp_path, edit)
    result = CliRunner().invoke(app, ["policy", "diff", str(EXAMPLE), str(new)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines == [
        "editorial purposes[orders].description: changed Orders linked to the account, kept as "
        "long as tax law requires. → Orders, kept as tax law requires. — wording or "
        "presentation only; what is processed does not change",
        "MATERIAL purposes[newsletter]: added — a new purpose needs notice "
        "(and consent where consent-based)",
    ]


def test_cli_json(tmp_path: Path) -> None:
    new = _write(tmp_path, _add_newsletter)
    result = CliRunner().invoke(app, ["policy", "diff", str(EXAMPLE), str(new), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["material"] is True
    assert [(c["path"], c["kind"], c["material"]) for c in data["changes"]] == [
        ("purposes[newsletter]", "added", True)
    ]
    assert set(data["changes"][0]) == {"path", "kind", "old", "new", "material", "reason"}


def test_cli_no_changes_exits_zero() -> None:
    result = CliRunner().invoke(app, ["policy", "diff", str(EXAMPLE), str(EXAMPLE), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {"material": False, "changes": []}
    plain = CliRunner().invoke(app, ["policy", "diff", str(EXAMPLE), str(EXAMPLE)])
    assert plain.output.strip() == "no changes"
