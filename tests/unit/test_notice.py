"""The generated privacy notice states every declared fact, in every language Tutela writes."""

from __future__ import annotations

import datetime as dt
import html
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from babel import Locale
from babel.dates import format_date
from babel.units import format_unit

from tutela import i18n
from tutela.declarations import Declarations, load_declarations, parse_declarations
from tutela.declarations.durations import parse_duration
from tutela.notices import build_facts, choose_language, render
from tutela.notices.category_names import NAMES
from tutela.notices.facts import FORMAT, NoticeFacts

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = [
    ROOT / "examples" / "desktop-vendor.yml",
    ROOT / "examples" / "mobile-app.yml",
    ROOT / "examples" / "saas-helpdesk.yml",
    ROOT / "examples" / "fides-shop" / "tutela.yaml",
]
BASE = "https://privacy.example.com"


@pytest.fixture(scope="module", params=EXAMPLES, ids=lambda p: p.parent.name + "/" + p.name)
def declared(request: pytest.FixtureRequest) -> Declarations:
    return load_declarations(request.param)


def text_of(document: str, fmt: str) -> str:
    """What a reader sees: tags dropped and entities decoded (HTML), escapes undone (md)."""
    if fmt == "html":
        document = re.sub(r"<[^>]+>", " ", document)
        document = html.unescape(document)
    else:
        document = document.replace("\\|", "|")
    return " ".join(document.split())


def local_duration(iso: str, language: str) -> str:
    """A one-unit duration written by Babel directly (short where CLDR lacks long forms)."""
    duration = parse_duration(iso)
    units = [
        (n, u)
        for n, u in (
            (duration.years, "year"),
            (duration.months, "month"),
            (duration.weeks, "week"),
            (duration.days, "day"),
        )
        if n
    ]
    assert len(units) == 1, f"{iso}: the examples use one unit per period"
    amount, unit = units[0]
    text = format_unit(amount, f"duration-{unit}", locale=language, length="long")
    if "duration-" in text:
        text = format_unit(amount, f"duration-{unit}", locale=language, length="short")
    return text


def expected_facts(d: Declarations, language: str) -> list[str]:
    """Every declared fact as a reader of ``language`` must find it in the notice."""
    catalog = i18n.translations("notice", language)
    locale = Locale.parse(language)
    org = d.organization
    wanted = [org.name, str(org.contact), locale.territories[org.country]]
    if org.dpo:
        wanted += [org.dpo.name, str(org.dpo.email)]
    if org.address:
        wanted.append(org.address)
    extension_names = {
        e.key: e.name for e in (d.taxonomy.categories if d.taxonomy else ()) if e.name
    }
    for category in d.categories:
        if category.key in extension_names:
            wanted.append(extension_names[category.key])
        elif category.key in NAMES:
            wanted.append(catalog.gettext(NAMES[category.key]))
        if category.description:
            wanted.append(" ".join(category.description.split()))
    for purpose in d.purposes:
        wanted.append(purpose.key)
        if purpose.description:
            wanted.append(" ".join(purpose.description.split()))
        if purpose.retention and parse_duration(purpose.retention.keep).approx_days():
            wanted.append(local_duration(purpose.retention.keep, language))
    for recipient in d.recipients:
        wanted += [recipient.name, locale.territories[recipient.country]]
        if recipient.company:
            wanted.append(recipient.company)
        if recipient.policy_url:
            wanted.append(recipient.policy_url)
    for cookie in d.cookies:
        wanted.append(cookie.name)
        if cookie.expires != "session":
            wanted.append(local_duration(cookie.expires, language))
    if d.policy:
        wanted += [d.policy.version, format_date(d.policy.effective, "long", locale=language)]
    return wanted


@pytest.mark.parametrize("fmt", ["html", "md"])
@pytest.mark.parametrize("language", i18n.LANGUAGES)
def test_every_declared_fact_appears_in_every_language(
    declared: Declarations, language: str, fmt: str
) -> None:
    shown = text_of(render(build_facts(declared, base_url=BASE), language, fmt), fmt)
    wanted = [" ".join(fact.split()) for fact in expected_facts(declared, language)]
    missing = [fact for fact in wanted if fact not in shown]
    assert not missing, f"{language} {fmt} notice lacks {missing}"


@pytest.mark.parametrize("language", [tag for tag in i18n.LANGUAGES if tag != "en"])
def test_the_fixed_texts_are_translated(language: str) -> None:
    notice = render(build_facts(load_declarations(EXAMPLES[0])), language, "md")
    catalog = i18n.translations("notice", language)
    for heading in ("Privacy notice", "Your rights", "How long we keep your data"):
        translated = catalog.gettext(heading)
        assert translated != heading
        assert translated in notice
    assert "Your rights" not in notice


def test_retention_and_dates_are_written_the_local_way() -> None:
    facts = build_facts(load_declarations(EXAMPLES[0]))
    expected = {
        "en": ("10 years after collection", "October 9, 2024"),
        "de": ("10 Jahre nach der Erhebung", "9. Oktober 2024"),
        "ru": ("10 лет после сбора", "9 октября 2024\u202fг."),
        "cs": ("10 let po shromáždění", "9. října 2024"),
        "sq": ("10 vjet pas mbledhjes", "9 tetor 2024"),
        "zh": ("收集后10年", "2024年10月9日"),
    }
    for language, (retention, date) in expected.items():
        notice = render(facts, language, "md")
        assert retention in notice, language
        assert date in notice, language


def test_rights_follow_the_declared_laws_and_link_the_privacy_center() -> None:
    gdpr = build_facts(load_declarations(EXAMPLES[0]), base_url=BASE + "/")
    keys = [r.key for r in gdpr.rights]
    assert {"access", "erasure", "objection", "withdraw_consent", "complaint"} <= set(keys)
    assert "opt_out" not in keys  # a CCPA right
    assert "explanation" not in keys  # a PIPL right
    access = next(r for r in gdpr.rights if r.key == "access")
    assert access.url == f"{BASE}/privacy/default/download"
    pipl = build_facts(load_declarations(EXAMPLES[1]))
    assert "explanation" in [r.key for r in pipl.rights]
    assert pipl.privacy_center_url is None
    assert all(r.url is None for r in pipl.rights)


def test_transfers_name_the_country_and_its_safeguard() -> None:
    text = (
        EXAMPLES[0]
        .read_text(encoding="utf-8")
        .replace(
            "cookies:\n",
            "recipients:\n"
            "  - {name: Example Mail, role: processor, company: Example Mail Inc., country: US,\n"
            "     purposes: [account], categories: [user.contact.email],\n"
            "     transfer_safeguard: standard_contract}\n"
            "cookies:\n",
            1,
        )
    )
    facts = build_facts(parse_declarations(text, "vendor.yml"))
    assert [(t.country, t.recipients, t.safeguards) for t in facts.transfers] == [
        ("US", ("Example Mail",), ("standard_contract",))
    ]
    notice = render(facts, "de", "md")
    assert "Vereinigte Staaten: Example Mail (Standardvertragsklauseln)" in notice
    assert "Auftragsverarbeiter, handelt nach unseren Weisungen" in notice


def test_declared_text_is_escaped_in_html_and_kept_in_markdown() -> None:
    text = (
        EXAMPLES[0]
        .read_text(encoding="utf-8")
        .replace(
            "description: Answer support tickets and keep the user's feedback on them.",
            "description: 'Tickets <script>alert(1)</script> | pipes & more'",
        )
    )
    facts = build_facts(parse_declarations(text, "vendor.yml"))
    page = render(facts, "en", "html")
    assert "<script" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; | pipes &amp; more" in page
    markdown = render(facts, "en", "md")
    assert "Tickets <script>alert(1)</script> | pipes & more" in markdown


class _Outline(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.headings: list[int] = []
        self.th_scopes: list[str | None] = []
        self.tables = self.captions = 0
        self.ids: set[str] = set()
        self.links: list[str] = []
        self.lang: str | None = None
        self.scripts = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "html":
            self.lang = attributes.get("lang")
        if re.fullmatch(r"h[1-6]", tag):
            self.headings.append(int(tag[1]))
        if tag == "th":
            self.th_scopes.append(attributes.get("scope"))
        self.tables += tag == "table"
        self.captions += tag == "caption"
        self.scripts += tag == "script"
        if attributes.get("id"):
            self.ids.add(str(attributes["id"]))
        if tag == "a" and attributes.get("href", "").startswith("#"):  # type: ignore[union-attr]
            self.links.append(str(attributes["href"])[1:])


@pytest.mark.parametrize("language", ["de", "zh"])
def test_html_is_accessible_and_printable(declared: Declarations, language: str) -> None:
    page = render(build_facts(declared, base_url=BASE), language, "html")
    outline = _Outline()
    outline.feed(page)
    assert page.startswith("<!DOCTYPE html>")
    assert outline.lang == language
    assert outline.headings.count(1) == 1
    assert outline.headings[0] == 1
    for before, after in zip(outline.headings, outline.headings[1:], strict=False):
        assert after <= before + 1, f"heading level jumps from h{before} to h{after}"
    assert outline.th_scopes
    assert all(s in ("col", "row") for s in outline.th_scopes)
    assert outline.tables == outline.captions > 0
    assert outline.scripts == 0
    assert "javascript:" not in page.lower()
    assert set(outline.links) <= outline.ids, "an in-page link points nowhere"
    assert 'class="skip" href="#content"' in page
    assert 'id="content"' in page
    assert "@media print" in page


def test_json_holds_the_facts_under_stable_keys(declared: Declarations) -> None:
    data = json.loads(render(build_facts(declared, base_url=BASE), "de", "json"))
    assert data["format"] == FORMAT
    assert data["language"] == "de"
    assert set(data) == {
        "format",
        "language",
        "version",
        "effective",
        "policy_url",
        "organization",
        "jurisdictions",
        "languages",
        "multi_tenant",
        "categories",
        "purposes",
        "recipients",
        "storage",
        "transfers",
        "minimum_age",
        "cookies",
        "security",
        "rights",
        "response_times",
        "privacy_center_url",
    }
    assert set(data["organization"]) == {"name", "contact", "country", "address", "website", "dpo"}
    assert [p["key"] for p in data["purposes"]] == [p.key for p in declared.purposes]
    purpose = data["purposes"][0]
    assert set(purpose) == {
        "key",
        "use",
        "legal_basis",
        "description",
        "categories",
        "retention",
        "recipients",
        "name_text",
        "legal_basis_text",
        "retention_text",
    }
    assert set(data["categories"][0]) >= {"key", "name", "name_text", "sensitive", "purposes"}
    assert data["privacy_center_url"] == f"{BASE}/privacy/"
    if declared.policy:
        assert data["effective"] == declared.policy.effective.isoformat()


def test_version_and_date_can_be_given_for_a_stored_version() -> None:
    facts = build_facts(
        load_declarations(EXAMPLES[3]), version="2025-03", effective=dt.date(2025, 3, 1)
    )
    assert isinstance(facts, NoticeFacts)
    assert "Version 2025-03, effective March 1, 2025" in render(facts, "en", "md")


def test_language_choice_falls_back_to_the_declared_default() -> None:
    vendor = load_declarations(EXAMPLES[0])  # de, en
    assert choose_language(vendor, "en-GB,en;q=0.8") == ("en", False)
    assert choose_language(vendor, ["fr"]) == ("de", True)
    assert choose_language(vendor, None) == ("de", False)
    assert choose_language(vendor, ["ru"]) == ("de", True)  # Tutela writes ru; not declared
