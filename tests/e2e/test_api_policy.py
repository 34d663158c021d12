"""Policy versions over HTTP, and a serving process following the version in force."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import yaml
from fastapi.testclient import TestClient

from tests.conftest import DESKTOP
from tutela.bootstrap import Runtime, open_runtime
from tutela.entrypoints.api import create_app
from tutela.entrypoints.api_consent import FastPath
from tutela.services import policy


def editorial_version(tmp_path: Path, effective: dt.date) -> Path:
    document = yaml.safe_load(DESKTOP.read_text(encoding="utf-8"))
    purpose = next(p for p in document["purposes"] if p["key"] == "user_counting")
    purpose["description"] = "Count users, nothing more."
    document["policy"] = {"version": "2027-01", "effective": effective.isoformat()}
    path = tmp_path / "2027-01.yml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    return path


def test_versions_are_listed_and_a_server_follows_the_version_in_force(
    runtime: Runtime, tmp_path: Path
) -> None:
    admin = {"Authorization": f"Bearer {runtime.notes[0]}"}
    with TestClient(FastPath(create_app(runtime=runtime))) as serving:
        assert serving.get("/v1/declarations", headers=admin).json()["version"] == 1
        # another process publishes a version in force today
        other = open_runtime(runtime.settings)
        try:
            today = dt.datetime.now(dt.UTC).date()
            policy.publish(other.ctx, other.operator(), editorial_version(tmp_path, today))
        finally:
            other.close()
        serving.app.__dict__["_next_look"] = 0.0  # as if the look interval had passed
        current = serving.get("/v1/declarations", headers=admin).json()
        assert current["version"] == 2
        described = next(
            p for p in current["declarations"]["purposes"] if p["key"] == "user_counting"
        )
        assert described["description"] == "Count users, nothing more."

        listed = serving.get("/v1/policy/versions", headers=admin)
        assert listed.status_code == 200
        assert [(v["version"], v["status"]) for v in listed.json()] == [
            (2, "in_force"),
            (1, "superseded"),
        ]
        shown = serving.get("/v1/policy/versions/2", headers=admin).json()
        assert shown["label"] == "2027-01"
        assert shown["material_changes"] == []
        missing = serving.get("/v1/policy/versions/9", headers=admin)
        assert missing.status_code == 404
        assert "tutela policy list" in missing.json()["error"]["message"]
