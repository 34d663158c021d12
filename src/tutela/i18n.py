"""Translations: gettext catalogs (``locale/<lang>/LC_MESSAGES/<domain>.po``) read with Babel.

Each text family (the notice, mail, incident reports …) is its own gettext *domain*, so its
catalogs can grow independently. Catalogs are kept as ``.po`` source only and compiled in
memory on first use: there is no build step that could leave a stale ``.mo`` behind.

English is the source language: its text is the message id, so no English catalog exists.
A language without a catalog for a domain falls back to English for that domain.
"""

from __future__ import annotations

import io
from functools import lru_cache
from pathlib import Path

from babel import Locale, UnknownLocaleError, negotiate_locale
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

LOCALE_DIR = Path(__file__).parent / "locale"

#: Languages Tutela writes its own texts in (notices, mail, reports, pages).
LANGUAGES = ("en", "de", "ru", "cs", "sq", "zh")

#: Every gettext domain and the source files its message ids are extracted from (paths
#: relative to the package, globs allowed). The catalog tests check each language's
#: catalog holds a translation of every message the sources use.
DOMAINS: dict[str, tuple[str, ...]] = {
    "admin": ("entrypoints/admin_texts.py", "templates/admin/*.j2"),
    "incidents": (
        "services/incident_texts.py",
        "services/incident_notices.py",
        "templates/incidents/*.j2",
    ),
    "notice": ("notices/*.py", "templates/notice/*.j2"),
    "web": (
        "entrypoints/web_base.py",
        "entrypoints/web_privacy*.py",
        "templates/web/*.j2",
        "templates/web/privacy/*.j2",
    ),
    "mail": ("services/mail_texts.py",),
}


def catalog_path(domain: str, language: str) -> Path:
    return LOCALE_DIR / language / "LC_MESSAGES" / f"{domain}.po"


@lru_cache(maxsize=128)
def translations(domain: str, language: str) -> NullTranslations:
    """The compiled catalog of ``domain`` in ``language`` (English: the message ids)."""
    path = catalog_path(domain, base_language(language))
    if not path.is_file():
        return NullTranslations()
    with path.open("rb") as source:
        catalog = read_po(source, locale=base_language(language), domain=domain)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(compiled, domain=domain)


def base_language(tag: str) -> str:
    """``de-AT`` → ``de``; ``zh-Hans-CN`` → ``zh``."""
    return tag.replace("_", "-").split("-", maxsplit=1)[0].lower()


def locale(tag: str) -> Locale:
    """The Babel locale of a language tag (English when the tag is not a known locale)."""
    try:
        return Locale.parse(tag.replace("-", "_"))
    except (UnknownLocaleError, ValueError):
        return Locale.parse("en")


def parse_accept_language(header: str | None) -> list[str]:
    """Language tags of an ``Accept-Language`` header, best first (``q=0`` dropped)."""
    if not header:
        return []
    weighted: list[tuple[float, int, str]] = []
    for position, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        tag = tag.strip()
        if not tag or tag == "*":
            continue
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if quality > 0:
            weighted.append((-quality, position, tag))
    return [tag for _, _, tag in sorted(weighted)]


def negotiate(
    preferred: list[str] | str | None, available: tuple[str, ...], default: str
) -> tuple[str, bool]:
    """The best available language for a preference list (or an ``Accept-Language`` value).

    Returns the language and whether it is a fallback to ``default`` because nothing asked
    for is available (an empty preference is not a fallback).
    """
    if isinstance(preferred, str) or preferred is None:
        preferred = parse_accept_language(preferred)
    if not preferred:
        return default, False
    match = negotiate_locale(preferred, list(available), sep="-")
    if match is None:
        bases = {base_language(tag): tag for tag in reversed(available)}
        for tag in preferred:
            if base_language(tag) in bases:
                return bases[base_language(tag)], False
        return default, True
    return match, False
