"""`tutela policy publish|list|show|diff` as an operator runs them."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import yaml

from tests.e2e.test_cli import DESKTOP, ok_json, tutela


def new_version(tmp_path: Path, effective: dt.date, *, material: bool) -> Path:
    document = yaml.safe_load(DESKTOP.read_text(encoding="utf-8"))
    purpose = next(p for p in document["purposes"] if p["key"] == "user_counting")
    if material:
        purpose["categories"].append("user.contact.email")
    else:
        purpose["description"] = "Count users, nothing more."
    document["policy"] = {"version": "2027-01", "effective": effective.isoformat()}
    path = tmp_path / "2027-01.yml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    return path


def test_publish_list_show_and_diff_stored_versions(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    assert tutela(data_dir, "init", "--declarations", str(DESKTOP)).returncode == 0
    today = dt.datetime.now(dt.UTC).date()
    late = new_version(tmp_path, today + dt.timedelta(days=3), material=True)
    refused = tutela(data_dir, "policy", "publish", str(late))
    assert refused.returncode == 1
    earliest = (today + dt.timedelta(days=30)).isoformat()
    assert f"the earliest allowed effective date is {earliest}" in refused.stderr

    editorial = new_version(tmp_path, today, material=False)
    published = ok_json(data_dir, "policy", "publish", str(editorial))
    assert isinstance(published, dict)
    assert published["version"] == 2
    assert published["status"] == "in_force"
    assert published["material"] is False
    paths = [c["path"] for c in published["changes"]]
    assert paths == ["purposes[user_counting].description", "policy"]

    listed = ok_json(data_dir, "policy", "list")
    assert isinstance(listed, list)
    assert [(v["version"], v["status"], v["label"]) for v in listed] == [
        (2, "in_force", "2027-01"),
        (1, "superseded", "2024-10-09"),
    ]
    shown = ok_json(data_dir, "policy", "show", "2")
    assert isinstance(shown, dict)
    assert shown["material_changes"] == []
    assert shown["concerns"]["everyone"] is False

    diff = ok_json(data_dir, "policy", "diff", "1", "2")
    assert diff == {"material": False, "changes": published["changes"]}
    human = tutela(data_dir, "policy", "list")
    assert "version 2 (2027-01): in_force from" in human.stdout
