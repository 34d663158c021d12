"""Which language a notice is written in: a declared language Tutela has texts for."""

from __future__ import annotations

from tutela import i18n
from tutela.declarations.models import Declarations


def notice_languages(declarations: Declarations) -> tuple[str, ...]:
    """The declared languages Tutela writes notices in, the default first."""
    return tuple(tag for tag in declarations.languages if i18n.base_language(tag) in i18n.LANGUAGES)


def default_language(declarations: Declarations) -> str:
    """The declared default language, or the first declared one Tutela writes (else en)."""
    available = notice_languages(declarations)
    return available[0] if available else "en"


def choose_language(declarations: Declarations, wanted: list[str] | str | None) -> tuple[str, bool]:
    """The language to write in for a wish (tags, or an ``Accept-Language`` value).

    Returns the language and whether it is a fallback to the default language because
    nothing wished for is available (no wish at all is not a fallback).
    """
    available = notice_languages(declarations) or ("en",)
    return i18n.negotiate(wanted, available, default_language(declarations))
