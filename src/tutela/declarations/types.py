"""Constrained string types of the declaration file, each with a message and a fix."""

from __future__ import annotations

import re
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator, BeforeValidator, WithJsonSchema
from pydantic_core import PydanticCustomError

from tutela.declarations import codes
from tutela.declarations.durations import DURATION_PATTERN, parse_duration

#: The error type of every check in this module; ``ctx`` carries ``message`` and ``fix``.
ERROR_TYPE = "declaration"


def invalid(message: str, fix: str) -> PydanticCustomError:
    """An error pydantic reports with our own message and fix."""
    return PydanticCustomError(ERROR_TYPE, "{message}", {"message": message, "fix": fix})


_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
_SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")
_KEY = re.compile(r"^[a-z][a-z0-9_-]*$")
_TAXONOMY_KEY = re.compile(r"^[a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)*$")
_PREFIX = re.compile(r"^[a-z][a-z0-9_]*$")
_ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")
_LANGUAGE = re.compile(
    r"^(?P<lang>[a-z]{2,3})(?:-(?P<script>[A-Z][a-z]{3}))?(?:-(?P<region>[A-Z]{2}|\d{3}))?$"
)


def _email(value: str) -> str:
    if not _EMAIL.match(value):
        raise invalid("not an email address", "write it as name@example.com")
    return value


def _country(value: str) -> str:
    code = value.strip().upper()
    if code in codes.COUNTRIES:
        return code
    if code in codes.COUNTRY_ALIASES:
        fix = f"did you mean {codes.COUNTRY_ALIASES[code]}?"
    else:
        fix = "use a two-letter ISO 3166-1 code such as DE, CN or US"
    raise invalid(f"{value}: unknown country code", fix)


def _canonical_language(value: object) -> object:
    if not isinstance(value, str):
        return value
    parts = value.strip().replace("_", "-").split("-")
    out = [parts[0].lower()]
    for part in parts[1:]:
        if len(part) == 4 and part.isalpha():
            out.append(part.title())
        else:
            out.append(part.upper())
    return "-".join(out)


def _language(value: str) -> str:
    match = _LANGUAGE.match(value)
    if match is None:
        raise invalid(
            f"{value}: not a language tag",
            "use a BCP 47 tag such as en, de, zh-Hans or pt-BR",
        )
    lang = match["lang"]
    if lang not in codes.LANGUAGES and lang not in codes.LANGUAGES_3:
        raise invalid(
            f"{value}: unknown language code {lang!r}",
            "use a two-letter ISO 639-1 code such as en, de, sq or zh",
        )
    return value


def _duration(value: str) -> str:
    try:
        parse_duration(value)
    except ValueError:
        raise invalid(
            f"{value}: not an ISO 8601 duration",
            "write it like P3Y (3 years), P6M (6 months), P30D (30 days) or PT12H (12 hours)",
        ) from None
    return value


def _url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise invalid(
            f"{value}: not a web address",
            "write a full address such as https://example.com/privacy",
        )
    return value


def _slug(value: str) -> str:
    if not _SLUG.match(value):
        raise invalid(
            f"{value}: not a valid id",
            "use lowercase letters, digits and hyphens, such as acme-retail",
        )
    return value


def _key(value: str) -> str:
    if not _KEY.match(value):
        raise invalid(
            f"{value}: not a valid key",
            "use lowercase letters, digits, underscores and hyphens, starting with a letter",
        )
    return value


def _taxonomy_key(value: str) -> str:
    if not _TAXONOMY_KEY.match(value):
        raise invalid(
            f"{value}: not a taxonomy key",
            "use dotted lowercase words such as user.contact.email",
        )
    return value


def _prefix(value: str) -> str:
    if not _PREFIX.match(value):
        raise invalid(
            f"{value}: not a valid prefix",
            "use one lowercase word such as custom or acme",
        )
    return value


def _connection(value: str) -> str:
    scheme, _, name = value.partition(":")
    if scheme != "env" or not _ENV_NAME.match(name):
        raise invalid(
            # The value is not repeated: it may be a URL with a password in it.
            "not an env:NAME reference",
            "write env:NAME and put the database URL in that environment variable, "
            "such as env:SHOP_DATABASE_URL (never the URL itself)",
        )
    return value


def _secret(value: str) -> str:
    scheme, _, name = value.partition(":")
    if scheme != "env" or not _ENV_NAME.match(name):
        raise invalid(
            # The value is not repeated: it may be the secret itself.
            "not an env:NAME reference",
            "write env:NAME and put the secret in that environment variable, "
            "such as env:BILLING_HOOK_SECRET (never the secret itself)",
        )
    return value


_FIELD_PATH = re.compile(r"^[^.\s]+\.[^.\s]+(?:\.[^.\s]+)*$")


def _field_path(value: str) -> str:
    if not _FIELD_PATH.match(value):
        raise invalid(
            f"{value}: not a collection.field name",
            "write the collection, a dot and the field, such as customer.email "
            "(or customer.* for every field)",
        )
    return value


def _expiry(value: str) -> str:
    return value if value == "session" else _duration(value)


def _string(pattern: str, description: str, *examples: str) -> WithJsonSchema:
    schema: dict[str, object] = {"type": "string", "description": description}
    if pattern:
        schema["pattern"] = pattern
    if examples:
        schema["examples"] = list(examples)
    return WithJsonSchema(schema)


Email = Annotated[
    str, AfterValidator(_email), _string("", "An email address.", "privacy@example.com")
]
CountryCode = Annotated[
    str,
    AfterValidator(_country),
    _string("^[A-Za-z]{2}$", "ISO 3166-1 alpha-2 country code.", "DE", "CN"),
]
LanguageTag = Annotated[
    str,
    BeforeValidator(_canonical_language),
    AfterValidator(_language),
    _string(
        _LANGUAGE.pattern.replace("?P<lang>", "")
        .replace("?P<script>", "")
        .replace("?P<region>", ""),
        "BCP 47 language tag.",
        "en",
        "zh-Hans",
    ),
]
IsoDuration = Annotated[
    str,
    AfterValidator(_duration),
    _string(DURATION_PATTERN, "ISO 8601 duration.", "P3Y", "P6M", "P30D"),
]
Expiry = Annotated[
    str,
    AfterValidator(_expiry),
    _string("", "ISO 8601 duration, or 'session'.", "session", "P1Y"),
]
Url = Annotated[
    str, AfterValidator(_url), _string("^https?://", "Web address.", "https://example.com")
]
Slug = Annotated[str, AfterValidator(_slug), _string(_SLUG.pattern, "Lowercase id.", "acme-retail")]
Key = Annotated[str, AfterValidator(_key), _string(_KEY.pattern, "Lowercase key.", "account")]
TaxonomyKey = Annotated[
    str,
    AfterValidator(_taxonomy_key),
    _string(_TAXONOMY_KEY.pattern, "Dotted taxonomy key.", "user.contact.email"),
]
Prefix = Annotated[
    str, AfterValidator(_prefix), _string(_PREFIX.pattern, "One lowercase word.", "acme")
]
Connection = Annotated[
    str,
    AfterValidator(_connection),
    _string(
        r"^env:[A-Z_][A-Z0-9_]*$", "Environment variable holding a URL.", "env:SHOP_DATABASE_URL"
    ),
]
SecretRef = Annotated[
    str,
    AfterValidator(_secret),
    _string(
        r"^env:[A-Z_][A-Z0-9_]*$",
        "Environment variable holding a secret.",
        "env:BILLING_HOOK_SECRET",
    ),
]
FieldPath = Annotated[
    str,
    AfterValidator(_field_path),
    _string(_FIELD_PATH.pattern, "A dataset field as collection.field.", "customer.email"),
]
