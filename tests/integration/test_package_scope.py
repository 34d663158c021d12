"""An access package holds what the subject chose: some data categories, some files."""

from __future__ import annotations

import io
import json
import zipfile

import pytest

from tutela.bootstrap import Runtime
from tutela.domain.errors import InvalidInput
from tutela.services import packages, request_runner, requests, vault


def _package(rt: Runtime, request_id: str) -> zipfile.ZipFile:
    package_id = requests.package_of(rt.ctx, rt.operator(), request_id)
    return zipfile.ZipFile(io.BytesIO(packages.fetch(rt.ctx, "default", package_id)))


def test_a_package_of_chosen_categories_and_files(runtime: Runtime) -> None:
    who = runtime.operator()
    fields = {"user.contact.email": "ada@example.com", "user.account.username": "ada"}
    vault.register(runtime.ctx, who, fields)
    created = requests.create(
        runtime.ctx,
        who,
        "access",
        email="ada@example.com",
        verified_by="account_login",
        details={"categories": ["user.account"], "formats": ["json", "html"]},
    )
    request_runner.run(runtime.ctx, who, created["id"])
    archive = _package(runtime, created["id"])
    assert set(archive.namelist()) == {"data.json", "summary.html"}  # no CSV files
    stores = json.loads(archive.read("data.json"))["stores"]
    assert stores == {
        "tutela": {
            "subject": [
                {"user.account.username": {"value": "ada", "categories": ["user.account.username"]}}
            ]
        }
    }
    assert "ada@example.com" not in archive.read("summary.html").decode()


def test_a_scope_names_declared_categories_and_known_formats(runtime: Runtime) -> None:
    who = runtime.operator()
    for details in (
        {"categories": ["user.nothing"]},
        {"categories": []},
        {"formats": ["pdf"]},
        {"purposes": ["account"]},
    ):
        with pytest.raises(InvalidInput):
            requests.create(runtime.ctx, who, "access", email="ada@example.com", details=details)
