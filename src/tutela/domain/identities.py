"""Identities: the values a subject is looked up by, and how each is normalised.

Lookups never decrypt: the normalised value goes through a keyed blind index. Email
addresses are trimmed and lowercased; phone numbers become E.164 (``+4915123456789``)."""

from __future__ import annotations

import re

from tutela.domain.errors import InvalidInput

EMAIL_CATEGORY = "user.contact.email"
PHONE_CATEGORY = "user.contact.phone_number"

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def kind_of(category: str) -> str:
    """The lookup kind of an identity category."""
    if category == EMAIL_CATEGORY or category.startswith(EMAIL_CATEGORY + "."):
        return "email"
    if category == PHONE_CATEGORY or category.startswith(PHONE_CATEGORY + "."):
        return "phone"
    return category


def normalize_email(value: str) -> str:
    text = value.strip().lower()
    if not _EMAIL.match(text):
        raise InvalidInput(
            "not an email address; give it as name@domain.example",
            details={"category": EMAIL_CATEGORY},
        )
    return text


def normalize_phone(value: str, region: str | None) -> str:
    import phonenumbers

    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        hint = "" if region else "; start it with + and the country code"
        raise InvalidInput(
            f"not a phone number{hint} (e.g. +49 151 23456789)",
            details={"category": PHONE_CATEGORY},
        ) from None
    if not phonenumbers.is_possible_number(number):
        raise InvalidInput(
            "not a possible phone number for its country; check the digits and country code",
            details={"category": PHONE_CATEGORY},
        )
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


def normalize(category: str, value: str, region: str | None = None) -> str:
    """The form of ``value`` that the blind index of ``category`` is computed over."""
    kind = kind_of(category)
    if kind == "email":
        return normalize_email(value)
    if kind == "phone":
        return normalize_phone(value, region)
    text = " ".join(value.split()).casefold()
    if not text:
        raise InvalidInput("an identity value cannot be empty", details={"category": category})
    return text


_HIDDEN = "\u2022\u2022\u2022"


def mask(kind: str, value: str) -> str:
    """A normalised identity with most of it hidden, for lists: ``a•••@example.com``,
    ``+49•••89``; enough to tell entries apart, not to read the address."""
    if not value:
        return ""
    if kind == "email" and "@" in value:
        local, _, domain = value.rpartition("@")
        return f"{local[:1]}{_HIDDEN}@{domain}"
    if kind == "phone" and len(value) > 6:
        return f"{value[:3]}{_HIDDEN}{value[-2:]}"
    return f"{value[:1]}{_HIDDEN}"
