"""The words of the messages Tutela writes to data subjects about their requests and about a
service closing, in the subject's language.

The texts belong to the gettext domain ``mail`` (``locale/<lang>/LC_MESSAGES/mail.po``);
dates are written the local way by Babel. Each function returns ``(subject, body)``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from babel.dates import format_date

from tutela import i18n

DOMAIN = "mail"


def N_(message: str) -> str:
    """Mark a message for translation; it is translated where it is written."""
    return message


#: how each request type is named in a sentence ("your … request")
REQUEST_NAMES: dict[str, str] = {
    "access": N_("access"),
    "portability": N_("data portability"),
    "rectification": N_("rectification"),
    "erasure": N_("erasure"),
    "restriction": N_("restriction of processing"),
    "lift_restriction": N_("lifting of the restriction"),
    "objection": N_("objection"),
    "withdraw_consent": N_("consent withdrawal"),
    "account_closure": N_("account closure"),
}


def _translator(language: str) -> Callable[[str], str]:
    return i18n.translations(DOMAIN, language).gettext


def _request(language: str, kind: str) -> str:
    return _translator(language)(REQUEST_NAMES.get(kind, kind))


def _date(language: str, day: dt.date) -> str:
    return format_date(day, format="long", locale=i18n.locale(language))


def code(language: str, kind: str, code: str, organization: str, minutes: int) -> tuple[str, str]:
    _ = _translator(language)
    request = _request(language, kind)
    subject = _("Your verification code for your {request} request").format(request=request)
    body = (
        _("Your code is {code}").format(code=code)
        + "\n\n"
        + _(
            "Enter it to confirm your {request} request to {organization}. It is valid for "
            "{minutes} minutes. If you did not make this request, ignore this message."
        ).format(request=request, organization=organization, minutes=minutes)
        + "\n"
    )
    return subject, body


def rejected(language: str, kind: str, reason: str) -> tuple[str, str]:
    _ = _translator(language)
    request = _request(language, kind)
    subject = _("Your {request} request was rejected").format(request=request)
    body = _("Reason: {reason}").format(reason=reason) + "\n"
    return subject, body


def extended(language: str, kind: str, due: dt.date, reason: str) -> tuple[str, str]:
    _ = _translator(language)
    request = _request(language, kind)
    subject = _("Your {request} request needs more time").format(request=request)
    body = (
        _("We will answer by {date}.").format(date=_date(language, due))
        + " "
        + _("Reason: {reason}").format(reason=reason)
        + "\n"
    )
    return subject, body


def completed(language: str, kind: str, link: str | None) -> tuple[str, str]:
    _ = _translator(language)
    request = _request(language, kind)
    subject = _("Your {request} request is complete").format(request=request)
    body = _("Your {request} request is complete.").format(request=request) + "\n"
    if link:
        body += "\n" + _("Download your data (the link expires):") + "\n" + link + "\n"
    return subject, body


def closing(
    language: str, organization: str, tenant_name: str | None, contact: str | None
) -> tuple[str, str]:
    _ = _translator(language)
    if tenant_name:
        subject = _("{organization}: the service for {tenant} is closing").format(
            organization=organization, tenant=tenant_name
        )
        opening = _("{organization} is closing its service for {tenant}.").format(
            organization=organization, tenant=tenant_name
        )
    else:
        subject = _("{organization}: the service is closing").format(organization=organization)
        opening = _("{organization} is closing its service.").format(organization=organization)
    body = (
        _("Hello,")
        + "\n\n"
        + opening
        + "\n\n"
        + _(
            "No new personal data is collected any more. Your personal data is being deleted "
            "or anonymized now, in backups too; only what a law or a court order requires is "
            "kept, and only for as long as it requires."
        )
        + "\n"
    )
    if contact:
        body += "\n" + _("Questions: {contact}").format(contact=contact) + "\n"
    return subject, body
