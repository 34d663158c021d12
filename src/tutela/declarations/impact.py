"""Whom a policy change concerns, and which consents it makes stale.

From the material changes between two versions of the declarations (see :mod:`.diff`):

* **everyone** — a change to who the controller is or how to reach them, the laws that apply
  and so the rights, the languages, where data is stored, the minimum age, or anything this
  module does not recognise (when in doubt, tell everyone);
* otherwise the **categories** and **purposes** touched: a changed category and the purposes
  that use it; a new or changed purpose and its categories; a recipient's purposes and the
  data it receives; a cookie's purpose. A subject is concerned when Tutela holds data of one
  of these categories about them, or a consent decision of theirs about one of these
  purposes;
* **renew** — the consent-based purposes (in the new version) among those touched: consent
  given before the new version takes effect no longer counts for them, and the consent check
  answers ``consent_stale`` until the subject consents again. Continued use never stands in
  for consent.

Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from tutela.declarations.diff import Change
from tutela.declarations.models import Declarations

_PATH = re.compile(r"^(?P<head>[a-z_]+)(?:\[(?P<key>[^\]]+)\])?")

#: Sections whose material change concerns every subject.
_EVERYONE = frozenset(
    {"organization", "jurisdictions", "languages", "storage", "minimum_age", "rights", "tenancy"}
)


@dataclass(frozen=True, slots=True)
class Impact:
    everyone: bool
    categories: frozenset[str]
    purposes: frozenset[str]
    renew: frozenset[str]

    @property
    def anyone(self) -> bool:
        return self.everyone or bool(self.categories or self.purposes)

    def as_dict(self) -> dict[str, Any]:
        return {
            "everyone": self.everyone,
            "categories": sorted(self.categories),
            "purposes": sorted(self.purposes),
            "renew_consent": sorted(self.renew),
        }


NONE = Impact(False, frozenset(), frozenset(), frozenset())


def impact_of(changes: Iterable[Change], old: Declarations, new: Declarations) -> Impact:
    """The subjects and consents the material ``changes`` from ``old`` to ``new`` concern."""
    everyone = False
    categories: set[str] = set()
    purposes: set[str] = set()
    for change in changes:
        if not change.material:
            continue
        match = _PATH.match(change.path)
        head = match["head"] if match else ""
        key = match["key"] if match else None
        if head in _EVERYONE or key is None:
            everyone = True
        elif head == "categories":
            categories.add(key)
            purposes.update(p.key for p in new.purposes_using(key))
        elif head == "purposes":
            purposes.add(key)
            for version in (new, old):
                purpose = version.purpose(key)
                if purpose is not None:
                    categories.update(purpose.categories)
                    break
        elif head == "recipients":
            recipient = _named(new.recipients, key) or _named(old.recipients, key)
            if recipient is not None:
                purposes.update(recipient.purposes)
                categories.update(recipient.categories or _categories_of(new, recipient.purposes))
        elif head == "cookies":
            cookie = _named(new.cookies, key) or _named(old.cookies, key)
            if cookie is not None:
                purposes.add(cookie.purpose)
        else:
            everyone = True
    consent_based = {p.key for p in new.consent_purposes}
    renew = frozenset(purposes & consent_based)
    return Impact(everyone, frozenset(categories), frozenset(purposes), renew)


def _named(items: Iterable[Any], name: str) -> Any:
    return next((item for item in items if item.name == name), None)


def _categories_of(declarations: Declarations, purposes: Iterable[str]) -> list[str]:
    found: list[str] = []
    for key in purposes:
        purpose = declarations.purpose(key)
        if purpose is not None:
            found.extend(purpose.categories)
    return found
