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
app.add_typer(subjects_app, name="subjects")
app.add_typer(tenants_app, name="tenants")
app.add_typer(apikeys_app, name="apikeys")
app.add_typer(keys_app, name="keys")
app.add_typer(audit_app, name="audit")

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
) -> None:
    """Serve the REST API (OpenAPI docs at /docs)."""
    import uvicorn

    from tutela.bootstrap import check_data_dir
    from tutela.entrypoints.api import create_app

    current = settings()
    check_data_dir(current)
    application = create_app(current)
    uvicorn.run(
        application,
        host=host or current.host,
        port=current.port if port is None else port,
        log_level=current.log_level,
        server_header=False,
    )


@app.command()
def check(
    files: Annotated[list[Path], typer.Argument(help="Declaration files to check.")],
    as_json: JsonOpt = False,
) -> None:
    """Check declaration files; print every problem with file, line, key path and fix."""
    from tutela.declarations import check_file

    report: dict[str, list[dict[str, Any]]] = {}
    for file in files:
        report[str(file)] = [p.as_dict() for p in check_file(file)]
    bad = sum(len(v) for v in report.values())
    if as_json:
        typer.echo(json.dumps({"ok": bad == 0, "files": report}, indent=2, ensure_ascii=False))
    else:
        for name, problems in report.items():
            if not problems:
                typer.echo(f"{name}: ok")
            for problem in problems:
                typer.echo(_problem_line(problem), err=True)
        if bad:
            typer.echo(f"{bad} problem(s) found", err=True)
    if bad:
        raise typer.Exit(1)


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
        view = vault.register(rt.ctx, rt.operator(tenant), fields).as_dict()
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
    tenant: TenantOpt = "default",
    as_json: JsonOpt = False,
) -> None:
    """Correct a subject's fields (rectification); --remove deletes a field."""
    from tutela.services import vault

    changes: dict[str, str | None] = dict(_fields(field or []))
    for key in remove or []:
        changes[key] = None
    with runtime() as rt:
        view = vault.update(rt.ctx, rt.operator(tenant), subject_id, changes).as_dict()
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
