"""Whom a policy change concerns, and which consents it makes stale."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from tutela.declarations import Declarations, load_declarations
from tutela.declarations.diff import diff_declarations
from tutela.declarations.impact import impact_of

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
HELPDESK = EXAMPLES / "saas-helpdesk.yml"


def variant(tmp_path: Path, edit: Any) -> tuple[Declarations, Declarations]:
    document = yaml.safe_load(HELPDESK.read_text(encoding="utf-8"))
    edit(document)
    path = tmp_path / "new.yml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    return load_declarations(HELPDESK), load_declarations(path)


def impact(tmp_path: Path, edit: Any) -> dict[str, Any]:
    old, new = variant(tmp_path, edit)
    return impact_of(diff_declarations(old, new), old, new).as_dict()


def test_a_new_contact_concerns_everyone_but_renews_no_consent(tmp_path: Path) -> None:
    def edit(d: dict[str, Any]) -> None:
        d["organization"]["contact"] = "privacy-office@example.com"

    assert impact(tmp_path, edit) == {
        "everyone": True,
        "categories": [],
        "purposes": [],
        "renew_consent": [],
    }


def test_wording_concerns_nobody(tmp_path: Path) -> None:
    def edit(d: dict[str, Any]) -> None:
        d["purposes"][0]["description"] = "Said differently."

    found = impact(tmp_path, edit)
    assert found == {"everyone": False, "categories": [], "purposes": [], "renew_consent": []}


def test_a_recipient_of_another_company_concerns_its_purposes_and_data(tmp_path: Path) -> None:
    document = yaml.safe_load(HELPDESK.read_text(encoding="utf-8"))
    recipient = document["recipients"][0]

    def edit(d: dict[str, Any]) -> None:
        d["recipients"][0]["company"] = "Example Acquirer Ltd."

    found = impact(tmp_path, edit)
    assert found["everyone"] is False
    assert set(recipient["purposes"]) <= set(found["purposes"])
    old = load_declarations(HELPDESK)
    expected = set(recipient.get("categories") or [])
    if not expected:
        for key in recipient["purposes"]:
            expected.update(old.purpose(key).categories)  # type: ignore[union-attr]
    assert expected <= set(found["categories"])
    consent_based = {p.key for p in old.consent_purposes}
    assert set(found["renew_consent"]) == set(recipient["purposes"]) & consent_based


def test_a_purpose_using_more_data_renews_its_consent_when_consent_based(
    tmp_path: Path,
) -> None:
    old = load_declarations(HELPDESK)
    purpose = old.consent_purposes[0]
    extra = next(c.key for c in old.categories if c.key not in purpose.categories)

    def edit(d: dict[str, Any]) -> None:
        entry = next(p for p in d["purposes"] if p["key"] == purpose.key)
        entry["categories"].append(extra)

    found = impact(tmp_path, edit)
    assert found["purposes"] == [purpose.key]
    assert extra in found["categories"]
    assert found["renew_consent"] == [purpose.key]
