"""The mail that announces a policy change to data subjects, in their language.

:func:`policy_change_message` writes the subject line and the plain-text body: when the
new version takes effect, each material change in a sentence a person understands, which
consent-based purposes will ask for consent again, where to read the new notice, how to
object or close the account before the date, and whom to ask.

Pure: works on the new declarations and the changes from :mod:`tutela.declarations.diff`.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Sequence

from tutela import i18n
from tutela.declarations.diff import Change
from tutela.declarations.impact import impact_of
from tutela.declarations.models import Declarations
from tutela.domain.consent import effective_minimum_age
from tutela.notices.facts import NoticeFacts, build_facts
from tutela.notices.languages import default_language
from tutela.notices.words import Words

_PATH = re.compile(r"^(?P<section>[a-z_]+)(?:\[(?P<key>[^\]]+)\])?(?:\.(?P<rest>.+))?$")
_MEMBER = re.compile(r"^(?P<field>[a-z_.]+?)\[(?P<item>[^\]]+)\]$")


def policy_change_message(
    declarations: Declarations,
    language: str,
    changes: Sequence[Change],
    *,
    label: str,
    effective: dt.date,
    privacy_center_url: str | None,
) -> tuple[str, str]:
    """The subject line and plain-text body announcing version ``label`` of the policy.

    ``declarations`` is the new version; ``changes`` the changes from the old one (only
    the material ones are told); ``language`` the subject's language (a language Tutela
    does not write falls back to the declared default).
    """
    if i18n.base_language(language) not in i18n.LANGUAGES:
        language = default_language(declarations)
    w = Words(language)
    facts = build_facts(declarations, version=label, effective=effective)
    org = facts.organization
    date = w.date(effective)
    material = [c for c in changes if c.material]
    subject = w._(
        "%(organization)s: our privacy notice changes on %(date)s",
        organization=org.name,
        date=date,
    )
    lines = [
        w._("Hello,"),
        "",
        w._(
            "%(organization)s is changing its privacy notice. Version %(version)s takes "
            "effect on %(date)s.",
            organization=org.name,
            version=label,
            date=date,
        ),
        "",
    ]
    told = list(dict.fromkeys(_describe(c, declarations, facts, w) for c in material))
    if told:
        lines += [w._("What changes:"), *(f"- {line}" for line in told), ""]
    else:
        lines += [w._("Only the wording changes; what we do with your data stays the same."), ""]
    lines += _consent(material, declarations, w, date)
    lines += _where_to_read(facts, w, privacy_center_url, date)
    lines += _contact(facts, w)
    return subject, "\n".join(lines) + "\n"


def consent_purposes_touched(
    changes: Sequence[Change], declarations: Declarations
) -> tuple[list[str], list[str]]:
    """Consent-based purposes the material changes touch: (renewed, new).

    *renewed* purposes existed before: consent given to them no longer counts once the
    version takes effect (as :func:`tutela.declarations.impact.impact_of` decides); *new*
    purposes are asked for the first time.
    """
    material = [c for c in changes if c.material]
    touched = impact_of(material, declarations, declarations).renew
    added = {
        match["key"]
        for c in material
        if c.kind == "added"
        and (match := _PATH.match(c.path)) is not None
        and match["section"] == "purposes"
        and not match["rest"]
    }
    return sorted(touched - added), sorted(touched & added)


def _consent(
    changes: Sequence[Change], declarations: Declarations, w: Words, date: str
) -> list[str]:
    renewed, new = consent_purposes_touched(changes, declarations)
    lines: list[str] = []
    if renewed:
        lines += [
            w._(
                "These purposes rest on your consent, and we will ask for it again: "
                "%(purposes)s. From %(date)s we will not process your data for them until "
                "you consent again.",
                purposes=w.purposes(renewed),
                date=date,
            ),
            "",
        ]
    if new:
        lines += [
            w._(
                "These new purposes rest on your consent and apply to you only if you agree: "
                "%(purposes)s.",
                purposes=w.purposes(new),
            ),
            "",
        ]
    return lines


def _where_to_read(facts: NoticeFacts, w: Words, center: str | None, date: str) -> list[str]:
    contact = facts.organization.contact
    lines: list[str] = []
    if center:
        lines.append(w._("Read the new notice and manage your choices: %(url)s", url=center))
    if facts.policy_url and facts.policy_url != center:
        lines.append(w._("The notice is published at %(url)s", url=facts.policy_url))
    if not lines:
        lines.append(w._("Ask us for the new notice at %(email)s.", email=contact))
    if center:
        objection = w._(
            "If you do not agree, you can object or close your account before %(date)s, in "
            "the privacy center or by writing to %(email)s.",
            date=date,
            email=contact,
        )
    else:
        objection = w._(
            "If you do not agree, you can object or close your account before %(date)s by "
            "writing to %(email)s.",
            date=date,
            email=contact,
        )
    return [*lines, "", objection, ""]


def _contact(facts: NoticeFacts, w: Words) -> list[str]:
    org = facts.organization
    lines = [w._("Questions: %(email)s", email=org.contact)]
    if org.dpo:
        lines.append(
            w._(
                "Data protection officer: %(name)s, %(email)s",
                name=org.dpo.name,
                email=org.dpo.email,
            )
        )
    return [*lines, "", org.name]


# --- one sentence per change -----------------------------------------------------------


def _describe(change: Change, new: Declarations, facts: NoticeFacts, w: Words) -> str:
    """One line telling a person what the change means for them."""
    match = _PATH.match(change.path)
    if match is not None:
        section, key, rest = match["section"], match["key"], match["rest"] or ""
        describe = _SECTIONS.get(section)
        if describe is not None:
            told = describe(key, rest, change, new, facts, w)
            if told:
                return told
    return w._("A further change concerning: %(what)s.", what=change.path)


def _organization(
    key: str | None, rest: str, change: Change, new: Declarations, facts: NoticeFacts, w: Words
) -> str | None:
    org = facts.organization
    if rest == "name":
        return w._("The company responsible for your data is now %(name)s.", name=org.name)
    if rest == "contact":
        return w._("Our privacy contact address is now %(email)s.", email=org.contact)
    if rest == "country":
        return w._("We are now established in %(country)s.", country=w.country(org.country))
    if rest == "address" and org.address:
        return w._("Our postal address is now %(address)s.", address=org.address)
    if rest == "dpo":
        if org.dpo is None:
            return w._(
                "We no longer name a data protection officer; write to %(email)s.",
                email=org.contact,
            )
        return w._(
            "Our data protection officer is now %(name)s, %(email)s.",
            name=org.dpo.name,
            email=org.dpo.email,
        )
    return None


def _jurisdictions(
    key: str | None, rest: str, change: Change, new: Declarations, facts: NoticeFacts, w: Words
) -> str | None:
    if key is None:
        return None
    if change.kind == "added":
        return w._("A further law now applies: %(law)s.", law=w.law_full(key))
    return w._("A law no longer applies: %(law)s.", law=w.law_full(key))


def _languages(
    key: str | None, rest: str, change: Change, new: Declarations, facts: NoticeFacts, w: Words
) -> str | None:
    if key == "0":
        return w._(
            "The default language of the notice is now %(language)s.",
            language=w.language_name(new.default_language),
        )
    if key is None:
        return None
    if change.kind == "added":
        return w._(
            "The notice is now also available in %(language)s.", language=w.language_name(key)
        )
    return w._("The notice is no longer available in %(language)s.", language=w.language_name(key))


def _minimum_age(
    key: str | None, rest: str, change: Change, new: Declarations, facts: NoticeFacts, w: Words
) -> str | None:
    age = effective_minimum_age(new.jurisdictions, new.minimum_age)
    return w._("A parent or guardian must now consent below the age of %(age)s.", age=age)


def _storage(
    key: str | None, rest: str, change: Change, new: Declarations, facts: NoticeFacts, w: Words
) -> str | None:
    if rest == "region":
        return w._(
            "Your data is now stored in this region: %(region)s.",
            region=w.region(new.storage.region),
        )
    member = _MEMBER.match(rest)
    if member is not None and member["field"] == "countries" and change.kind == "added":
        return w._(
            "Copies of your data are now also kept in %(country)s.",
            country=w.country(member["item"]),
        )
    return None


def _tenancy(
    key: str | None, rest: str, change: Change, new: Declarations, facts: NoticeFacts, w: Words
) -> str | None:
    if rest != "multi_tenant":
        return None
    if change.new:
        return w._("Enterprise customers now control the data of the users they invite.")
    return w._("Enterprise customers no longer control their users' data; we do.")


def _categories(
    key: str | None, rest: str, change: Change, new: Declarations, facts: NoticeFacts, w: Words
) -> str | None:
    if key is None:
        return None
    name = w.category_key(key, facts.categories)
    category = new.category(key)
    if not rest:
        if change.kind != "added":
            return None
        if category is not None and category.sensitive:
            return w._("New sensitive data collected: %(category)s.", category=name)
        return w._("New data collected: %(category)s.", category=name)
    on = bool(change.new)
    texts: dict[tuple[str, bool], str] = {
        ("sensitive", True): w._("Now treated as sensitive data: %(category)s.", category=name),
        ("sensitive", False): w._(
            "No longer treated as sensitive data: %(category)s.", category=name
        ),
        ("separate_consent", True): w._(
            "Now needs your separate consent: %(category)s.", category=name
        ),
        ("separate_consent", False): w._(
            "No longer needs your separate consent: %(category)s.", category=name
        ),
        ("pseudonymous", False): w._(
            "May now be combined with data that identifies you: %(category)s.", category=name
        ),
    }
    if rest == "controller":
        if change.new == "tenant":
            return w._(
                "Now controlled by the enterprise customer that invited you: %(category)s.",
                category=name,
            )
        return w._(
            "Now controlled by us instead of the enterprise customer: %(category)s.",
            category=name,
        )
    return texts.get((rest, on))


def _purposes(
    key: str | None, rest: str, change: Change, new: Declarations, facts: NoticeFacts, w: Words
) -> str | None:
    if key is None:
        return None
    purpose = new.purpose(key)
    name = w.purpose(key)
    if not rest:
        if change.kind != "added" or purpose is None:
            return None
        basis = w.legal_basis(purpose.legal_basis)
        if purpose.description:
            return w._(
                "A new purpose: %(purpose)s (legal basis: %(basis)s). %(description)s",
                purpose=name,
                basis=basis,
                description=" ".join(purpose.description.split()),
            )
        return w._(
            "A new purpose: %(purpose)s (legal basis: %(basis)s).", purpose=name, basis=basis
        )
    if purpose is None:
        return None
    if rest == "use":
        return w._("%(purpose)s: the data is now put to a different use.", purpose=name)
    if rest == "legal_basis":
        return w._(
            "%(purpose)s: the legal basis is now %(basis)s.",
            purpose=name,
            basis=w.legal_basis(purpose.legal_basis),
        )
    member = _MEMBER.match(rest)
    if member is not None and member["field"] == "categories":
        return w._(
            "%(purpose)s: now also uses %(category)s.",
            purpose=name,
            category=w.category_key(member["item"], facts.categories),
        )
    if member is not None and member["field"] == "subjects":
        return w._(
            "%(purpose)s: now also processes data of another group of people (%(group)s).",
            purpose=name,
            group=member["item"].replace("_", " "),
        )
    if rest.startswith("retention"):
        return _retention(key, rest, change, facts, w)
    return None


def _retention(key: str, rest: str, change: Change, facts: NoticeFacts, w: Words) -> str | None:
    purpose = next(p for p in facts.purposes if p.key == key)
    name = w.purpose(key)
    retention = purpose.retention
    if retention is None:
        return w._("%(purpose)s: the data is no longer deleted after a fixed period.", purpose=name)
    if rest == "retention.keep":
        return w._(
            "Kept longer: %(purpose)s, now %(retention)s.",
            purpose=name,
            retention=w.retention(retention),
        )
    if rest == "retention.after":
        return w._(
            "%(purpose)s: now kept %(retention)s.", purpose=name, retention=w.retention(retention)
        )
    if rest == "retention.then":
        return w._(
            "%(purpose)s: at the end of the period the data is now anonymized instead of deleted.",
            purpose=name,
        )
    if rest.startswith("retention.tenant_configurable") and retention.tenant_max:
        return w._(
            "%(purpose)s: enterprise customers may now keep the data for up to %(duration)s.",
            purpose=name,
            duration=w.duration(retention.tenant_max),
        )
    return None


def _recipients(
    key: str | None, rest: str, change: Change, new: Declarations, facts: NoticeFacts, w: Words
) -> str | None:
    recipient = next((r for r in facts.recipients if r.name == key), None)
    if key is None or recipient is None:
        return None
    country = w.country(recipient.country)
    if not rest:
        if change.kind != "added":
            return None
        return w._("A new recipient: %(name)s (%(country)s).", name=key, country=country)
    if rest == "country":
        return w._("%(name)s: now receives your data in %(country)s.", name=key, country=country)
    if rest == "role":
        return w._("%(name)s: its role is now: %(role)s.", name=key, role=w.role(recipient.role))
    if rest == "company" and recipient.company:
        return w._("%(name)s: now run by %(company)s.", name=key, company=recipient.company)
    if rest == "transfer_safeguard" and recipient.transfer_safeguard:
        return w._(
            "%(name)s: the transfer is now protected by: %(safeguard)s.",
            name=key,
            safeguard=w.safeguard(recipient.transfer_safeguard),
        )
    member = _MEMBER.match(rest)
    if member is not None and member["field"] == "purposes":
        return w._(
            "%(name)s: now receives data for %(purpose)s.",
            name=key,
            purpose=w.purpose(member["item"]),
        )
    if member is not None and member["field"] == "categories":
        return w._(
            "%(name)s: now receives %(category)s.",
            name=key,
            category=w.category_key(member["item"], facts.categories),
        )
    return None


def _cookies(
    key: str | None, rest: str, change: Change, new: Declarations, facts: NoticeFacts, w: Words
) -> str | None:
    cookie = next((c for c in facts.cookies if c.name == key), None)
    if key is None or cookie is None:
        return None
    if not rest:
        if change.kind != "added":
            return None
        return w._(
            "New on your device (%(kind)s): %(name)s.", kind=w.cookie_kind(cookie.kind), name=key
        )
    if rest == "purpose":
        return w._("%(name)s: now serves %(purpose)s.", name=key, purpose=w.purpose(cookie.purpose))
    if rest == "party" and cookie.party == "third":
        return w._("%(name)s: now set by a third party.", name=key)
    if rest == "expires":
        return w._(
            "%(name)s: now lasts %(lifetime)s.", name=key, lifetime=w.lifetime(cookie.expires)
        )
    return None


_Describer = Callable[[str | None, str, Change, Declarations, NoticeFacts, Words], "str | None"]

_SECTIONS: dict[str, _Describer] = {
    "organization": _organization,
    "jurisdictions": _jurisdictions,
    "languages": _languages,
    "minimum_age": _minimum_age,
    "storage": _storage,
    "tenancy": _tenancy,
    "categories": _categories,
    "purposes": _purposes,
    "recipients": _recipients,
    "cookies": _cookies,
}
