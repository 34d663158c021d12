"""The mail announcing a policy change, in each of the six languages Tutela writes."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from babel import Locale
from babel.dates import format_date
from babel.units import format_unit

from tutela import i18n
from tutela.declarations import Declarations, load_declarations, parse_declarations
from tutela.declarations.diff import Change, diff_declarations
from tutela.notices.category_names import NAMES
from tutela.notices.mail import consent_purposes_touched, policy_change_message

VENDOR = Path(__file__).resolve().parents[2] / "examples" / "desktop-vendor.yml"
CENTER = "https://privacy.example.com/privacy/"
EFFECTIVE = dt.date(2025, 2, 1)


def changed_vendor() -> Declarations:
    """The vendor adds a phone number to user counting, keeps it longer, starts a newsletter
    sent through a processor in the United States, and reworded a description."""
    text = VENDOR.read_text(encoding="utf-8")
    edits = [
        (
            "categories: [user.device.cookie_id]\n    retention: {keep: P13M",
            "categories: [user.device.cookie_id, user.contact.phone_number]\n"
            "    retention: {keep: P2Y",
        ),
        (
            "  - key: user.device.ip_address\n",
            "  - {key: user.contact.phone_number, description: Mobile number.}\n"
            "  - key: user.device.ip_address\n",
        ),
        (
            "  - key: security_logs\n",
            "  - key: newsletter\n"
            "    use: marketing.communications.email\n"
            "    legal_basis: consent\n"
            "    categories: [user.contact.email]\n"
            "    retention: {keep: P1Y, after: consent_withdrawn, then: delete}\n"
            "    description: Send the monthly newsletter.\n"
            "  - key: security_logs\n",
        ),
        (
            "cookies:\n",
            "recipients:\n"
            "  - {name: Example Mail, role: processor, company: Example Mail Inc., country: US,\n"
            "     purposes: [newsletter], categories: [user.contact.email],\n"
            "     transfer_safeguard: standard_contract}\n"
            "cookies:\n",
        ),
        ("description: Orders and licences", "description: Orders and licenses"),
    ]
    for old, new in edits:
        assert old in text
        text = text.replace(old, new, 1)
    return parse_declarations(text, "vendor-2025.yml")


@pytest.fixture(scope="module")
def change() -> tuple[Declarations, list[Change]]:
    new = changed_vendor()
    return new, diff_declarations(load_declarations(VENDOR), new)


@pytest.mark.parametrize("language", i18n.LANGUAGES)
def test_the_mail_tells_each_material_change_in_the_subjects_language(
    change: tuple[Declarations, list[Change]], language: str
) -> None:
    new, changes = change
    subject, body = policy_change_message(
        new, language, changes, label="2025-02", effective=EFFECTIVE, privacy_center_url=CENTER
    )
    catalog = i18n.translations("notice", language)
    date = format_date(EFFECTIVE, "long", locale=language)
    two_years = format_unit(2, "duration-year", locale=language, length="long")
    if "duration-" in two_years:
        two_years = format_unit(2, "duration-year", locale=language, length="short")
    assert "Beispiel Software GmbH" in subject
    assert date in subject
    assert body.startswith(catalog.gettext("Hello,"))
    for fact in (
        "2025-02",
        date,
        catalog.gettext(NAMES["user.contact.phone_number"]),  # new data
        "User counting",  # the purpose that now uses it and keeps it longer
        two_years,
        "Newsletter",  # a new purpose …
        "Send the monthly newsletter.",  # … with its description
        catalog.gettext("Consent"),  # … and its legal basis
        "Example Mail",  # a new recipient …
        Locale.parse(language).territories["US"],  # … in its country
        CENTER,
        "datenschutz@example.com",
        "dpo@example.com",
    ):
        assert fact in body, f"{language}: {fact!r} missing from\n{body}"
    assert "licenses" not in body  # editorial changes are not told
    lines = [line for line in body.splitlines() if line.startswith("- ")]
    assert len(lines) == 5, body


def test_consent_purposes_are_renewed_or_asked_for_the_first_time(
    change: tuple[Declarations, list[Change]],
) -> None:
    new, changes = change
    assert consent_purposes_touched(changes, new) == (["user_counting"], ["newsletter"])
    _, body = policy_change_message(
        new, "en", changes, label="2025-02", effective=EFFECTIVE, privacy_center_url=CENTER
    )
    assert (
        "These purposes rest on your consent, and we will ask for it again: User counting. "
        "From February 1, 2025 we will not process your data for them until you consent again."
    ) in body
    assert "apply to you only if you agree: Newsletter." in body
    assert "Kept longer: User counting, now 2 years after collection." in body
    assert "A new recipient: Example Mail (United States)." in body


def test_only_editorial_changes_say_so_and_no_center_means_writing_in() -> None:
    old = load_declarations(VENDOR)
    new = parse_declarations(
        VENDOR.read_text(encoding="utf-8").replace("licences", "licenses"), "vendor.yml"
    )
    changes = diff_declarations(old, new)
    assert changes
    assert not any(c.material for c in changes)
    subject, body = policy_change_message(
        new, "de", changes, label="2025-02", effective=EFFECTIVE, privacy_center_url=None
    )
    assert subject == (
        "Beispiel Software GmbH: Unsere Datenschutzerklärung ändert sich am 1. Februar 2025"
    )
    assert "Nur der Wortlaut ändert sich" in body
    assert "per E-Mail an datenschutz@example.com widersprechen" in body
    assert "https://www.example.com/datenschutz" in body  # the published notice


def test_an_unknown_language_gets_the_declared_default_and_unknown_changes_a_line() -> None:
    new = load_declarations(VENDOR)
    odd = Change("rights.portal", "changed", "a", "b", True, "a new way to exercise rights")
    subject, body = policy_change_message(
        new, "fr", [odd], label="2025-02", effective=EFFECTIVE, privacy_center_url=CENTER
    )
    assert "ändert sich am" in subject  # German, the declared default
    assert "- Eine weitere Änderung betrifft: rights.portal." in body
