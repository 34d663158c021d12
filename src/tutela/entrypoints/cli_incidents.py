"""``tutela incidents``: the breach register, its legal clocks, the regulator's report and the
notices to subjects."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

app = typer.Typer(
    help="Incidents (personal-data breaches): register, legal clocks, risk decision, "
    "regulator report, notices to subjects.",
    no_args_is_help=True,
)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]
TenantOpt = Annotated[
    str,
    typer.Option(
        "--tenant", "-t", help="Tenant the incident is recorded in.", envvar="TUTELA_TENANT"
    ),
]
IdArg = Annotated[str, typer.Argument(help="The incident's id.")]
Summary = Annotated[str | None, typer.Option("--summary", help="What happened.")]
Category = Annotated[
    list[str] | None,
    typer.Option(
        "--category",
        "-c",
        help="Data category involved (declared key or a broader "
        "one such as user.contact); repeatable.",
    ),
]
Kind = Annotated[
    list[str] | None,
    typer.Option("--kind", help="confidentiality, integrity or availability; repeatable."),
]
AwareAt = Annotated[
    str | None,
    typer.Option("--aware-at", help="When the breach was detected (ISO 8601; default now)."),
]
BeganAt = Annotated[
    str | None, typer.Option("--began-at", help="When it began, if known (ISO 8601).")
]
Dataset = Annotated[
    list[str] | None, typer.Option("--dataset", help="System or dataset involved; repeatable.")
]
SubjectsOpt = Annotated[
    int | None, typer.Option("--subjects", help="Approximate number of subjects affected.")
]
Records = Annotated[
    int | None, typer.Option("--records", help="Approximate number of records affected.")
]
Encrypted = Annotated[
    bool | None,
    typer.Option(
        "--encrypted/--not-encrypted",
        help="The data was encrypted and the keys were not compromised.",
    ),
]
Consequences = Annotated[
    str | None, typer.Option("--consequences", help="Likely consequences for the subjects.")
]
Measure = Annotated[
    list[str] | None,
    typer.Option("--measure", help="A measure taken or proposed; repeatable, added."),
]
Advice = Annotated[
    list[str] | None,
    typer.Option("--advice", help="What subjects can do (e.g. change the password); repeatable."),
]


def _cli() -> Any:
    from tutela.entrypoints import cli

    return cli


def _left(seconds: int | None) -> str:
    if seconds is None:
        return ""
    overdue = seconds < 0
    minutes = abs(seconds) // 60
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    text = f"{days} d {hours} h" if days else f"{hours} h {mins} min"
    return f"{text} overdue" if overdue else f"{text} left"


def _print_clock(clock: dict[str, Any]) -> None:
    due = clock["due"] or "-"
    status = clock["status"]
    left = _left(clock["seconds_left"])
    extra = f" ({left})" if left else ""
    met = f" at {clock['met_at']}" if clock["met_at"] else ""
    typer.echo(f"    {clock['clock']:16} due {due}  {status}{met}{extra}  [{clock['source']}]")


def _print_incident(data: dict[str, Any]) -> None:
    risk = (data.get("assessment") or {}).get("risk", "not assessed")
    typer.echo(f"{data['id']}  {data['state']}  aware {data['aware_at']}  risk: {risk}")
    typer.echo(f"  {data['summary']}")
    if data.get("categories"):
        typer.echo(f"  categories: {', '.join(data['categories'])}")
    if "affected" in data:
        notices = data.get("notices", {})
        typer.echo(
            f"  affected subjects: {data['affected']}; notices queued: "
            f"{notices.get('queued', 0)}, without email: {notices.get('no_email', 0)}"
        )
    if data["clocks"]:
        typer.echo("  clocks:")
        for clock in data["clocks"]:
            _print_clock(clock)
    for clock in data.get("stopped_clocks", []):
        typer.echo(f"    {clock['clock']:16} not required: {clock['not_required']}")
    for event in data.get("timeline", []):
        typer.echo(f"  {event['at']}  {event['kind']}: {event['note']}")


def _act(action: Any, tenant: str, as_json: bool, *args: Any, **kwargs: Any) -> None:
    cli = _cli()
    with cli.runtime() as rt:
        data = action(rt.ctx, rt.operator(tenant), *args, **kwargs)
    cli.emit(data, as_json, lambda: _print_incident(data))


@app.command("open")
def incidents_open(
    summary: Annotated[str, typer.Option("--summary", help="What happened.")],
    category: Category = None,
    tenant: Annotated[
        list[str] | None,
        typer.Option(
            "--tenant",
            "-t",
            help="Affected tenant, repeatable; the incident is recorded in the first "
            "(default: default).",
        ),
    ] = None,
    aware_at: AwareAt = None,
    began_at: BeganAt = None,
    kind: Kind = None,
    dataset: Dataset = None,
    subjects: SubjectsOpt = None,
    records: Records = None,
    encrypted: Encrypted = None,
    consequences: Consequences = None,
    measure: Measure = None,
    advice: Advice = None,
    as_json: JsonOpt = False,
) -> None:
    """Open an incident; prints it with every running clock and its deadline (UTC)."""
    from tutela.services import incidents
    from tutela.services.incidents import Changes

    tenants = tenant or ["default"]
    changes = Changes(
        summary=summary,
        kinds=kind,
        aware_at=aware_at,
        began_at=began_at,
        tenants=tenants,
        categories=category,
        datasets=dataset,
        approx_subjects=subjects,
        approx_records=records,
        encrypted=encrypted,
        consequences=consequences,
        measures=measure,
        advice=advice,
    )
    _act(incidents.open_incident, tenants[0], as_json, changes)


@app.command("list")
def incidents_list(
    all_: Annotated[bool, typer.Option("--all", help="Include closed incidents.")] = False,
    tenant: TenantOpt = "default",
    as_json: JsonOpt = False,
) -> None:
    """Incidents with the time left on each clock, overdue first."""
    from tutela.services import incidents

    cli = _cli()
    with cli.runtime() as rt:
        data = incidents.listing(rt.ctx, rt.operator(tenant), include_closed=all_)

    def human() -> None:
        if not data:
            typer.echo("no open incidents")
        for item in data:
            _print_incident(item)

    cli.emit(data, as_json, human)


@app.command("show")
def incidents_show(
    incident_id: IdArg, tenant: TenantOpt = "default", as_json: JsonOpt = False
) -> None:
    """The incident, its clocks, affected-subject count, notices and timeline."""
    from tutela.services import incidents

    _act(incidents.show, tenant, as_json, incident_id)


@app.command("update")
def incidents_update(
    incident_id: IdArg,
    summary: Summary = None,
    category: Category = None,
    also_tenant: Annotated[
        list[str] | None,
        typer.Option(
            "--also-tenant", help="Another affected tenant; repeatable (replaces the list)."
        ),
    ] = None,
    aware_at: AwareAt = None,
    began_at: BeganAt = None,
    kind: Kind = None,
    dataset: Dataset = None,
    subjects: SubjectsOpt = None,
    records: Records = None,
    encrypted: Encrypted = None,
    consequences: Consequences = None,
    measure: Measure = None,
    advice: Advice = None,
    tenant: TenantOpt = "default",
    as_json: JsonOpt = False,
) -> None:
    """Change what is known; lists given replace the recorded ones, measures and advice are
    added."""
    from tutela.services import incidents
    from tutela.services.incidents import Changes

    changes = Changes(
        summary=summary,
        kinds=kind,
        aware_at=aware_at,
        began_at=began_at,
        tenants=also_tenant,
        categories=category,
        datasets=dataset,
        approx_subjects=subjects,
        approx_records=records,
        encrypted=encrypted,
        consequences=consequences,
        measures=measure,
        advice=advice,
    )
    _act(incidents.update, tenant, as_json, incident_id, changes)


@app.command("note")
def incidents_note(
    incident_id: IdArg,
    text: Annotated[str, typer.Option("--text", help="What was found, decided or done.")],
    tenant: TenantOpt = "default",
    as_json: JsonOpt = False,
) -> None:
    """Add a line to the incident's timeline."""
    from tutela.services import incidents

    _act(incidents.note, tenant, as_json, incident_id, text)


@app.command("assess")
def incidents_assess(
    incident_id: IdArg,
    likelihood: Annotated[str, typer.Option("--likelihood", help="unlikely, possible or likely.")],
    severity: Annotated[str, typer.Option("--severity", help="low, medium or high.")],
    reason: Annotated[str, typer.Option("--reason", help="Why: the record of the decision.")],
    exempt: Annotated[
        list[str] | None,
        typer.Option(
            "--exempt",
            help="encrypted, mitigated, disproportionate or ca_not_covered; repeatable.",
        ),
    ] = None,
    tenant: TenantOpt = "default",
    as_json: JsonOpt = False,
) -> None:
    """Record the risk decision; it decides which clocks run."""
    from tutela.services import incidents

    _act(incidents.assess, tenant, as_json, incident_id, likelihood, severity, exempt or [], reason)


@app.command("affected")
def incidents_affected(
    incident_id: IdArg,
    ids: Annotated[bool, typer.Option("--ids", help="Also list the subjects' ids.")] = False,
    tenant: TenantOpt = "default",
    as_json: JsonOpt = False,
) -> None:
    """How many subjects the incident touches (ids only with --ids; never values)."""
    from tutela.services import incidents

    cli = _cli()
    with cli.runtime() as rt:
        data = incidents.affected(rt.ctx, rt.operator(tenant), incident_id, with_ids=ids)

    def human() -> None:
        typer.echo(f"affected subjects: {data['count']}")
        for name, count in data["tenants"].items():
            typer.echo(f"  tenant {name}: {count}")
        for item in data.get("subjects", []):
            typer.echo(f"  {item['tenant']}  {item['subject_id']}  {', '.join(item['categories'])}")

    cli.emit(data, as_json, human)


@app.command("notify")
def incidents_notify(
    incident_id: IdArg, tenant: TenantOpt = "default", as_json: JsonOpt = False
) -> None:
    """Tell every affected subject not told yet, in the subject's language."""
    from tutela.services import incident_notices

    cli = _cli()
    with cli.runtime() as rt:
        data = incident_notices.notify(rt.ctx, rt.operator(tenant), incident_id)

    def human() -> None:
        typer.echo(
            f"notices queued: {data['queued']}; without an email address: "
            f"{data['without_email']} (in all: {data['total']['queued']} queued)"
        )
        for clock in data["clocks"]:
            _print_clock(clock)

    cli.emit(data, as_json, human)


@app.command("authority-notified")
def incidents_authority_notified(
    incident_id: IdArg,
    jurisdiction: Annotated[
        str | None,
        typer.Option("--jurisdiction", help="gdpr, pipl, ccpa or lgpd (needed when several)."),
    ] = None,
    at: Annotated[str | None, typer.Option("--at", help="When it was sent (default now).")] = None,
    phase: Annotated[str, typer.Option("--phase", help="initial, follow_up or final.")] = "initial",
    reference: Annotated[
        str | None, typer.Option("--reference", help="The authority's case number.")
    ] = None,
    delay_reason: Annotated[
        str | None, typer.Option("--delay-reason", help="Why it was late, if it was.")
    ] = None,
    tenant: TenantOpt = "default",
    as_json: JsonOpt = False,
) -> None:
    """Record the report to an authority; the first one meets its clock."""
    from tutela.services import incidents

    _act(
        incidents.authority_notified,
        tenant,
        as_json,
        incident_id,
        jurisdiction,
        at,
        phase,
        reference,
        delay_reason,
    )


@app.command("public-notice")
def incidents_public_notice(
    incident_id: IdArg,
    where: Annotated[str, typer.Option("--where", help="Where it was published.")],
    at: Annotated[str | None, typer.Option("--at", help="When (default now).")] = None,
    tenant: TenantOpt = "default",
    as_json: JsonOpt = False,
) -> None:
    """Record a public communication instead of individual notices (GDPR art. 34(3)(c))."""
    from tutela.services import incidents

    _act(incidents.public_notice, tenant, as_json, incident_id, at, where)


@app.command("delay")
def incidents_delay(
    incident_id: IdArg,
    clock: Annotated[str, typer.Option("--clock", help="The clock, e.g. gdpr.authority.")],
    reason: Annotated[str, typer.Option("--reason", help="The reasons for the delay.")],
    tenant: TenantOpt = "default",
    as_json: JsonOpt = False,
) -> None:
    """Record why a clock is or was missed (GDPR art. 33(1))."""
    from tutela.services import incidents

    _act(incidents.delay, tenant, as_json, incident_id, clock, reason)


@app.command("report")
def incidents_report(
    incident_id: IdArg,
    fmt: Annotated[str, typer.Option("--format", help="md, html or json.")] = "md",
    lang: Annotated[
        str | None,
        typer.Option("--lang", help="The authority's language (default: the declared one)."),
    ] = None,
    jurisdiction: Annotated[
        str | None,
        typer.Option("--jurisdiction", help="Whose authority (default: the first declared)."),
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file, not to stdout.")
    ] = None,
    tenant: TenantOpt = "default",
) -> None:
    """The report to the regulator (GDPR art. 33(3) contents), filled from the record."""
    from tutela.services import incident_reports

    cli = _cli()
    with cli.runtime() as rt:
        text = incident_reports.render(
            rt.ctx, rt.operator(tenant), incident_id, fmt, lang, jurisdiction
        )
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")


@app.command("close")
def incidents_close(
    incident_id: IdArg, tenant: TenantOpt = "default", as_json: JsonOpt = False
) -> None:
    """Close the incident: every running clock met, late ones with their reasons."""
    from tutela.services import incidents

    _act(incidents.close, tenant, as_json, incident_id)
