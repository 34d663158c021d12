"""The notice laid out as HTML, Markdown or JSON, in one language.

HTML and Markdown come from Jinja2 templates (``tutela/templates/notice``) whose fixed texts
are gettext messages of the ``notice`` domain, translated through ``jinja2.ext.i18n``; HTML
is autoescaped. JSON is the facts themselves, with a few of them also put in words.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from typing import Any, Literal, get_args

from jinja2 import Environment, PackageLoader, StrictUndefined

from tutela import i18n
from tutela.domain.errors import InvalidInput
from tutela.notices.facts import NoticeFacts
from tutela.notices.words import DOMAIN, Words

_BLANK_RUNS = re.compile(r"\n{3,}")

NoticeFormat = Literal["html", "md", "json"]
FORMATS: tuple[str, ...] = get_args(NoticeFormat)

MEDIA_TYPES: dict[str, str] = {
    "html": "text/html; charset=utf-8",
    "md": "text/markdown; charset=utf-8",
    "json": "application/json",
}


def _cell(value: object) -> str:
    """One Markdown table cell: pipes escaped, line breaks joined."""
    if value is None:
        return ""
    return " ".join(str(value).split()).replace("|", "\\|")


@lru_cache(maxsize=32)
def environment(language: str, markup: bool) -> Environment:
    """The template environment of one language; ``markup``: HTML, autoescaped."""
    env = Environment(
        loader=PackageLoader("tutela", "templates/notice"),
        autoescape=markup,  # noqa: S701 - Markdown is not HTML; HTML is autoescaped
        extensions=["jinja2.ext.i18n"],
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.policies["ext.i18n.trimmed"] = True  # as the catalogs are extracted
    env.install_gettext_translations(  # type: ignore[attr-defined]
        i18n.translations(DOMAIN, language), newstyle=True
    )
    env.filters["cell"] = _cell
    return env


def check_format(value: str) -> NoticeFormat:
    if value not in FORMATS:
        raise InvalidInput(
            f"unknown notice format {value!r}; use one of {', '.join(FORMATS)}",
            details={"format": value},
        )
    return value  # type: ignore[return-value]


def render(facts: NoticeFacts, language: str, fmt: str = "html") -> str:
    """The notice in ``language`` (a tag Tutela writes in) as ``html``, ``md`` or ``json``."""
    kind = check_format(fmt)
    if kind == "json":
        return render_json(facts, language)
    name = "notice.html.j2" if kind == "html" else "notice.md.j2"
    template = environment(language, kind == "html").get_template(name)
    text = template.render(f=facts, w=Words(language), lang=language)
    return text if kind == "html" else _BLANK_RUNS.sub("\n\n", text)


def render_json(facts: NoticeFacts, language: str) -> str:
    """The facts as JSON, with their words in ``language`` beside the codes."""
    return json.dumps(facts_in_words(facts, language), ensure_ascii=False, indent=2) + "\n"


def facts_in_words(facts: NoticeFacts, language: str) -> dict[str, Any]:
    """The facts as data, each coded value joined by its words (``…_text``) in ``language``."""
    w = Words(language)
    data = facts.as_dict()
    data["language"] = language
    for item, category in zip(data["categories"], facts.categories, strict=True):
        item["name_text"] = w.category(category)
    for item, purpose in zip(data["purposes"], facts.purposes, strict=True):
        item["name_text"] = w.purpose(purpose.key)
        item["legal_basis_text"] = w.legal_basis(purpose.legal_basis)
        item["retention_text"] = w.retention(purpose.retention)
    for item, recipient in zip(data["recipients"], facts.recipients, strict=True):
        item["country_text"] = w.country(recipient.country)
    for item, cookie in zip(data["cookies"], facts.cookies, strict=True):
        item["expires_text"] = w.lifetime(cookie.expires)
    for item, right in zip(data["rights"], facts.rights, strict=True):
        item["name_text"] = w.right(right.key)
    return data
