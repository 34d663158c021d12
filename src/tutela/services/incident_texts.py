"""The words of incident notices and reports, in the reader's language.

Templates live in ``templates/incidents``; their texts and the labels below belong to the
gettext domain ``incidents`` (``locale/<lang>/LC_MESSAGES/incidents.po``). Dates and times
are written in the reader's local format by Babel, in UTC.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from pathlib import Path
from typing import Any

from tutela import i18n

DOMAIN = "incidents"
TEMPLATES = Path(__file__).resolve().parent.parent / "templates" / "incidents"


def N_(message: str) -> str:
    """Mark a message for translation; it is translated where it is shown."""
    return message


#: names of data categories a notice or a report shows, by taxonomy key (the longest key
#: that is a prefix of a category names it; an unknown category shows its own key)
CATEGORY_LABELS: dict[str, str] = {
    "user": N_("personal data"),
    "user.account": N_("account data"),
    "user.account.username": N_("user name"),
    "user.authorization": N_("passwords or other credentials"),
    "user.authorization.credentials": N_("passwords or other credentials"),
    "user.authorization.password": N_("password"),
    "user.biometric": N_("biometric data"),
    "user.behavior": N_("usage and behaviour data"),
    "user.behavior.purchase_history": N_("purchase history"),
    "user.contact": N_("contact details"),
    "user.contact.address": N_("postal address"),
    "user.contact.email": N_("email address"),
    "user.contact.phone_number": N_("phone number"),
    "user.content": N_("content you created or sent"),
    "user.demographic": N_("demographic data"),
    "user.demographic.date_of_birth": N_("date of birth"),
    "user.device": N_("device data and identifiers"),
    "user.device.ip_address": N_("IP address"),
    "user.financial": N_("financial data"),
    "user.government_id": N_("government identification"),
    "user.health_and_medical": N_("health data"),
    "user.location": N_("location data"),
    "user.name": N_("name"),
    "user.sensor": N_("camera, microphone or sensor data"),
}

KIND_LABELS: dict[str, str] = {
    "confidentiality": N_("confidentiality (data disclosed or accessed without authority)"),
    "integrity": N_("integrity (data altered without authority)"),
    "availability": N_("availability (data lost or made inaccessible)"),
}

RISK_LABELS: dict[str, str] = {
    "none": N_("unlikely to result in a risk to people"),
    "risk": N_("a risk to people"),
    "high": N_("a high risk to people"),
}

LIKELIHOOD_LABELS: dict[str, str] = {
    "unlikely": N_("unlikely"),
    "possible": N_("possible"),
    "likely": N_("likely"),
}

SEVERITY_LABELS: dict[str, str] = {
    "low": N_("low"),
    "medium": N_("medium"),
    "high": N_("high"),
}

EXEMPTION_LABELS: dict[str, str] = {
    "encrypted": N_("the data is unintelligible to anyone not authorised (encrypted, key safe)"),
    "mitigated": N_("measures taken since make the high risk no longer likely"),
    "disproportionate": N_(
        "individual notices would take disproportionate effort: public communication instead"
    ),
    "ca_not_covered": N_("not personal information as California Civil Code 1798.82(h) defines it"),
}

AUTHORITY_LABELS: dict[str, str] = {
    "gdpr": N_("the competent supervisory authority (GDPR art. 33)"),
    "pipl": N_("the departments performing personal information protection duties (PIPL art. 57)"),
    "ccpa": N_("the California Attorney General (Civil Code 1798.82(f))"),
    "lgpd": N_("the National Data Protection Authority, ANPD (LGPD art. 48)"),
}

STATUS_LABELS: dict[str, str] = {
    "met": N_("met"),
    "met_late": N_("met late"),
    "overdue": N_("overdue"),
    "due_soon": N_("due soon"),
    "on_time": N_("running"),
    "not_required": N_("not required"),
}

AUDIENCE_LABELS: dict[str, str] = {
    "authority": N_("report to the authority"),
    "subjects": N_("notice to the data subjects"),
}

PHASE_LABELS: dict[str, str] = {
    "initial": N_("initial notification"),
    "follow_up": N_("follow-up notification (information provided in phases)"),
    "final": N_("final notification"),
}

DEFAULT_ADVICE = (
    N_(
        "Be wary of messages that mention this incident and ask for your password, codes or "
        "payment details: we never ask for them."
    ),
    N_("If you used the same password elsewhere, change it there too."),
)
DEFAULT_MEASURES = (
    N_("We are investigating the incident and will tell you if we learn more that concerns you."),
)


def gettext(language: str) -> Any:
    return i18n.translations(DOMAIN, language).gettext


def category_label(ancestry: list[str], language: str, fallback: str) -> str:
    """The name of a category: the label of its nearest ancestor that has one (the key, its
    dotted prefixes, the parents of a custom extension), else ``fallback``."""
    for key in ancestry:
        found = CATEGORY_LABELS.get(key)
        if found is not None and key != "user":
            return str(gettext(language)(found))
    return fallback


def label(table: dict[str, str], key: str, language: str) -> str:
    found = table.get(key)
    return key if found is None else str(gettext(language)(found))


def when(moment: dt.datetime | None, language: str) -> str | None:
    """A moment in the reader's local format, in UTC (e.g. 1 March 2026, 09:30:00 UTC)."""
    if moment is None:
        return None
    from babel.dates import format_datetime

    return str(format_datetime(moment, "long", tzinfo=dt.UTC, locale=i18n.locale(language)))


@lru_cache(maxsize=32)
def _environment(language: str, html: bool) -> Any:
    from jinja2 import Environment, FileSystemLoader, StrictUndefined

    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        # plain-text mail and Markdown are not HTML; the HTML report is escaped
        autoescape=html,  # noqa: S701
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=StrictUndefined,
        extensions=["jinja2.ext.i18n"],
    )
    env.policies["ext.i18n.trimmed"] = True  # message ids as the catalog tests extract them
    env.install_gettext_translations(  # type: ignore[attr-defined]
        i18n.translations(DOMAIN, language), newstyle=True
    )
    return env


def render(template: str, language: str, **values: Any) -> str:
    html = template.endswith(".html.j2")
    text = str(_environment(language, html).get_template(template).render(**values))
    return text if text.endswith("\n") else text + "\n"


def translate(message: str, language: str) -> str:
    return str(gettext(language)(message))
