"""The facts in words of one language: names, durations, dates, countries, lists.

Fixed texts come from the ``notice`` gettext catalog; durations, dates, countries and
lists are written the local way by Babel (CLDR). What the declarations say in their own
words (descriptions, names) is shown as written.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from babel.dates import format_date
from babel.lists import format_list
from babel.units import format_unit

from tutela import i18n
from tutela.declarations.durations import Duration, parse_duration
from tutela.notices import vocabulary as v
from tutela.notices.category_names import NAMES, fallback_name
from tutela.notices.facts import CategoryFacts, ResponseTimeFacts, RetentionFacts

DOMAIN = "notice"

_UNITS = (
    ("years", "duration-year"),
    ("months", "duration-month"),
    ("weeks", "duration-week"),
    ("days", "duration-day"),
    ("hours", "duration-hour"),
    ("minutes", "duration-minute"),
    ("seconds", "duration-second"),
)
_RESPONSE_UNITS = {"months": "duration-month", "days": "duration-day"}


def purpose_name(key: str) -> str:
    """``user_counting`` → ``User counting``: a declared purpose key as a heading."""
    return key.replace("_", " ").replace("-", " ").capitalize()


class Words:
    """Everything the notice and its mail write, in one language."""

    def __init__(self, language: str) -> None:
        self.language = language
        self.locale = i18n.locale(language)
        self._catalog = i18n.translations(DOMAIN, language)

    # -- gettext -----------------------------------------------------------------------

    def gettext(self, message: str) -> str:
        return self._catalog.gettext(message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return self._catalog.ngettext(singular, plural, n)

    def _(self, message: str, **values: object) -> str:
        text = self._catalog.gettext(message)
        return text % values if values else text

    # -- numbers, dates, places --------------------------------------------------------

    def unit(self, amount: int, unit: str) -> str:
        """``3 years`` / ``3 Jahre`` / ``3年`` (short forms where CLDR has no long ones)."""
        text = format_unit(amount, unit, locale=self.locale, length="long")
        if unit in text:  # no long form in this locale's data: Babel echoes the unit id
            text = format_unit(amount, unit, locale=self.locale, length="short")
        return text

    def duration(self, iso: str | Duration) -> str:
        """An ISO 8601 duration in words: ``P1Y6M`` → ``1 year, 6 months``."""
        value = parse_duration(iso) if isinstance(iso, str) else iso
        parts = [
            self.unit(getattr(value, name), unit) for name, unit in _UNITS if getattr(value, name)
        ]
        if not parts:
            return self.unit(0, "duration-day")
        return format_list(parts, style="unit", locale=self.locale)

    def date(self, day: dt.date) -> str:
        return format_date(day, format="long", locale=self.locale)

    def country(self, code: str) -> str:
        return str(self.locale.territories.get(code.upper(), code))

    def region(self, text: str) -> str:
        """A region that is a territory code (EU, CN) by its local name, else as written."""
        code = text.strip().upper()
        if code.isalpha() and code in self.locale.territories:
            return str(self.locale.territories[code])
        return text

    def language_name(self, tag: str) -> str:
        """A language by its own name: ``de`` → ``Deutsch``."""
        own = i18n.locale(tag)
        name = own.get_display_name(own) or tag
        return name[:1].upper() + name[1:]

    def join(self, items: Iterable[str]) -> str:
        listed = [item for item in items if item]
        return format_list(listed, locale=self.locale) if listed else ""

    # -- declared values ---------------------------------------------------------------

    def category(self, category: CategoryFacts) -> str:
        if category.name:
            return category.name
        if category.key in NAMES:
            return self.gettext(NAMES[category.key])
        return fallback_name(category.key)

    def category_key(self, key: str, declared: Iterable[CategoryFacts]) -> str:
        found = next((c for c in declared if c.key == key), None)
        if found is None:
            return self.gettext(NAMES[key]) if key in NAMES else fallback_name(key)
        return self.category(found)

    def categories(self, keys: Iterable[str], declared: Iterable[CategoryFacts]) -> str:
        """The names of the categories with these keys, as a list in words."""
        known = tuple(declared)
        return self.join(self.category_key(key, known) for key in keys)

    def named(self, categories: Iterable[CategoryFacts]) -> str:
        return self.join(self.category(c) for c in categories)

    def purpose(self, key: str) -> str:
        return purpose_name(key)

    def purposes(self, keys: Iterable[str]) -> str:
        return self.join(purpose_name(key) for key in keys)

    def countries(self, codes: Iterable[str]) -> str:
        return self.join(self.country(code) for code in codes)

    def languages(self, tags: Iterable[str]) -> str:
        return self.join(self.language_name(tag) for tag in tags)

    def legal_basis(self, key: str) -> str:
        return self.gettext(v.LEGAL_BASES[key][0])

    def legal_basis_explained(self, key: str) -> str:
        return self.gettext(v.LEGAL_BASES[key][1])

    def retention(self, retention: RetentionFacts | None) -> str:
        """``3 years after the account is closed`` (the period in words, from its event)."""
        if retention is None:
            return self.gettext(v.NO_RETENTION)
        with_length, without = v.RETENTION_EVENTS[retention.after]
        keep = parse_duration(retention.keep)
        if keep.approx_days() == 0:
            return self.gettext(without)
        return self._(with_length, duration=self.duration(keep))

    def action(self, then: str) -> str:
        return self.gettext(v.RETENTION_ACTIONS[then])

    def kept(self, retention: RetentionFacts | None) -> str:
        """The period in words and what happens at its end: ``3 years …, then deleted``."""
        if retention is None:
            return self.retention(None)
        return self._(v.KEPT, period=self.retention(retention), action=self.action(retention.then))

    def tenant_bounds(self, retention: RetentionFacts | None) -> str:
        if retention is None or retention.tenant_min is None or retention.tenant_max is None:
            return ""
        return self._(
            v.TENANT_BOUNDS,
            minimum=self.duration(retention.tenant_min),
            maximum=self.duration(retention.tenant_max),
        )

    def role(self, key: str) -> str:
        return self.gettext(v.ROLES[key])

    def safeguard(self, key: str) -> str:
        return self.gettext(v.SAFEGUARDS[key])

    def safeguards(self, keys: Iterable[str]) -> str:
        return self.join(self.safeguard(k) for k in keys)

    def cookie_kind(self, key: str) -> str:
        return self.gettext(v.COOKIE_KINDS[key])

    def party(self, key: str) -> str:
        return self.gettext(v.PARTIES[key])

    def lifetime(self, expires: str) -> str:
        return self.gettext(v.SESSION) if expires == "session" else self.duration(expires)

    def law(self, key: str) -> str:
        return self.gettext(v.LAWS[key][0])

    def law_full(self, key: str) -> str:
        return self.gettext(v.LAWS[key][1])

    def laws(self, keys: Iterable[str]) -> str:
        return self.join(self.law(k) for k in keys)

    def laws_full(self, keys: Iterable[str]) -> str:
        return self.join(self.law_full(k) for k in keys)

    def right(self, key: str) -> str:
        return self.gettext(v.RIGHTS[key][0])

    def right_explained(self, key: str) -> str:
        return self.gettext(v.RIGHTS[key][1])

    def measure(self, key: str) -> str:
        return self.gettext(v.SECURITY_MEASURES[key])

    def breach_rule(self, jurisdiction: str) -> str:
        return self.gettext(v.BREACH_RULES[jurisdiction])

    def protection(self, category: CategoryFacts) -> str:
        flags = ["hashed" if category.hashed else "encrypted"]
        flags += [
            flag
            for flag, on in (
                ("sensitive", category.sensitive),
                ("separate_consent", category.separate_consent),
                ("pseudonymous", category.pseudonymous),
                ("tenant", category.controller == "tenant"),
            )
            if on
        ]
        return self.join(self.gettext(v.PROTECTION[flag]) for flag in flags)

    def response_time(self, rule: ResponseTimeFacts) -> str:
        unit = _RESPONSE_UNITS.get(rule.unit, "duration-day")
        period = self.unit(rule.amount, unit)
        if not rule.extension:
            return period
        return self._(
            v.RESPONSE_EXTENSION, period=period, extension=self.unit(rule.extension, unit)
        )
