"""The report to a regulator: GDPR art. 33(3) contents, filled from the incident record.

The nature of the breach with the categories and approximate numbers of subjects and
records, the data protection officer's contact, the likely consequences, the measures taken
or proposed; then the risk decision, what subjects were told, and each deadline with the
reasons for any delay. Markdown, printable HTML or JSON, in the authority's language (the
operator's own texts stay as written; labels, headings and dates are translated).
"""

from __future__ import annotations

import json
from typing import Any

from tutela import i18n
from tutela.domain import incidents as rules
from tutela.domain.access import Principal
from tutela.domain.errors import InvalidInput
from tutela.services import incident_notices, incidents
from tutela.services import incident_texts as texts
from tutela.services.context import Context
from tutela.services.incident_records import IncidentRecord

FORMATS = ("md", "html", "json")


def _language(ctx: Context, language: str | None) -> str:
    if language is None:
        return incident_notices.default_language(ctx)
    if i18n.base_language(language) not in i18n.LANGUAGES:
        raise InvalidInput(
            f"no report language {language!r}; use one of {', '.join(i18n.LANGUAGES)}",
            details={"lang": language},
        )
    return language


def _jurisdiction(ctx: Context, jurisdiction: str | None) -> str:
    declared = [str(j) for j in getattr(ctx.declarations, "jurisdictions", ())]
    if jurisdiction is None:
        if not declared:
            raise InvalidInput("the declarations name no jurisdiction; give --jurisdiction")
        return declared[0]
    rules.check_jurisdiction(jurisdiction)
    if jurisdiction not in declared:
        raise InvalidInput(
            f"{jurisdiction} is not a declared jurisdiction; declared: {', '.join(declared)}",
            details={"jurisdiction": jurisdiction},
        )
    return jurisdiction


def _phase(record: IncidentRecord, timeline: list[dict[str, Any]], jurisdiction: str) -> str:
    if record.state == rules.CLOSED:
        return "final"
    key = f"{jurisdiction}.{rules.AUTHORITY}"
    told = any(e["kind"] == "authority_notified" and e["details"].get("clock") == key
               for e in timeline)  # fmt: skip
    return "follow_up" if told else "initial"


def content(
    ctx: Context,
    who: Principal,
    incident_id: str,
    language: str | None = None,
    jurisdiction: str | None = None,
) -> dict[str, Any]:
    """What the report says, as data (times in the reader's format; keys kept beside the
    translated labels)."""
    who.require("incidents.read")
    language = _language(ctx, language)
    jurisdiction = _jurisdiction(ctx, jurisdiction)
    with ctx.uow(read_only=True) as uow:
        record = incidents.get(uow, who, incident_id)
        timeline = uow.incidents.events(record.id)
        notices = uow.incidents.count_notices(record.id)
    counted = incidents.affected(ctx, who, incident_id)["count"]
    now = ctx.clock()
    at = incidents.moment(now)

    def when(micros: int | None) -> str | None:
        return texts.when(incidents.moment(micros), language) if micros is not None else None

    def tr(table: dict[str, str], key: str) -> str:
        return texts.label(table, key, language)

    assessment = incidents.assessment_of(record)
    clocks = [
        {
            "clock": c.key,
            "audience": tr(texts.AUDIENCE_LABELS, c.audience),
            "due": texts.when(c.due, language),
            "due_iso": rules.iso(c.due) if c.due else None,
            "status": tr(texts.STATUS_LABELS, c.status(at)),
            "status_key": c.status(at),
            "met_at": texts.when(c.met_at, language),
            "source": c.source,
            "delay_reason": c.delay_reason,
        }
        for c in incidents.clocks_of(ctx, record)
        if c.jurisdiction == jurisdiction and c.running
    ]
    keys = incidents.incident_categories(ctx, record) or list(record.categories)
    return {
        "language": language,
        "jurisdiction": jurisdiction,
        "authority": tr(texts.AUTHORITY_LABELS, jurisdiction),
        "phase": tr(texts.PHASE_LABELS, _phase(record, timeline, jurisdiction)),
        "phase_key": _phase(record, timeline, jurisdiction),
        "generated": when(now),
        "generated_iso": rules.iso(at),
        "organization": incident_notices.organization(ctx),
        "incident": {
            "id": record.id,
            "state": record.state,
            "summary": record.summary,
            "kinds": [tr(texts.KIND_LABELS, k) for k in record.kinds],
            "aware": when(record.aware_at),
            "aware_iso": rules.iso(incidents.moment(record.aware_at)),
            "began": when(record.began_at),
            "datasets": list(record.datasets),
        },
        "encrypted": record.encrypted,
        "subjects": {
            "approx": record.approx_subjects,
            "counted": counted,
            "records": record.approx_records,
            "categories": [
                {"key": key, "label": incident_notices.category_names(ctx, [key], language)[0]}
                for key in keys
            ],
        },
        "consequences": record.consequences,
        "measures": list(record.measures),
        "advice": list(record.advice),
        "assessment": None
        if assessment is None
        else {
            "likelihood": tr(texts.LIKELIHOOD_LABELS, assessment.likelihood),
            "severity": tr(texts.SEVERITY_LABELS, assessment.severity),
            "risk": tr(texts.RISK_LABELS, assessment.level),
            "risk_key": assessment.level,
            "exemptions": [tr(texts.EXEMPTION_LABELS, e) for e in sorted(assessment.exemptions)],
            "reason": assessment.reason,
            "at": texts.when(assessment.at, language),
        },
        "notices": {"queued": notices.get("queued", 0), "no_email": notices.get("no_email", 0)},
        "public": [
            {"at": when(e["at"]), "note": e["note"]}
            for e in timeline
            if e["kind"] == "public_notice"
        ],
        "reports": [
            {
                "at": texts.when(
                    incidents.moment(incidents.parse_time(e["details"]["at"], "at", now)),
                    language,
                ),
                "note": tr(texts.PHASE_LABELS, e["details"]["phase"]),
            }
            for e in timeline
            if e["kind"] == "authority_notified"
            and e["details"].get("clock") == f"{jurisdiction}.{rules.AUTHORITY}"
        ],
        "clocks": clocks,
    }


def render(
    ctx: Context,
    who: Principal,
    incident_id: str,
    fmt: str = "md",
    language: str | None = None,
    jurisdiction: str | None = None,
) -> str:
    """The report as Markdown, printable HTML or JSON."""
    rules.check_choice("format", fmt, FORMATS)
    data = content(ctx, who, incident_id, language, jurisdiction)
    if fmt == "json":
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    return texts.render(f"report.{fmt}.j2", data["language"], r=data)
