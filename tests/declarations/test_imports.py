from __future__ import annotations

import subprocess
import sys


def test_importing_declarations_loads_neither_fideslang_nor_yaml() -> None:
    code = (
        "import sys, tutela.declarations\n"
        "print(sorted(m for m in ('fideslang', 'yaml') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_model_validate_of_a_dump_does_not_load_fideslang() -> None:
    code = (
        "import sys\n"
        "from tutela.declarations import Declarations\n"
        "Declarations.model_validate({'tutela': 1, 'organization': {'name': 'X',"
        " 'contact': 'a@example.com', 'country': 'DE'}, 'jurisdictions': ['gdpr'],"
        " 'languages': ['en'], 'storage': {'region': 'EU'},"
        " 'categories': [{'key': 'user.contact.email', 'identity': True}],"
        " 'purposes': [{'key': 'a', 'use': 'essential.service', 'legal_basis': 'contract',"
        " 'categories': ['user.contact.email']}]})\n"
        "print('fideslang' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"
