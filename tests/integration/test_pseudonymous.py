"""Usage analytics declared pseudonymous are never stored with a data subject (seed 001:
they are not combined with the personal data given in the app)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tutela.bootstrap import Runtime, initialize, open_runtime
from tutela.domain.errors import InvalidInput
from tutela.services import vault
from tutela.settings import Settings

MOBILE = Path(__file__).resolve().parents[2] / "examples" / "mobile-app.yml"


@pytest.fixture
def mobile(settings: Settings) -> Iterator[Runtime]:
    initialize(settings, MOBILE)
    rt = open_runtime(settings)
    try:
        yield rt
    finally:
        rt.close()


def test_the_vault_refuses_pseudonymous_categories(mobile: Runtime) -> None:
    who = mobile.operator()
    with pytest.raises(InvalidInput, match="pseudonymous data is kept apart"):
        vault.register(
            mobile.ctx,
            who,
            {"user.contact.email": "p@example.com", "user.unique_id.pseudonymous": "inst-7f3a"},
        )
    sid = vault.register(mobile.ctx, who, {"user.contact.email": "p@example.com"}).id
    with pytest.raises(InvalidInput, match=r"appco\.usage_statistics"):
        vault.update(mobile.ctx, who, sid, {"appco.usage_statistics": "opens=12"})
    assert set(vault.read(mobile.ctx, who, sid).fields) == {"user.contact.email"}
