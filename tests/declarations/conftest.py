from __future__ import annotations

from collections.abc import Callable
from copy import deepcopy
from pathlib import Path
from typing import Any

import pytest
import yaml

from tutela.declarations import Problem, check_text

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

#: A small valid declaration file; tests change one thing and look at the problems.
MINIMAL: dict[str, Any] = {
    "tutela": 1,
    "organization": {"name": "Example Ltd", "contact": "privacy@example.com", "country": "DE"},
    "jurisdictions": ["gdpr"],
    "languages": ["en"],
    "storage": {"region": "EU", "countries": ["DE"]},
    "categories": [
        {"key": "user.contact.email", "identity": True},
        {"key": "user.authorization.password", "storage": "hash"},
    ],
    "purposes": [
        {
            "key": "account",
            "use": "essential.service",
            "legal_basis": "contract",
            "categories": ["user.contact.email", "user.authorization.password"],
            "retention": {"keep": "P3Y", "after": "account_closed", "then": "delete"},
        }
    ],
}

Check = Callable[[dict[str, Any]], list[Problem]]


@pytest.fixture
def minimal() -> dict[str, Any]:
    return deepcopy(MINIMAL)


@pytest.fixture
def check() -> Check:
    def run(data: dict[str, Any]) -> list[Problem]:
        return check_text(yaml.safe_dump(data, sort_keys=False), "test.yml")

    return run
