"""The one place where concrete adapters are chosen and wired into a service context."""

from __future__ import annotations

import getpass
import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from tutela.adapters import schema
from tutela.adapters.database import make_engine
from tutela.adapters.keyring import KeyRing
from tutela.adapters.keystore import SqlKeyStore
from tutela.adapters.ring_signer import RingReceiptSigner
from tutela.adapters.sql_uow import SqlUnitOfWork
from tutela.adapters.vault_crypto import RingCrypto
from tutela.domain.access import Principal, operator
from tutela.domain.audit import SYSTEM_CHAIN, AuditEvent
from tutela.domain.consent import effective_minimum_age
from tutela.domain.errors import ConfigurationError, Conflict
from tutela.services import tenants as tenant_service
from tutela.services.context import Context, now_micros
from tutela.services.ports import AbstractMailer, AbstractUnitOfWork
from tutela.settings import Settings

if TYPE_CHECKING:
    from tutela.datasets.ports import AbstractConnector, AbstractHookConnector
    from tutela.declarations import Declarations


@dataclass
class Runtime:
    """Everything a running Tutela holds: settings, engines, key ring and service context."""

    settings: Settings
    engine: Engine
    key_engine: Engine
    ring: KeyRing
    ctx: Context
    declarations: Declarations | None
    declarations_id: int | None = None
    notes: list[str] = field(default_factory=list)

    def operator(self, tenant_id: str = tenant_service.DEFAULT_TENANT) -> Principal:
        return operator(tenant_id, f"cli:{_os_user()}")

    def close(self) -> None:
        self.engine.dispose()
        self.key_engine.dispose()


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return str(os.getuid())


class NoDeclarations:
    """The catalog before any declaration file is loaded: nothing may be stored."""

    category_keys: frozenset[str] = frozenset()
    default_phone_region: str | None = None

    def category(self, key: str) -> None:
        return None


def _stored_declarations(
    engine: Engine, now: int | None = None
) -> tuple[int | None, Declarations | None, str | None]:
    from tutela.declarations import Declarations

    with SqlUnitOfWork(engine, lambda _b: b"") as uow:
        current = uow.declarations.current(now_micros() if now is None else now)
        source = uow.declarations.source(current[0]) if current else None
    if current is None:
        return None, None, None
    return current[0], Declarations.model_validate_json(current[2]), source


def _connector_factory(
    declarations: Declarations, source: str | None, ring: KeyRing
) -> Callable[[], list[AbstractConnector]]:
    """Connectors of the declared databases, opened on first use (and kept): dataset files
    are read relative to the declaration file they were loaded with."""
    opened: list[AbstractConnector] = []

    def connectors() -> list[AbstractConnector]:
        if opened:
            return opened
        from tutela.adapters.connectors import open_sql_connectors

        base = Path(source).parent if source else Path.cwd()
        taxonomy = declarations.taxonomy
        parents = {e.key: e.parent for e in taxonomy.categories} if taxonomy else {}
        hash_key = ring.index_key("_datasets", "erasure-hash")
        for entry in declarations.datasets:
            if not entry.is_http:
                opened.extend(
                    open_sql_connectors(entry, base_dir=base, parents=parents, hash_key=hash_key)
                )
        return opened

    return connectors


def _dataset_categories(
    declarations: Declarations, source: str | None
) -> Callable[[], dict[str, frozenset[str]]]:
    """The categories of each declared dataset, its files read on first use (and kept)."""
    found: dict[str, frozenset[str]] = {}

    def categories() -> dict[str, frozenset[str]]:
        if found:
            return found
        from tutela.datasets.loading import load_datasets
        from tutela.declarations.taxonomy import fideslang_vocabulary

        base = Path(source).parent if source else Path.cwd()
        taxonomy = declarations.taxonomy
        extensions = {e.key for e in taxonomy.categories} if taxonomy else set()
        known = fideslang_vocabulary().categories | extensions
        for entry in declarations.datasets:
            if entry.is_http and entry.name is not None:
                found[entry.name] = frozenset(entry.categories)
            elif entry.file is not None:
                for dataset in load_datasets(base / entry.file, known_categories=known):
                    found[dataset.fides_key] = dataset.categories
        return found

    return categories


def _hook_factory(declarations: Declarations) -> Callable[[], list[AbstractHookConnector]]:
    """Connectors of the declared application endpoints (their secrets are read when used)."""
    opened: list[AbstractHookConnector] = []

    def hooks() -> list[AbstractHookConnector]:
        if not opened:
            from tutela.adapters.connectors import open_http_connector

            opened.extend(open_http_connector(e) for e in declarations.datasets if e.is_http)
        return opened

    return hooks


def _mailer(settings: Settings, declarations: Declarations | None) -> AbstractMailer | None:
    smtp = settings.smtp
    if smtp.host is None:
        return None
    from tutela.adapters.mail import SmtpMailer

    sender = smtp.sender or (str(declarations.organization.contact) if declarations else None)
    if not sender:
        raise ConfigurationError(
            "TUTELA_SMTP_HOST is set but there is no sender: set TUTELA_MAIL_FROM or load "
            "declarations with an organization contact"
        )
    if smtp.tls and smtp.starttls:
        raise ConfigurationError(
            "TUTELA_SMTP_TLS and TUTELA_SMTP_STARTTLS are both true: choose one (TLS from the "
            "start, usually port 465; or STARTTLS, usually port 587)"
        )
    return SmtpMailer(
        smtp.host,
        smtp.port,
        sender,
        username=smtp.username,
        password=smtp.password,
        starttls=smtp.starttls,
        tls=smtp.tls,
        ca_file=smtp.ca_file,
    )


def open_runtime(settings: Settings, *, require_schema: bool = True) -> Runtime:
    """Open an initialised data directory (``tutela init`` makes one)."""
    ring = KeyRing.load(settings.keyring)
    engine = make_engine(settings.database_url)
    key_engine = make_engine(settings.keystore_url)
    if require_schema:
        schema.require_current(engine)
    crypto = RingCrypto(ring, settings.argon2)
    keystore = SqlKeyStore(key_engine)
    declarations_id, declarations, source = (
        _stored_declarations(engine) if require_schema else (None, None, None)
    )
    ctx = Context(
        uow=lambda read_only=False: SqlUnitOfWork(engine, crypto.seal, read_only=read_only),
        keys=keystore,
        crypto=crypto,
        declarations=declarations if declarations is not None else NoDeclarations(),
        declarations_version=declarations_id,
        minimum_age=effective_minimum_age(
            declarations.jurisdictions if declarations else (),
            declarations.minimum_age if declarations else None,
        ),
        signer=RingReceiptSigner(ring),
        extras={
            "incident_clocks": settings.incident_clocks,
            "erasure_cooling_off_hours": settings.erasure_cooling_off_hours,
        },
        withdrawal_follow_up=settings.withdrawal_follow_up,
        mailer=_mailer(settings, declarations),
        public_url=settings.public_url,
        pipl_response_days=settings.pipl_response_days,
        package_days=settings.package_days,
        policy_notice_days=settings.policy_notice_days,
    )
    _use_datasets(ctx, declarations, source, ring)

    def reload() -> bool:
        """Switch to the version in force now, if another one came into force."""
        with SqlUnitOfWork(engine, lambda _b: b"", read_only=True) as uow:
            found = uow.declarations.current(ctx.clock())
        if found is None or found[0] == ctx.declarations_version:
            return False  # the usual case: one indexed look-up, nothing parsed
        version, current, where = _stored_declarations(engine, ctx.clock())
        if current is None or version == ctx.declarations_version:
            return False
        ctx.declarations, ctx.declarations_version = current, version
        ctx.minimum_age = effective_minimum_age(current.jurisdictions, current.minimum_age)
        _use_datasets(ctx, current, where, ring)
        return True

    if require_schema:
        ctx.reload_declarations = reload
    return Runtime(settings, engine, key_engine, ring, ctx, declarations, declarations_id)


def _use_datasets(
    ctx: Context, declarations: Declarations | None, source: str | None, ring: KeyRing
) -> None:
    datasets = declarations.datasets if declarations is not None else ()
    ctx.connectors = ctx.hooks = None
    ctx.dataset_categories = (
        _dataset_categories(declarations, source) if declarations is not None else None
    )
    if declarations is not None and any(not d.is_http for d in datasets):
        ctx.connectors = _connector_factory(declarations, source, ring)
    if declarations is not None and any(d.is_http for d in datasets):
        ctx.hooks = _hook_factory(declarations)


@dataclass(frozen=True)
class InitResult:
    created_keyring: bool
    schema_before: str | None
    schema_after: str
    declarations: str  # loaded | unchanged | none
    tenants_created: list[str]
    admin_key: str | None

    def as_dict(self) -> dict[str, object]:
        return {
            "created_keyring": self.created_keyring,
            "schema_before": self.schema_before,
            "schema_after": self.schema_after,
            "declarations": self.declarations,
            "tenants_created": self.tenants_created,
            "admin_key": self.admin_key,
        }


def initialize(settings: Settings, declarations_file: Path | None = None) -> InitResult:
    """Create or upgrade a data directory; safe to run again (prints no new key then)."""
    from tutela.declarations import load_declarations

    declarations = load_declarations(declarations_file) if declarations_file else None
    data_dir = settings.data_dir
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    data_dir.chmod(0o700)  # also tighten a directory that already existed
    created_ring = False
    keyring_is_file = not settings.keyring.lstrip().startswith("{")
    if keyring_is_file and not Path(settings.keyring).expanduser().exists():
        KeyRing.create(Path(settings.keyring).expanduser())
        created_ring = True
    runtime = open_runtime(settings, require_schema=False)
    try:
        before, after = schema.upgrade(runtime.engine)
        SqlKeyStore(runtime.key_engine).create_schema()
        if keyring_is_file:
            runtime.ring.signing_key()  # receipts: create the signing key once, at init
        actor = f"cli:{_os_user()}"
        now = now_micros()
        status = "none"
        created: list[str] = []
        token: str | None = None
        with runtime.ctx.uow() as uow:
            uow.audit.ensure_chain(SYSTEM_CHAIN)
            if declarations is not None and declarations_file is not None:
                status = _store_declarations(uow, declarations, declarations_file, actor, now)
            wanted = [(tenant_service.DEFAULT_TENANT, "Default tenant")]
            if declarations is not None:
                wanted += [(t.id, t.name) for t in declarations.tenants]
            for tenant_id, name in wanted:
                if uow.tenants.get(tenant_id) is None:
                    tenant_service.add_tenant(uow, tenant_id, name, actor, now)
                    created.append(tenant_id)
            if uow.api_keys.count() == 0:
                token = tenant_service.new_key(
                    uow,
                    tenant_service.DEFAULT_TENANT,
                    "initial administrator",
                    frozenset({"admin", "platform"}),
                    actor,
                    now,
                ).token
            uow.commit()
        return InitResult(created_ring, before, after, status, created, token)
    finally:
        runtime.close()
        _restrict_database_files(settings)


def _restrict_database_files(settings: Settings) -> None:
    """Embedded databases readable by their owner only (SQLite gives its WAL the same mode)."""
    for url in (settings.database_url, settings.keystore_url):
        if url.startswith("sqlite:///"):
            path = Path(url.removeprefix("sqlite:///")).expanduser()
            for candidate in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
                if candidate.exists():
                    candidate.chmod(0o600)


def _store_declarations(
    uow: AbstractUnitOfWork, declarations: Declarations, source: Path, actor: str, now: int
) -> str:
    document = declarations.model_dump_json()
    digest = hashlib.sha256(document.encode()).hexdigest()
    current = uow.declarations.current()
    if current is not None and current[1] == digest:
        return "unchanged"
    if current is not None:
        from tutela.declarations import Declarations as Model

        _refuse_material_change(Model.model_validate_json(current[2]), declarations, source)
    label = declarations.policy.version if declarations.policy is not None else None
    version = uow.declarations.add(str(source.resolve()), digest, document, now, label=label)
    uow.audit.append(
        AuditEvent(
            "declarations.load",
            actor,
            SYSTEM_CHAIN,
            None,
            (),
            {"version": version, "sha256": digest, "source": source.name},
        ),
        now,
    )
    return "loaded"


def _refuse_material_change(old: Declarations, new: Declarations, source: Path) -> None:
    """``init`` puts declarations in force at once; a material change must instead be
    announced to the subjects first, which is what ``tutela policy publish`` does."""
    from tutela.declarations.diff import diff_declarations

    material = [c.path for c in diff_declarations(old, new) if c.material]
    if material:
        shown = ", ".join(material[:3]) + (
            f" and {len(material) - 3} more" if len(material) > 3 else ""
        )
        raise Conflict(
            f"{source} changes material points of the declarations in force ({shown}); "
            "subjects must be told before such changes take effect: publish it with "
            f"`tutela policy publish {source} --effective YYYY-MM-DD` (see `tutela policy diff`)",
            details={"material_changes": material},
        )


def check_data_dir(settings: Settings) -> None:
    """A clear message when the data directory was never initialised."""
    keyring_is_file = not settings.keyring.lstrip().startswith("{")
    if keyring_is_file and not Path(settings.keyring).expanduser().exists():
        raise ConfigurationError(
            f"{settings.data_dir} is not an initialised Tutela data directory (no key ring at "
            f"{settings.keyring}); run `tutela init` first"
        )
