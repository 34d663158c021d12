"""Every gettext catalog translates every message its sources use, in every language."""

from __future__ import annotations

from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract
from babel.messages.pofile import read_po

from tutela import i18n

PACKAGE = Path(i18n.__file__).parent


def _sources(domain: str) -> list[Path]:
    found: list[Path] = []
    for pattern in i18n.DOMAINS[domain]:
        found.extend(sorted(PACKAGE.glob(pattern)))
    return found


def _message_ids(domain: str) -> set[str]:
    ids: set[str] = set()
    for path in _sources(domain):
        method = "python" if path.suffix == ".py" else "jinja2.ext:babel_extract"
        options = {} if path.suffix == ".py" else {"trimmed": "true"}
        with path.open("rb") as source:
            for _line, message, _comments, _context in extract(
                method, source, keywords=DEFAULT_KEYWORDS, options=options
            ):
                ids.add(message if isinstance(message, str) else message[0])
    return ids


CASES = [
    (domain, language)
    for domain in sorted(i18n.DOMAINS)
    for language in i18n.LANGUAGES
    if language != "en"
]


@pytest.mark.parametrize(("domain", "language"), CASES)
def test_catalog_translates_every_message_its_sources_use(domain: str, language: str) -> None:
    assert _sources(domain), f"domain {domain} names no source files"
    wanted = _message_ids(domain)
    assert wanted, f"the sources of {domain} use no translatable message"
    path = i18n.catalog_path(domain, language)
    assert path.is_file(), f"missing catalog {path.relative_to(PACKAGE)}"
    with path.open("rb") as source:
        catalog = read_po(source, locale=language)
    translated = {
        (m.id if isinstance(m.id, str) else m.id[0])
        for m in catalog
        if m.id and not m.fuzzy and all(m.string if isinstance(m.string, tuple) else [m.string])
    }
    missing = sorted(wanted - translated)
    unused = sorted(
        {(m.id if isinstance(m.id, str) else m.id[0]) for m in catalog if m.id} - wanted
    )
    assert not missing, f"{path.relative_to(PACKAGE)} lacks translations of {missing[:5]}"
    assert not unused, f"{path.relative_to(PACKAGE)} holds messages no source uses: {unused[:5]}"


def test_accept_language_negotiation_and_fallback() -> None:
    assert i18n.negotiate("de-DE,de;q=0.9,en;q=0.5", ("en", "de"), "en") == ("de", False)
    assert i18n.negotiate("fr-FR, fr;q=0.8", ("en", "de"), "en") == ("en", True)
    assert i18n.negotiate(None, ("en", "de"), "de") == ("de", False)
    assert i18n.negotiate("zh-CN", ("en", "zh"), "en") == ("zh", False)
    assert i18n.negotiate("ru;q=0, de", ("ru", "de"), "ru") == ("de", False)


def test_a_language_without_catalog_reads_english() -> None:
    assert i18n.translations("no-such-domain", "de").gettext("Hello") == "Hello"
