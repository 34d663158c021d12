"""The ``tutela`` command line. Thin: parse, call a service, print; errors mapped once.

Exit codes: 0 success, 1 a user-facing error (message on stderr), 2 a usage error.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import typer

from tutela.domain.errors import DeclarationInvalid, InvalidInput, TutelaError
from tutela.entrypoints.cli_incidents import app as incidents_app
from tutela.entrypoints.cli_notice import notice_app
from tutela.entrypoints.cli_ropa import ropa
from tutela.settings import Settings

app = typer.Typer(
    name="tutela",
    help="Tutela: makes a privacy policy true, enforces it and proves it.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,  # never print locals (they may hold secrets)
    add_completion=False,
)
subjects_app = typer.Typer(
    help="Register, read, look up, correct, list and erase data subjects.", no_args_is_help=True
)
tenants_app = typer.Typer(
    help="Tenants: the companies whose subjects Tutela keeps apart.", no_args_is_help=True
)
apikeys_app = typer.Typer(
    help="API keys of tenants (stored hashed, shown once).", no_args_is_help=True
)
keys_app = typer.Typer(
    help="Key-encryption keys: status, rotation, re-wrapping, retirement.", no_args_is_help=True
)
audit_app = typer.Typer(help="The hash-chained audit log.", no_args_is_help=True)
consent_app = typer.Typer(
    help="The consent ledger: grant, refuse, withdraw, show, check.", no_args_is_help=True
)
receipts_app = typer.Typer(help="Signed consent receipts.", no_args_is_help=True)
retention_app = typer.Typer(
    help="Retention: what has outlived its rules (plan), and removing it (sweep).",
    no_args_is_help=True,
)
holds_app = typer.Typer(help="Legal holds: data that must not be deleted.", no_args_is_help=True)
requests_app = typer.Typer(
    help="Data-subject requests: intake, verification, deadlines, execution.",
    no_args_is_help=True,
)
app.add_typer(subjects_app, name="subjects")
app.add_typer(tenants_app, name="tenants")
app.add_typer(apikeys_app, name="apikeys")
app.add_typer(keys_app, name="keys")
app.add_typer(audit_app, name="audit")
app.add_typer(consent_app, name="consent")
app.add_typer(receipts_app, name="receipts")
app.add_typer(requests_app, name="requests")
app.add_typer(holds_app, name="holds")
app.add_typer(retention_app, name="retention")
app.add_typer(notice_app, name="notice")
app.add_typer(incidents_app, name="incidents")
app.command("ropa")(ropa)

T = TypeVar("T")

JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]
TenantOpt = Annotated[
    str, typer.Option("--tenant", "-t", help="Tenant to act in.", envvar="TUTELA_TENANT")
]


class _State:
    data_dir: str | None = None


STATE = _State()


@app.callback()
def _main(
    data_dir: Annotated[
        str | None,
        typer.Option(
            "--data-dir",
            help="Data directory (default: $TUTELA_DATA_DIR or ./tutela-data).",
            envvar="TUTELA_DATA_DIR",
        ),
    ] = None,
) -> None:
    STATE.data_dir = data_dir


def settings() -> Settings:
    return Settings.from_env(data_dir=STATE.data_dir)


def fail(message: str, code: int = 1) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def emit(data: Any, as_json: bool, human: Callable[[], None] | None = None) -> None:
    if as_json or human is None:
        typer.echo(json.dumps(data, indent=2, ensure_ascii=False))
    else:
        human()


@contextmanager
def runtime() -> Iterator[Any]:
    from tutela.bootstrap import check_data_dir, open_runtime

    current = settings()
    check_data_dir(current)
    rt = open_runtime(current)
    try:
        yield rt
    finally:
        rt.close()


def progress_bar(total: int | None, label: str) -> Any:
    """A Rich progress bar on a terminal; a silent stand-in otherwise."""
    if not sys.stderr.isatty():
        return None
    from rich.progress import Progress

    bar = Progress(transient=False)
    bar.start()
    task = bar.add_task(label, total=total)
    bar.tutela_task = task  # type: ignore[attr-defined]
    return bar


def _fields(items: list[str]) -> dict[str, str]:
    fields: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InvalidInput(f"--field {item!r}: expected CATEGORY=VALUE, e.g. user.name=Ada")
        fields[key.strip()] = value
    return fields


def _print_subject(view: dict[str, Any]) -> None:
    typer.echo(f"subject {view['id']}  tenant {view['tenant']}  {view['status']}")
    for key, value in view.get("fields", {}).items():
        typer.echo(f"  {key}: {value}")
    for key in view.get("hashed_fields", []):
        typer.echo(f"  {key}: (hashed, verify-only)")
    if view.get("message"):
        typer.echo(f"  {view['message']}")


# --- setup -----------------------------------------------------------------------------


@app.command()
def init(
    declarations: Annotated[
        Path | None, typer.Option("--declarations", "-d", help="Declaration file to load.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Create or upgrade the data directory, key ring, schema; load declarations."""
    from tutela.bootstrap import initialize

    current = settings()
    result = initialize(current, declarations)

    def human() -> None:
        typer.echo(f"data directory: {current.data_dir}")
        typer.echo("key ring: created" if result.created_keyring else "key ring: kept")
        before = result.schema_before or "none"
        typer.echo(f"schema: {before} -> {result.schema_after}")
        typer.echo(f"declarations: {result.declarations}")
        for tenant in result.tenants_created:
            typer.echo(f"tenant created: {tenant}")
        if result.admin_key:
            typer.echo("")
            typer.echo("Administrator API key (shown once; store it now):")
            typer.echo(f"  {result.admin_key}")
        else:
            typer.echo("API keys: existing keys kept (no new key issued)")

    emit(result.as_dict(), as_json, human)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Listen address.")] = None,
    port: Annotated[int | None, typer.Option(help="Listen port.")] = None,
    workers: Annotated[
        int, typer.Option(help="Worker processes (production: one per CPU core).", min=1)
    ] = 1,
) -> None:
    """Serve the REST API (OpenAPI docs at /docs)."""
    import os

    import uvicorn

    from tutela.bootstrap import check_data_dir, open_runtime

    current = settings()
    check_data_dir(current)
    open_runtime(current).close()  # fail here, with a message, on a bad key ring or schema
    os.environ["TUTELA_DATA_DIR"] = str(current.data_dir)  # the workers read their settings
    uvicorn.run(
        "tutela.entrypoints.api:asgi_app",
        factory=True,
        host=host or current.host,
        port=current.port if port is None else port,
        workers=workers,
        log_level=current.log_level,
        server_header=False,
    )


@app.command()
def check(
    files: Annotated[list[Path], typer.Argument(help="Declaration files to check.")],
    as_json: JsonOpt = False,
) -> None:
    """Check declaration files; print every problem with file, line, key path and fix.

    For a declared database whose connection variable is set, also advise the indexes its
    identity and reference columns lack (advice does not fail the check)."""
    from tutela.declarations import check_file

    report: dict[str, list[dict[str, Any]]] = {}
    advice: list[dict[str, Any]] = []
    for file in files:
        report[str(file)] = [p.as_dict() for p in check_file(file)]
        if not report[str(file)]:
            report[str(file)] = [p.as_dict() for p in _retention_live(file)]
        if not report[str(file)]:
            advice.extend(a.as_dict() for a in _index_advice(file))
    bad = sum(len(v) for v in report.values())
    if as_json:
        data = {"ok": bad == 0, "files": report, "advice": advice}
        typer.echo(json.dumps(data, indent=2, ensure_ascii=False))
    else:
        for name, problems in report.items():
            if not problems:
                typer.echo(f"{name}: ok")
            for problem in problems:
                typer.echo(_problem_line(problem), err=True)
        for item in advice:
            typer.echo(_problem_line({**item, "message": f"advice: {item['message']}"}))
        if advice:
            typer.echo(f"{len(advice)} recommendation(s)")
        if bad:
            typer.echo(f"{bad} problem(s) found", err=True)
    if bad:
        raise typer.Exit(1)


def _index_advice(file: Path) -> list[Any]:
    from tutela.adapters.connectors.sql_indexes import index_advice
    from tutela.declarations import load_declarations

    return index_advice(load_declarations(file), file.parent, str(file))


def _retention_live(file: Path) -> list[Any]:
    from tutela.adapters.connectors.sql_retention import live_problems
    from tutela.declarations import load_declarations

    return live_problems(load_declarations(file), file)


def _problem_line(problem: dict[str, Any]) -> str:
    where = problem["file"] + (f":{problem['line']}" if problem.get("line") else "")
    text = (
        f"{where}: {problem['path']}: {problem['message']}"
        if problem.get("path")
        else (f"{where}: {problem['message']}")
    )
    return text + (f"; {problem['fix']}" if problem.get("fix") else "")


@app.command()
def schema() -> None:
    """Print the JSON Schema of the declaration file."""
    from tutela.declarations import json_schema

    typer.echo(json.dumps(json_schema(), indent=2))


# --- subjects --------------------------------------------------------------------------


@subjects_app.command("add")
def subjects_add(
    tenant: TenantOpt = "default",
    email: Annotated[str | None, typer.Option(help="Email address (identity).")] = None,
    phone: Annotated[str | None, typer.Option(help="Phone number (identity).")] = None,
    field: Annotated[
        list[str] | None, typer.Option("--field", "-f", help="CATEGORY=VALUE, repeatable.")
    ] = None,
    birth_date: Annotated[str | None, typer.Option(help="Birth date, YYYY-MM-DD.")] = None,
    age: Annotated[
        int | None, typer.Option(help="Age claimed at registration (when no birth date).")
    ] = None,
    language: Annotated[
        str | None,
        typer.Option(help="Language notices are written in (a declared one; default: first)."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Register a data subject."""
    from tutela.domain.identities import EMAIL_CATEGORY, PHONE_CATEGORY
    from tutela.domain.subjects import BIRTH_DATE_CATEGORY
    from tutela.services import vault

    fields = _fields(field or [])
    for key, value in (
        (EMAIL_CATEGORY, email),
        (PHONE_CATEGORY, phone),
        (BIRTH_DATE_CATEGORY, birth_date),
    ):
        if value is not None:
            fields[key] = value
    with runtime() as rt:
        who = rt.operator(tenant)
        view = vault.register(rt.ctx, who, fields, age_claim=age, language=language).as_dict()
    emit(view, as_json, lambda: _print_subject(view))


@subjects_app.command("show")
def subjects_show(subject_id: str, tenant: TenantOpt = "default", as_json: JsonOpt = False) -> None:
    """Show a subject's decrypted fields (audited)."""
    from tutela.services import vault

    with runtime() as rt:
        view = vault.read(rt.ctx, rt.operator(tenant), subject_id).as_dict()
    emit(view, as_json, lambda: _print_subject(view))


@subjects_app.command("find")
def subjects_find(
    tenant: TenantOpt = "default",
    email: Annotated[str | None, typer.Option(help="Email address to look up.")] = None,
    phone: Annotated[str | None, typer.Option(help="Phone number to look up.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Look a subject up by email or phone (blind index; nothing is decrypted to search)."""
    from tutela.services import vault

    if (email is None) == (phone is None):
        fail("give exactly one of --email or --phone", 2)
    kind, value = ("email", email) if email is not None else ("phone", phone)
    assert value is not None
    with runtime() as rt:
        view = vault.find(rt.ctx, rt.operator(tenant), kind, value).as_dict()
    emit(view, as_json, lambda: _print_subject(view))


@subjects_app.command("update")
def subjects_update(
    subject_id: str,
    field: Annotated[
        list[str] | None, typer.Option("--field", "-f", help="CATEGORY=VALUE, repeatable.")
    ] = None,
    remove: Annotated[
        list[str] | None, typer.Option("--remove", help="CATEGORY to remove, repeatable.")
    ] = None,
    language: Annotated[
        str | None, typer.Option(help="Language notices are written in (a declared one).")
    ] = None,
    tenant: TenantOpt = "default",
    as_json: JsonOpt = False,
) -> None:
    """Correct a subject's fields (rectification); --remove deletes a field."""
    from tutela.services import vault

    changes: dict[str, str | None] = dict(_fields(field or []))
    for key in remove or []:
        changes[key] = None
    with runtime() as rt:
        who = rt.operator(tenant)
        if language is not None:
            vault.set_language(rt.ctx, who, subject_id, language)
        if changes or language is None:
            view = vault.update(rt.ctx, who, subject_id, changes).as_dict()
        else:
            view = vault.read(rt.ctx, who, subject_id).as_dict()
    emit(view, as_json, lambda: _print_subject(view))


@subjects_app.command("list")
def subjects_list(
    tenant: TenantOpt = "default",
    limit: Annotated[int, typer.Option(help="Page size (1-1000).")] = 100,
    cursor: Annotated[str | None, typer.Option(help="Cursor from a previous page.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """List subjects: ids, status and field names (no values)."""
    from tutela.services import vault

    with runtime() as rt:
        page = vault.list_page(rt.ctx, rt.operator(tenant), cursor, limit)
    data = {"items": page.items, "next_cursor": page.next_cursor}

    def human() -> None:
        for item in page.items:
            typer.echo(f"{item['id']}  {item['status']:7}  {', '.join(item['field_names'])}")  # type: ignore[arg-type]
        if page.next_cursor:
            typer.echo(f"more: --cursor {page.next_cursor}")

    emit(data, as_json, human)


@subjects_app.command("erase")
def subjects_erase(
    subject_id: str,
    reason: Annotated[str, typer.Option(help="Why (kept in the audit log).")] = "erasure",
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    tenant: TenantOpt = "default",
    as_json: JsonOpt = False,
) -> None:
    """Erase a subject for good by destroying its data key (crypto-shredding)."""
    from tutela.services import vault

    if not yes and not typer.confirm(f"Erase subject {subject_id} for good?", err=True):
        fail("not erased", 1)
    with runtime() as rt:
        view = vault.erase(rt.ctx, rt.operator(tenant), subject_id, reason).as_dict()
    emit(view, as_json, lambda: _print_subject(view))


@subjects_app.command("verify")
def subjects_verify(
    subject_id: str,
    category: Annotated[
        str, typer.Option("--field", help="Hashed category, e.g. user.authorization.password.")
    ],
    tenant: TenantOpt = "default",
    as_json: JsonOpt = False,
) -> None:
    """Check a secret against a hashed field (asked for without echo); exit 1 if wrong."""
    from tutela.services import vault

    secret = typer.prompt("value", hide_input=True, err=True)  # stdout stays JSON
    with runtime() as rt:
        matched = vault.verify_secret(rt.ctx, rt.operator(tenant), subject_id, category, secret)
    emit({"match": matched}, as_json, lambda: typer.echo("match" if matched else "no match"))
    if not matched:
        raise typer.Exit(1)


@subjects_app.command("import")
def subjects_import(
    file: Annotated[Path, typer.Argument(help="CSV (header = categories) or JSONL file.")],
    tenant: TenantOpt = "default",
    as_json: JsonOpt = False,
) -> None:
    """Register many subjects from CSV or JSON Lines; all rows are checked before any write."""
    from tutela.entrypoints.rows import read_rows
    from tutela.services import imports

    rows = read_rows(file)
    bar = progress_bar(len(rows), "importing")
    try:
        with runtime() as rt:
            result = imports.import_subjects(
                rt.ctx,
                rt.operator(tenant),
                rows,
                progress=(lambda n: bar.advance(bar.tutela_task, n)) if bar else None,
            )
    finally:
        if bar:
            bar.stop()
    emit(
        {"imported": result.imported, "ids": result.ids},
        as_json,
        lambda: typer.echo(f"imported {result.imported} subject(s)"),
    )


# --- tenants and API keys --------------------------------------------------------------


@tenants_app.command("add")
def tenants_add(
    tenant_id: str,
    name: Annotated[str, typer.Option(help="Display name.")] = "",
    as_json: JsonOpt = False,
) -> None:
    """Create a tenant."""
    from tutela.services import tenants

    with runtime() as rt:
        data = tenants.create_tenant(rt.ctx, rt.operator(), tenant_id, name or tenant_id)
    emit(data, as_json, lambda: typer.echo(f"tenant {tenant_id} created"))


@tenants_app.command("list")
def tenants_list(as_json: JsonOpt = False) -> None:
    """List tenants."""
    from tutela.services import tenants

    with runtime() as rt:
        data = tenants.list_tenants(rt.ctx, rt.operator())

    def human() -> None:
        for t in data:
            typer.echo(f"{t['id']}  {t['name']}")

    emit(data, as_json, human)


tenant_retention_app = typer.Typer(
    help="A tenant's own retention periods, within the bounds the declarations set.",
    no_args_is_help=True,
)
tenants_app.add_typer(tenant_retention_app, name="retention")


@tenant_retention_app.command("set")
def tenants_retention_set(
    purpose: Annotated[str, typer.Argument(help="A tenant-configurable purpose key.")],
    duration: Annotated[str, typer.Argument(help="ISO 8601 duration, e.g. P180D or P2Y.")],
    tenant: TenantOpt = "default",
    as_json: JsonOpt = False,
) -> None:
    """Set the tenant's retention period for a purpose (within its declared bounds)."""
    from tutela.services import tenant_retention

    with runtime() as rt:
        data = tenant_retention.set_period(rt.ctx, rt.operator(tenant), purpose, duration)
    emit(data, as_json, lambda: typer.echo(f"{tenant}: {purpose} kept {data['keep']}"))


@tenant_retention_app.command("list")
def tenants_retention_list(tenant: TenantOpt = "default", as_json: JsonOpt = False) -> None:
    """The retention period in force for each purpose, and where it comes from."""
    from tutela.services import tenant_retention

    with runtime() as rt:
        data = tenant_retention.listing(rt.ctx, rt.operator(tenant))

    def human() -> None:
        for p in data:
            bounds = f"  (tenant may set {p['min']}..{p['max']})" if p["min"] else ""
            typer.echo(f"{p['purpose']}: {p['keep']} after {p['after']}, {p['source']}{bounds}")
            if p["note"]:
                typer.echo(f"  note: {p['note']}")

    emit(data, as_json, human)


@apikeys_app.command("issue")
def apikeys_issue(
    tenant: TenantOpt = "default",
    scope: Annotated[
        list[str] | None,
        typer.Option("--scope", "-s", help="app, dpo, admin or platform; repeatable."),
    ] = None,
    name: Annotated[str, typer.Option(help="What the key is for.")] = "",
    as_json: JsonOpt = False,
) -> None:
    """Issue an API key for a tenant; the key is printed once and stored only hashed."""
    from tutela.services import tenants

    with runtime() as rt:
        issued = tenants.issue_key(rt.ctx, rt.operator(), tenant, name, scope or ["app"])
    data = issued.as_dict()
    emit(data, as_json, lambda: typer.echo(f"{issued.token}\n(shown once; store it now)"))


@apikeys_app.command("list")
def apikeys_list(
    tenant: Annotated[str | None, typer.Option("--tenant", "-t", help="Only this tenant.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """List API keys (never their secrets)."""
    from tutela.services import tenants

    with runtime() as rt:
        data = tenants.list_keys(rt.ctx, rt.operator(), tenant)

    def human() -> None:
        for key in data:
            state = "revoked" if key["revoked"] else "active"
            typer.echo(
                f"{key['id']}  {key['tenant']}  {' '.join(key['scopes'])}  {state}  "  # type: ignore[arg-type]
                f"{key['name']}"
            )

    emit(data, as_json, human)


@apikeys_app.command("revoke")
def apikeys_revoke(key_id: str, as_json: JsonOpt = False) -> None:
    """Revoke an API key at once."""
    from tutela.services import tenants

    with runtime() as rt:
        tenants.revoke_key(rt.ctx, rt.operator(), key_id)
    emit({"revoked": key_id}, as_json, lambda: typer.echo(f"key {key_id} revoked"))


# --- keys -------------------------------------------------------------------------------


def _rotation(fn: Callable[..., Any], label: str, as_json: bool) -> None:
    with runtime() as rt:
        from tutela.services import keys

        total = sum(n for v, n in rt.ctx.keys.count_by_version().items())
        bar = progress_bar(total, label)
        try:
            result = fn(
                rt.ctx,
                rt.operator(),
                progress=(lambda n, _t: bar.advance(bar.tutela_task, n)) if bar else None,
            )
        finally:
            if bar:
                bar.stop()
        data = {**result.as_dict(), "status": keys.status(rt.ctx)}
    emit(
        data,
        as_json,
        lambda: typer.echo(
            f"active version {result.version}: {result.rewrapped} data key(s) re-wrapped, "
            f"{result.remaining} left"
        ),
    )


@keys_app.command("rotate")
def keys_rotate(as_json: JsonOpt = False) -> None:
    """New key-encryption key version; re-wrap every data key online."""
    from tutela.services import keys

    _rotation(keys.rotate, "re-wrapping", as_json)


@keys_app.command("rewrap")
def keys_rewrap(as_json: JsonOpt = False) -> None:
    """Finish re-wrapping data keys under the active version (after an interruption)."""
    from tutela.services import keys

    _rotation(keys.rewrap, "re-wrapping", as_json)


@keys_app.command("status")
def keys_status(as_json: JsonOpt = False) -> None:
    """Key versions and how many data keys each wraps."""
    from tutela.services import keys

    with runtime() as rt:
        data = keys.status(rt.ctx)

    def human() -> None:
        for v in data["versions"]:  # type: ignore[attr-defined]
            mark = " (active)" if v["active"] else ""
            typer.echo(f"version {v['version']}{mark}: {v['data_keys']} data key(s)")

    emit(data, as_json, human)


@keys_app.command("retire")
def keys_retire(version: int, as_json: JsonOpt = False) -> None:
    """Remove a key version from the key ring once no data key uses it."""
    from tutela.services import keys

    with runtime() as rt:
        keys.retire(rt.ctx, rt.operator(), version)
    emit({"retired": version}, as_json, lambda: typer.echo(f"version {version} retired"))


@keys_app.command("reconcile")
def keys_reconcile(
    apply: Annotated[
        bool, typer.Option("--apply", help="Finish the erasures (default: only report).")
    ] = False,
    tenant: Annotated[
        str | None, typer.Option("--tenant", "-t", help="Only this tenant (default: all).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """After a restore: finish erasures the restored database or key store does not know of."""
    from tutela.services import keys, tenants

    with runtime() as rt:
        names = (
            [tenant]
            if tenant
            else [str(t["id"]) for t in tenants.list_tenants(rt.ctx, rt.operator())]
        )
        data = [keys.reconcile(rt.ctx, rt.operator(n), apply=apply).as_dict() for n in names]

    def human() -> None:
        for item in data:
            state = "erased" if apply else "to erase with --apply"
            found = f", {item['shredded']} without a data key ({state})" if item["shredded"] else ""
            typer.echo(f"tenant {item['tenant']}: {item['subjects_checked']} checked{found}")
            for sid in item["subjects"]:
                typer.echo(f"  {sid}")
            if item["keys_revived"]:
                done = "deleted" if apply else "to delete with --apply"
                typer.echo(f"  keys of erased subjects back in the key store ({done}):")
            for sid in item["keys_revived"]:
                typer.echo(f"  {sid}")

    emit(data, as_json, human)


# --- audit ------------------------------------------------------------------------------


@audit_app.command("verify")
def audit_verify(as_json: JsonOpt = False) -> None:
    """Walk every audit chain; exit 1 naming the first entry changed, deleted or inserted."""
    from tutela.services import audit

    with runtime() as rt:
        total = audit.count_entries(rt.ctx)
        bar = progress_bar(total, "verifying")
        try:
            result = audit.verify(
                rt.ctx,
                rt.operator(),
                progress=(lambda n: bar.advance(bar.tutela_task, n)) if bar else None,
            )
        finally:
            if bar:
                bar.stop()

    def human() -> None:
        if result.ok:
            typer.echo(f"ok: {result.entries} entries in {result.chains} chain(s) verified")
        for problem in result.problems:
            typer.echo(f"tampered: {problem.message}", err=True)

    emit(result.as_dict(), as_json, human)
    if not result.ok:
        raise typer.Exit(1)


@audit_app.command("list")
def audit_list(
    tenant: TenantOpt = "default",
    subject: Annotated[str | None, typer.Option(help="Only entries about this subject.")] = None,
    after: Annotated[int, typer.Option(help="Entries after this sequence number.")] = 0,
    limit: Annotated[int, typer.Option(help="How many entries.")] = 100,
    as_json: JsonOpt = False,
) -> None:
    """List audit entries of a tenant (who, what, which fields, when; never values)."""
    from tutela.domain.subjects import iso
    from tutela.services import audit

    with runtime() as rt:
        data = audit.entries(
            rt.ctx, rt.operator(tenant), subject_id=subject, after=after, limit=limit
        )

    def human() -> None:
        for e in data:
            names = ",".join(e["fields"])  # type: ignore[arg-type]
            typer.echo(
                f"#{e['seq']} {iso(int(e['at']))} {e['actor']} {e['action']} "  # type: ignore[call-overload]
                f"{e['subject_id'] or '-'} {names}"
            )

    emit(data, as_json, human)


# --- consent ----------------------------------------------------------------------------

GuardianEmail = Annotated[
    str | None, typer.Option("--guardian-email", help="A guardian consents for a minor.")
]
VerifiedBy = Annotated[
    str | None, typer.Option("--verified-by", help="How the guardian was verified.")
]
Method = Annotated[
    str, typer.Option(help="web_form, api, cookie_banner, browser_signal or guardian.")
]
Bundled = Annotated[
    bool,
    typer.Option(
        "--bundled",
        help="Part of an accept-all (does not count where the law asks for separate consent).",
    ),
]
Jurisdiction = Annotated[
    str | None, typer.Option(help="Jurisdiction (default: the first declared).")
]
Language = Annotated[str | None, typer.Option(help="Language of the notice shown.")]


def _record_consent(
    action: str,
    subject_id: str,
    purposes: list[str],
    tenant: str,
    method: str,
    bundled: bool,
    guardian_email: str | None,
    verified_by: str | None,
    jurisdiction: str | None,
    language: str | None,
    as_json: bool,
) -> None:
    from tutela.services import consent

    guardian = None
    if guardian_email is not None or verified_by is not None:
        if not guardian_email or not verified_by:
            fail("guardian consent needs both --guardian-email and --verified-by", 2)
        guardian = consent.Guardian(guardian_email, verified_by)
    with runtime() as rt:
        who = rt.operator(tenant)
        if action == "withdraw" and not purposes:
            events = consent.withdraw_all(
                rt.ctx,
                who,
                subject_id,
                method=method,
                guardian=guardian,
                jurisdiction=jurisdiction,
                language=language,
            )
        else:
            events = consent.record(
                rt.ctx,
                who,
                subject_id,
                purposes,
                action,
                method=method,
                guardian=guardian,
                bundled=bundled,
                jurisdiction=jurisdiction,
                language=language,
            )

    def human() -> None:
        if not events:
            typer.echo("nothing to withdraw")
        for e in events:
            typer.echo(f"{e['action']} {e['purpose']} recorded (receipt {e['id']})")

    emit(events, as_json, human)


@consent_app.command("grant")
def consent_grant(
    subject_id: str,
    purposes: Annotated[list[str], typer.Argument(help="Consent-based purposes.")],
    tenant: TenantOpt = "default",
    method: Method = "api",
    bundled: Bundled = False,
    guardian_email: GuardianEmail = None,
    verified_by: VerifiedBy = None,
    jurisdiction: Jurisdiction = None,
    language: Language = None,
    as_json: JsonOpt = False,
) -> None:
    """Record consent to purposes (a guardian's, for a minor)."""
    _record_consent(
        "grant",
        subject_id,
        purposes,
        tenant,
        method,
        bundled,
        guardian_email,
        verified_by,
        jurisdiction,
        language,
        as_json,
    )


@consent_app.command("refuse")
def consent_refuse(
    subject_id: str,
    purposes: Annotated[list[str], typer.Argument(help="Consent-based purposes.")],
    tenant: TenantOpt = "default",
    method: Method = "api",
    guardian_email: GuardianEmail = None,
    verified_by: VerifiedBy = None,
    jurisdiction: Jurisdiction = None,
    language: Language = None,
    as_json: JsonOpt = False,
) -> None:
    """Record a refusal of consent."""
    _record_consent(
        "refuse",
        subject_id,
        purposes,
        tenant,
        method,
        False,
        guardian_email,
        verified_by,
        jurisdiction,
        language,
        as_json,
    )


@consent_app.command("withdraw")
def consent_withdraw(
    subject_id: str,
    purposes: Annotated[
        list[str] | None, typer.Argument(help="Purposes; none withdraws every consent.")
    ] = None,
    tenant: TenantOpt = "default",
    method: Method = "api",
    guardian_email: GuardianEmail = None,
    verified_by: VerifiedBy = None,
    jurisdiction: Jurisdiction = None,
    language: Language = None,
    as_json: JsonOpt = False,
) -> None:
    """Withdraw consent (future processing stops at once; past events stay)."""
    _record_consent(
        "withdraw",
        subject_id,
        purposes or [],
        tenant,
        method,
        False,
        guardian_email,
        verified_by,
        jurisdiction,
        language,
        as_json,
    )


@consent_app.command("renew")
def consent_renew(
    purposes: Annotated[list[str], typer.Argument(help="Consent-based purposes.")],
    as_json: JsonOpt = False,
) -> None:
    """Require fresh consent: consents given before now stop counting (checks say stale)."""
    from tutela.services import consent

    with runtime() as rt:
        data = consent.require_renewal(rt.ctx, rt.operator(), purposes)
    emit(
        data,
        as_json,
        lambda: typer.echo(f"consent must be given again for: {', '.join(data['purposes'])}"),
    )


@consent_app.command("show")
def consent_show(subject_id: str, tenant: TenantOpt = "default", as_json: JsonOpt = False) -> None:
    """Every declared purpose with the subject's consent state and the current decision."""
    from tutela.services import consent

    with runtime() as rt:
        data = consent.show(rt.ctx, rt.operator(tenant), subject_id)

    def human() -> None:
        if data["minor_until"]:
            typer.echo(f"minor until {data['minor_until']}")
        for p in data["purposes"]:
            mark = "allowed" if p["allowed"] else "refused"
            state = f" [{p['state']}]" if p["state"] else ""
            typer.echo(f"{p['purpose']:24} {p['legal_basis']:20}{state} {mark}: {p['reason']}")

    emit(data, as_json, human)


@consent_app.command("check")
def consent_check(
    subject_id: str, purpose: str, tenant: TenantOpt = "default", as_json: JsonOpt = False
) -> None:
    """May this purpose process this subject's data now? Exit 0 either way."""
    from tutela.domain.consent import REASONS
    from tutela.services import consent

    with runtime() as rt:
        decision = consent.check(rt.ctx, rt.operator(tenant), subject_id, purpose)
    data = {**decision.as_dict(), "explanation": REASONS.get(decision.reason, "")}
    emit(
        data,
        as_json,
        lambda: typer.echo(
            f"{'allowed' if decision.allowed else 'refused'}: {decision.reason} "
            f"({data['explanation']})"
        ),
    )


@receipts_app.command("show")
def receipts_show(record_id: str, tenant: TenantOpt = "default", as_json: JsonOpt = False) -> None:
    """Print the signed receipt (compact JWS) of a consent event."""
    from tutela.services import consent

    with runtime() as rt:
        token = consent.receipt(rt.ctx, rt.operator(tenant), record_id)
    emit({"id": record_id, "receipt": token}, as_json, lambda: typer.echo(token))


@receipts_app.command("keys")
def receipts_keys() -> None:
    """Print the public keys receipts are signed with (JWKS)."""
    with runtime() as rt:
        assert rt.ctx.signer is not None
        typer.echo(json.dumps(rt.ctx.signer.jwks(), indent=2))


@receipts_app.command("rotate-key")
def receipts_rotate_key(as_json: JsonOpt = False) -> None:
    """Start signing receipts with a new key; old keys stay published so old receipts verify."""
    with runtime() as rt:
        kid = rt.ring.rotate_signing()
    emit({"active": kid}, as_json, lambda: typer.echo(f"receipts are now signed with {kid}"))


@receipts_app.command("verify")
def receipts_verify(
    file: Annotated[Path, typer.Argument(help="A receipt (compact JWS) or JSON holding one.")],
    jwks: Annotated[
        Path | None,
        typer.Option(
            "--jwks", help="Published public keys (JWKS file); default: this installation's keys."
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Check a receipt's signature offline; exit 1 on any change."""
    from tutela.adapters.signing import verify_jws

    token = _receipt_token(file)
    if jwks is not None:
        keys = _json_file(jwks)
    else:
        with runtime() as rt:
            assert rt.ctx.signer is not None
            keys = rt.ctx.signer.jwks()
    payload = verify_jws(token, keys)

    def human() -> None:
        if "record_id" in payload:  # a consent receipt
            state = payload.get("event", {}).get("state")
            typer.echo(f"valid: receipt {payload['record_id']} ({state})")
        else:  # another signed document (e.g. a sunset report)
            typer.echo(
                f"valid: signed {payload.get('schema') or payload.get('kind') or 'document'}"
            )

    emit({"valid": True, "receipt": payload}, as_json, human)


def _json_file(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise InvalidInput(f"{path}: no such file") from None
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise InvalidInput(f"{path}: not JSON") from None


def _receipt_token(path: Path) -> str:
    try:
        text = path.read_text().strip()
    except FileNotFoundError:
        raise InvalidInput(f"{path}: no such file") from None
    except UnicodeDecodeError:
        raise InvalidInput(f"{path}: not a text file holding a receipt") from None
    if text.startswith("{"):
        data = _json_file(path)
        token = data.get("receipt") if isinstance(data, dict) else None
        if not isinstance(token, str):
            raise InvalidInput(f'{path}: JSON without a "receipt" string')
        return token
    return text


# --- data-subject requests ---------------------------------------------------------------


def _print_request(data: dict[str, Any]) -> None:
    urgency = f" [{data['urgency']}]" if data.get("urgency") else ""
    typer.echo(f"{data['id']}  {data['type']:16} {data['state']:11} due {data['due']}{urgency}")
    if data.get("waiting_for"):
        typer.echo(f"  waiting for: {', '.join(data['waiting_for'])} (run again once they answer)")
    for entry in data.get("history", []):
        typer.echo(f"  {entry['at']}  {entry['from'] or '-'} -> {entry['to']}: {entry['note']}")
    if data.get("result"):
        typer.echo(f"  result: {json.dumps(data['result'], ensure_ascii=False)}")


def _request_action(
    action: Callable[..., dict[str, Any]], tenant: str, as_json: bool, *args: Any, **kwargs: Any
) -> None:
    """Run one request service call as the operator of ``tenant`` and print the request."""
    with runtime() as rt:
        data = action(rt.ctx, rt.operator(tenant), *args, **kwargs)
    emit(data, as_json, lambda: _print_request(data))


@requests_app.command("create")
def requests_create(
    kind: Annotated[
        str,
        typer.Option(
            "--type",
            help="access, portability, rectification, "
            "erasure, restriction, lift_restriction, objection, "
            "withdraw_consent or account_closure.",
        ),
    ],
    email: Annotated[str | None, typer.Option(help="The subject's email address.")] = None,
    phone: Annotated[str | None, typer.Option(help="The subject's phone number.")] = None,
    jurisdiction: Jurisdiction = None,
    language: Language = None,
    verified_by: Annotated[
        str | None,
        typer.Option(
            "--verified-by",
            help="Identity already verified by this "
            "method (dpo): account_login, id_document, in_person, …",
        ),
    ] = None,
    field: Annotated[
        list[str] | None, typer.Option("--field", "-f", help="Rectification: CATEGORY=VALUE.")
    ] = None,
    purpose: Annotated[
        str | None, typer.Option(help="Objection: a purpose, or direct_marketing.")
    ] = None,
    tenant: TenantOpt = "default",
    as_json: JsonOpt = False,
) -> None:
    """Receive a request naming the subject by email or phone."""
    from tutela.services import requests

    details: dict[str, Any] = {}
    if field:
        details["fields"] = _fields(field)
    if purpose:
        details["purpose"] = purpose
    with runtime() as rt:
        data = requests.create(
            rt.ctx,
            rt.operator(tenant),
            kind,
            email=email,
            phone=phone,
            jurisdiction=jurisdiction,
            language=language,
            details=details or None,
            verified_by=verified_by,
        )
    emit(data, as_json, lambda: _print_request(data))


@requests_app.command("list")
def requests_list(
    state: Annotated[list[str] | None, typer.Option(help="Only these states.")] = None,
    limit: Annotated[int, typer.Option(help="How many.")] = 100,
    tenant: TenantOpt = "default",
    as_json: JsonOpt = False,
) -> None:
    """The queue: open requests first, overdue and nearly due on top."""
    from tutela.services import requests

    with runtime() as rt:
        data = requests.queue(rt.ctx, rt.operator(tenant), states=state, limit=limit)

    def human() -> None:
        for item in data:
            _print_request(item)

    emit(data, as_json, human)


@requests_app.command("show")
def requests_show(request_id: str, tenant: TenantOpt = "default", as_json: JsonOpt = False) -> None:
    """A request with its deadline and history."""
    from tutela.services import requests

    _request_action(requests.show, tenant, as_json, request_id)


@requests_app.command("send-code")
def requests_send_code(
    request_id: str, tenant: TenantOpt = "default", as_json: JsonOpt = False
) -> None:
    """Email the subject a one-time code (6 digits, valid 10 minutes)."""
    from tutela.services import requests

    _request_action(requests.send_code, tenant, as_json, request_id, client="cli")


@requests_app.command("verify")
def requests_verify(
    request_id: str,
    code: Annotated[str | None, typer.Option(help="The code the subject received.")] = None,
    method: Annotated[
        str | None,
        typer.Option(
            help="Verified another way (dpo): account_login, "
            "id_document, in_person, signed_letter, …"
        ),
    ] = None,
    tenant: TenantOpt = "default",
    as_json: JsonOpt = False,
) -> None:
    """Verify the subject's identity by code or by a documented method."""
    from tutela.services import requests

    if (code is None) == (method is None):
        fail("give exactly one of --code or --method", 2)
    with runtime() as rt:
        who = rt.operator(tenant)
        if code is not None:
            data = requests.verify_code(rt.ctx, who, request_id, code)
        else:
            assert method is not None
            data = requests.mark_verified(rt.ctx, who, request_id, method)
    emit(data, as_json, lambda: _print_request(data))


@requests_app.command("approve")
def requests_approve(
    request_id: str, tenant: TenantOpt = "default", as_json: JsonOpt = False
) -> None:
    """Approve a verified request for execution."""
    from tutela.services import requests

    _request_action(requests.approve, tenant, as_json, request_id)


@requests_app.command("reject")
def requests_reject(
    request_id: str,
    reason: Annotated[str, typer.Option(help="Shown to the subject.")],
    tenant: TenantOpt = "default",
    as_json: JsonOpt = False,
) -> None:
    """Reject a request, with the reason the subject is told."""
    from tutela.services import requests

    _request_action(requests.reject, tenant, as_json, request_id, reason)


@requests_app.command("extend")
def requests_extend(
    request_id: str,
    reason: Annotated[str, typer.Option(help="Why more time is needed (told to the subject).")],
    tenant: TenantOpt = "default",
    as_json: JsonOpt = False,
) -> None:
    """Extend the deadline where the jurisdiction allows (once, within the first period)."""
    from tutela.services import requests

    _request_action(requests.extend, tenant, as_json, request_id, reason)


@requests_app.command("cancel")
def requests_cancel(
    request_id: str, tenant: TenantOpt = "default", as_json: JsonOpt = False
) -> None:
    """Cancel a pending request (the subject changed their mind)."""
    from tutela.services import requests

    _request_action(requests.cancel, tenant, as_json, request_id)


@requests_app.command("run")
def requests_run(request_id: str, tenant: TenantOpt = "default", as_json: JsonOpt = False) -> None:
    """Execute a verified request to the end (resumes an interrupted one)."""
    from tutela.services import request_runner

    _request_action(request_runner.run, tenant, as_json, request_id)


@requests_app.command("download")
def requests_download(
    request_id: str,
    output: Annotated[Path, typer.Option("--output", "-o", help="Where to write the ZIP.")],
    tenant: TenantOpt = "default",
    as_json: JsonOpt = False,
) -> None:
    """Write a completed access request's package (ZIP) to a file."""
    from tutela.services import packages, requests

    with runtime() as rt:
        who = rt.operator(tenant)
        package_id = requests.package_of(rt.ctx, who, request_id)
        content = packages.fetch(rt.ctx, who.tenant_id, package_id)
    output.write_bytes(content)
    output.chmod(0o600)
    emit(
        {"output": str(output), "size": len(content)},
        as_json,
        lambda: typer.echo(f"wrote {output} ({len(content)} bytes)"),
    )


# --- worker and legal holds --------------------------------------------------------------


@app.command()
def worker(
    once: Annotated[bool, typer.Option("--once", help="Run what is due now, then stop.")] = False,
    tick: Annotated[float, typer.Option(help="Seconds between looks for due work.")] = 1.0,
    as_json: JsonOpt = False,
) -> None:
    """Run scheduled jobs: mail outbox, expired packages, overdue requests, follow-ups."""
    import signal
    import threading

    from tutela.entrypoints.worker_lock import single_worker
    from tutela.services.worker import Worker

    with runtime() as rt, single_worker(rt.settings):
        job = Worker(rt.ctx)
        if once:
            results = job.run_once()

            def human() -> None:
                for name, result in results:
                    typer.echo(f"{name}: {json.dumps(result)}")

            emit(dict(results), as_json, human)
            return
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        typer.echo("worker started; stop with Ctrl-C or SIGTERM", err=True)
        job.run_forever(stop, tick)


@holds_app.command("place")
def holds_place(
    reason: Annotated[str, typer.Option(help="The case, order or law that requires it.")],
    subject: Annotated[str | None, typer.Option(help="Hold one subject's data.")] = None,
    category: Annotated[str | None, typer.Option(help="Hold one data category.")] = None,
    ends_on: Annotated[str | None, typer.Option(help="End date, YYYY-MM-DD.")] = None,
    tenant: TenantOpt = "default",
    as_json: JsonOpt = False,
) -> None:
    """Place a legal hold on a subject, a category, or (neither given) the whole tenant."""
    from tutela.services import holds

    with runtime() as rt:
        data = holds.place(
            rt.ctx,
            rt.operator(tenant),
            reason=reason,
            subject_id=subject,
            category=category,
            ends_on=ends_on,
        )
    emit(data, as_json, lambda: typer.echo(f"hold {data['id']} placed ({data['scope']})"))


@holds_app.command("release")
def holds_release(hold_id: str, tenant: TenantOpt = "default", as_json: JsonOpt = False) -> None:
    """Release a legal hold."""
    from tutela.services import holds

    with runtime() as rt:
        data = holds.release(rt.ctx, rt.operator(tenant), hold_id)
    emit(data, as_json, lambda: typer.echo(f"hold {hold_id} released"))


@holds_app.command("list")
def holds_list(tenant: TenantOpt = "default", as_json: JsonOpt = False) -> None:
    """Legal holds in force."""
    from tutela.services import holds

    with runtime() as rt:
        data = holds.listing(rt.ctx, rt.operator(tenant))

    def human() -> None:
        for h in data:
            target = h["subject_id"] or h["category"] or "whole tenant"
            typer.echo(
                f"{h['id']}  {h['scope']:8} {target}  until {h['ends_on'] or '-'}: {h['reason']}"
            )

    emit(data, as_json, human)


def _retention(apply: bool, tenant: str, as_json: bool) -> None:
    from tutela.services import retention

    with runtime() as rt:
        bar = progress_bar(None, "sweeping" if apply else "planning")  # counts as it goes
        try:
            data = retention.run(
                rt.ctx,
                rt.operator(tenant),
                apply=apply,
                progress=(lambda n: bar.advance(bar.tutela_task, n)) if bar else None,
            )
        finally:
            if bar:
                bar.stop()

    def human() -> None:
        verb = "removed" if apply else "due"
        typer.echo(f"tenant {data['tenant']}: {data['subjects_checked']} subject(s) checked")
        for item in data["due"]:
            typer.echo(
                f"  {verb}: {item['fields']} × {item['category']} "
                f"(rule {item['rule']}, then {item['then']})"
            )
        for item in data["held"]:
            typer.echo(f"  kept by hold {item['hold']}: {item['fields']} × {item['category']}")
        if apply:
            typer.echo(f"  subjects erased entirely: {data['subjects_erased']}")
        for item in data.get("datasets", []):
            where = f"{item['dataset']}.{item['collection']}"
            done = "deleted" if apply else "to delete"
            changed = "anonymized" if apply else "to anonymize"
            typer.echo(
                f"  dataset {where}: {item['deleted']} row(s) {done}, {item['anonymized']} "
                f"{changed} (rule {item['rule']}, then {item['then']})"
            )
        for item in data.get("datasets_held", []):
            where = f"{item['dataset']}.{item['collection']}"
            typer.echo(f"  dataset {where}: {item['rows']} row(s) kept by hold {item['hold']}")
        for item in data.get("datasets_kept", []):
            where = f"{item['dataset']}.{item['collection']}"
            typer.echo(
                f"  dataset {where}: {item['rows']} row(s) left as they are: {item['reason']}"
            )

    emit(data, as_json, human)


@retention_app.command("plan")
def retention_plan(tenant: TenantOpt = "default", as_json: JsonOpt = False) -> None:
    """Dry run: what retention would remove now, counted per category and rule (no values)."""
    _retention(False, tenant, as_json)


@retention_app.command("sweep")
def retention_sweep(tenant: TenantOpt = "default", as_json: JsonOpt = False) -> None:
    """Remove what has outlived its retention rules (resumable; evidence in the audit log)."""
    _retention(True, tenant, as_json)


@retention_app.command("end-purpose")
def retention_end_purpose(
    purpose: Annotated[str, typer.Argument(help="Declared purpose that ended.")],
    subject: Annotated[
        str | None,
        typer.Option("--subject", help="The subject it ended for (default: every subject)."),
    ] = None,
    at: Annotated[
        str | None,
        typer.Option("--at", metavar="ISO-TIME", help="When it ended (default: now)."),
    ] = None,
    tenant: TenantOpt = "default",
    as_json: JsonOpt = False,
) -> None:
    """Record that a purpose ended: rules counted from purpose_ended start then (audited)."""
    from tutela.services import purpose_endings

    with runtime() as rt:
        data = purpose_endings.end_purpose(
            rt.ctx, rt.operator(tenant), purpose, subject_id=subject, at=at
        )

    def human() -> None:
        whom = f"subject {data['subject_id']}" if data["subject_id"] else "every subject"
        typer.echo(f"{data['purpose']} ended for {whom} of {data['tenant']} at {data['ended_at']}")
        if data["previous"]:
            typer.echo(f"  (replaces the ending recorded at {data['previous']})")
        if data["note"]:
            typer.echo(f"  note: {data['note']}")

    emit(data, as_json, human)


# --- sunset ------------------------------------------------------------------------------


@app.command()
def sunset(
    confirm: Annotated[
        str | None,
        typer.Option(
            "--confirm",
            metavar="TENANT-OR-ALL",
            help="The tenant to shut down (its id), or ALL for every tenant.",
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Stop the service: tell every subject, refuse new data, close the recipients, erase what
    no legal hold keeps, and sign a final report (resumable: run it again to continue)."""
    if not confirm:
        fail(
            "a sunset tells every subject the service stops, then deletes their data for good; "
            "confirm it with --confirm TENANT (or --confirm ALL for every tenant)"
        )
    from tutela.adapters.webhooks import HttpWebhooks
    from tutela.services import sunset as sunsets

    with runtime() as rt:
        names = sunsets.targets(rt.ctx, confirm)
        webhooks = HttpWebhooks()
        data = [sunsets.run(rt.ctx, rt.operator(name), webhooks) for name in names]

    def human() -> None:
        for item in data:
            report = item["report"]
            subjects, recipients = report["subjects"], report["recipients"]
            typer.echo(f"tenant {item['tenant']}: the service has stopped")
            typer.echo(
                f"  subjects notified: {subjects['notified']}, erased: {subjects['erased']}, "
                f"kept by legal holds: {subjects['kept_by_holds']}"
            )
            for held in report["holds"]:
                typer.echo(
                    f"  kept by hold {held['hold']}: {held['subjects']} subject(s), "
                    f"{held['fields']} field(s)"
                )
            for dataset in report["datasets"]:
                typer.echo(
                    f"  dataset {dataset['dataset']}: {dataset['rows_deleted']} row(s) deleted, "
                    f"{dataset['rows_updated']} anonymized"
                )
            typer.echo(
                f"  recipients closed: {recipients['closed']} (webhooks notified: "
                f"{recipients['notified']}, failed: {recipients['failed']})"
            )
            if recipients["failed"]:
                typer.echo("  run tutela sunset again to retry the failed webhooks")
            typer.echo(f"  signed report (verify with tutela receipts verify):\n{item['receipt']}")

    emit(data if confirm == "ALL" else data[0], as_json, human)


# --- policy versions ---------------------------------------------------------------------

policy_app = typer.Typer(
    help="Privacy policy versions: publish, list, show, notify, and what changed between two.",
    no_args_is_help=True,
)
app.add_typer(policy_app, name="policy")


def _print_version(data: dict[str, Any]) -> None:
    material = {True: "material", False: "editorial", None: "initial"}[data["material"]]
    notices = ", ".join(f"{n} {state}" for state, n in sorted(data["notices"].items()))
    typer.echo(
        f"version {data['version']} ({data['label']}): {data['status']} from "
        f"{data['effective']}, {material}" + (f"; notices: {notices}" if notices else "")
    )


@policy_app.command("publish")
def policy_publish(
    file: Annotated[Path, typer.Argument(help="Declaration file of the new version.")],
    effective: Annotated[
        str | None,
        typer.Option(
            "--effective",
            help="Date it takes effect, YYYY-MM-DD (00:00 UTC); default: policy.effective.",
        ),
    ] = None,
    label: Annotated[
        str | None, typer.Option(help="Version label (default: policy.version of the file).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Store the declarations as a new immutable version and tell every concerned subject of
    its material changes (refused when too late for the notice period)."""
    import datetime as dt

    from tutela.services import policy

    try:
        day = dt.date.fromisoformat(effective) if effective is not None else None
    except ValueError:
        raise InvalidInput(
            f"--effective {effective!r} is not a date; write it as YYYY-MM-DD"
        ) from None
    with runtime() as rt:
        data = policy.publish(rt.ctx, rt.operator("default"), file, day, label=label)

    def human() -> None:
        _print_version(data)
        for change in data["changes"]:
            typer.echo(f"  {'MATERIAL' if change['material'] else 'editorial'} {change['path']}")
        if "notices" in data:
            n = data["notices"]
            typer.echo(
                f"notices: {n['queued']} queued to {n['concerned']} concerned subject(s), "
                f"{n['without_email']} without an email address"
            )

    emit(data, as_json, human)


@policy_app.command("list")
def policy_list(as_json: JsonOpt = False) -> None:
    """Every stored version, newest first, with its status and notices."""
    from tutela.services import policy

    with runtime() as rt:
        data = policy.list_versions(rt.ctx, rt.operator("default"))

    def human() -> None:
        if not data:
            typer.echo("no versions; publish one with `tutela policy publish`")
        for item in data:
            _print_version(item)

    emit(data, as_json, human)


@policy_app.command("show")
def policy_show(
    version: Annotated[int, typer.Argument(help="Version number (see `tutela policy list`).")],
    as_json: JsonOpt = False,
) -> None:
    """A version: status, effective date, material changes, whom they concern, notices."""
    from tutela.services import policy

    with runtime() as rt:
        data = policy.show(rt.ctx, rt.operator("default"), version)

    def human() -> None:
        _print_version(data)
        for change in data["material_changes"]:
            typer.echo(f"  MATERIAL {change['path']}: {change['reason']}")
        concerns = data["concerns"]
        if concerns["everyone"]:
            typer.echo("concerns: every subject")
        elif concerns["categories"] or concerns["purposes"]:
            typer.echo(
                "concerns: subjects with data in "
                + (", ".join(concerns["categories"]) or "-")
                + " or consent decisions on "
                + (", ".join(concerns["purposes"]) or "-")
            )
        if concerns["renew_consent"]:
            typer.echo("fresh consent needed for: " + ", ".join(concerns["renew_consent"]))

    emit(data, as_json, human)


@policy_app.command("notify")
def policy_notify(
    version: Annotated[int, typer.Argument(help="Version number.")],
    as_json: JsonOpt = False,
) -> None:
    """Queue a version's change notices again where missing (after an interruption); a
    subject already told is never told twice."""
    from tutela.services import policy

    with runtime() as rt:
        data = policy.notify(rt.ctx, rt.operator("default"), version)
    emit(data, as_json, lambda: typer.echo(", ".join(f"{k}: {v}" for k, v in data.items())))


def _declarations_of(what: str) -> Any:
    """A declaration file, or a stored version given by its number."""
    from tutela.declarations import load_declarations

    if what.isdigit() and not Path(what).exists():
        from tutela.services import policy

        with runtime() as rt:
            return policy.declarations_of(rt.ctx, int(what))
    return load_declarations(Path(what))


@policy_app.command("diff")
def policy_diff(
    old: Annotated[
        str, typer.Argument(help="Old version: a declaration file or a version number.")
    ],
    new: Annotated[
        str, typer.Argument(help="New version: a declaration file or a version number.")
    ],
    as_json: JsonOpt = False,
) -> None:
    """List every change between two versions (declaration files or stored versions), each
    marked material or editorial with its reason."""
    from tutela.declarations.diff import diff_declarations, is_material

    changes = diff_declarations(_declarations_of(old), _declarations_of(new))
    data = {"material": is_material(changes), "changes": [c.as_dict() for c in changes]}

    def human() -> None:
        if not changes:
            typer.echo("no changes")
        for change in changes:
            label = "MATERIAL" if change.material else "editorial"
            what: str = change.kind
            compound = isinstance(change.old, dict | list) or isinstance(change.new, dict | list)
            if change.kind == "changed" and not compound:
                what = f"changed {change.old} → {change.new}"
            typer.echo(f"{label} {change.path}: {what} — {change.reason}")

    emit(data, as_json, human)


def main() -> None:
    """Entry point: run the app, mapping Tutela errors to exit code 1 with a message."""
    try:
        # Without standalone mode an explicit `typer.Exit(n)` is returned, not raised.
        returned = app(standalone_mode=False)
    except TutelaError as exc:
        if isinstance(exc, DeclarationInvalid):
            for problem in exc.details.get("problems", []):
                typer.echo(_problem_line(problem), err=True)
        typer.echo(f"error: {exc.message}", err=True)
        sys.exit(1)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        typer.echo("aborted", err=True)
        sys.exit(1)
    except Exception as exc:
        # Usage errors of click, or of the click copy bundled with recent Typer releases.
        show = getattr(exc, "show", None)
        code = getattr(exc, "exit_code", None)
        if callable(show) and isinstance(code, int):
            show()
            sys.exit(code)
        raise
    sys.exit(returned if isinstance(returned, int) else 0)
