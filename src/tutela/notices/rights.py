"""The rights of data subjects under each law Tutela knows, and where they are exercised.

Each right names the laws that grant it and the data-subject request type of Tutela that
carries it out, if any (a complaint goes to an authority, not to the organization). The
notice lists only the rights of the declared jurisdictions, and a right that needs a
declared fact (consent-based purposes, sensitive data) only when the fact is there.

Sources: GDPR arts. 7(3), 15–18, 20–21, 77; CCPA (Cal. Civ. Code) §§ 1798.100–1798.125;
LGPD art. 18; PIPL arts. 15, 44–48, 50.
"""

from __future__ import annotations

from dataclasses import dataclass

from tutela.declarations.models import Declarations

ALL = ("gdpr", "ccpa", "lgpd", "pipl")


@dataclass(frozen=True)
class RightFacts:
    """A right of the data subject, the laws that give it, and where to exercise it."""

    key: str
    laws: tuple[str, ...]
    request_type: str | None
    url: str | None


@dataclass(frozen=True)
class _Right:
    key: str
    laws: tuple[str, ...]
    request_type: str | None
    needs: str | None = None  # consent | sensitive: listed only when declared


RIGHTS: tuple[_Right, ...] = (
    _Right("access", ALL, "access"),
    _Right("portability", ALL, "portability"),
    _Right("rectification", ALL, "rectification"),
    _Right("erasure", ALL, "erasure"),
    _Right("restriction", ("gdpr", "lgpd", "pipl"), "restriction"),
    _Right("objection", ("gdpr", "lgpd", "pipl"), "objection"),
    _Right("opt_out", ("ccpa",), "objection"),
    _Right("limit_sensitive", ("ccpa",), "restriction", needs="sensitive"),
    _Right("withdraw_consent", ALL, "withdraw_consent", needs="consent"),
    _Right("account_closure", ALL, "account_closure"),
    _Right("explanation", ("pipl",), None),
    _Right("non_discrimination", ("ccpa",), None),
    _Right("complaint", ("gdpr", "lgpd", "pipl"), None),
)


#: the page of a tenant's privacy center where each kind of request is made
PAGES = {
    "access": "download",
    "portability": "download",
    "rectification": "correct",
    "erasure": "delete",
    "withdraw_consent": "consent",
}


def rights_for(declarations: Declarations, privacy_center: str | None) -> tuple[RightFacts, ...]:
    """The rights the declared jurisdictions give, each linked into the privacy center."""
    declared = declarations.jurisdictions
    present = {
        "consent": bool(declarations.consent_purposes),
        "sensitive": bool(declarations.sensitive_categories),
    }
    found: list[RightFacts] = []
    for right in RIGHTS:
        laws = tuple(law for law in right.laws if law in declared)
        if not laws or (right.needs is not None and not present[right.needs]):
            continue
        url = (
            f"{privacy_center}{PAGES.get(right.request_type, 'requests')}"
            if privacy_center and right.request_type
            else None
        )
        found.append(RightFacts(right.key, laws, right.request_type, url))
    return tuple(found)
