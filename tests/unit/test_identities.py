from __future__ import annotations

import pytest

from tutela.domain import identities
from tutela.domain.errors import InvalidInput


def test_emails_are_trimmed_and_lowercased() -> None:
    assert identities.normalize_email("  Ada.Example@Example.COM ") == "ada.example@example.com"


@pytest.mark.parametrize("bad", ["", "ada", "ada@", "@example.com", "a b@example.com"])
def test_bad_emails_are_refused_with_a_hint(bad: str) -> None:
    with pytest.raises(InvalidInput, match="name@domain"):
        identities.normalize_email(bad)


def test_phones_become_e164_with_the_declared_region() -> None:
    assert identities.normalize_phone("0151 2345 6789", "DE") == "+4915123456789"
    assert identities.normalize_phone("+49 (151) 2345-6789", None) == "+4915123456789"
    assert identities.normalize_phone("138 0013 8000", "CN") == "+8613800138000"


def test_a_phone_without_country_code_or_region_is_refused() -> None:
    with pytest.raises(InvalidInput, match="country code"):
        identities.normalize_phone("0151 2345 6789", None)


def test_impossible_numbers_are_refused() -> None:
    with pytest.raises(InvalidInput):
        identities.normalize_phone("+49 1", None)


def test_kinds_by_category() -> None:
    assert identities.kind_of("user.contact.email") == "email"
    assert identities.kind_of("user.contact.phone_number") == "phone"
    assert identities.kind_of("user.account.username") == "user.account.username"
