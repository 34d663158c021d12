"""Ports: what the services need from storage and cryptography, as abstract classes.

Concrete adapters (``adapters/``) implement them; ``bootstrap.py`` chooses which; the tests
use the real SQL adapters on SQLite and PostgreSQL.
"""

from __future__ import annotations

import abc
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any

from tutela.domain.audit import AuditEntry, AuditEvent

if TYPE_CHECKING:
    from tutela.services.incident_records import AbstractIncidentRepository
    from tutela.services.visitors import AbstractVisitorRepository


@dataclass(frozen=True, slots=True)
class SubjectRecord:
    id: str
    tenant_id: str
    status: str
    created_at: int
    updated_at: int
    language: str | None = None  # for notices; None: the declared default language
    closed_at: int | None = None  # when the account was closed; None: open (or closed before 0008)


@dataclass(frozen=True, slots=True)
class StoredField:
    category: str
    kind: str  # "e" encrypted | "h" hashed
    value: bytes
    updated_at: int = 0  # when the field was last written (retention "collected")


@dataclass(frozen=True, slots=True)
class ApiKeyRecord:
    id: str
    tenant_id: str
    name: str
    scopes: str
    secret_hash: bytes
    created_at: int
    created_by: str
    revoked_at: int | None


@dataclass(frozen=True, slots=True)
class RetentionSetting:
    """A retention period a tenant's administrator chose for a tenant-configurable purpose."""

    tenant_id: str
    purpose: str
    keep: str  # ISO 8601 duration
    set_by: str
    set_at: int


@dataclass(frozen=True, slots=True)
class WrappedKey:
    subject_id: str
    tenant_id: str
    version: int
    wrapped: bytes


class AbstractSubjectRepository(abc.ABC):
    @abc.abstractmethod
    def add(self, record: SubjectRecord) -> None: ...

    @abc.abstractmethod
    def get(self, tenant_id: str, subject_id: str) -> SubjectRecord | None: ...

    @abc.abstractmethod
    def set_status(self, tenant_id: str, subject_id: str, status: str, now: int) -> None: ...

    @abc.abstractmethod
    def set_language(self, tenant_id: str, subject_id: str, language: str | None) -> None: ...

    @abc.abstractmethod
    def touch(self, tenant_id: str, subject_id: str, now: int) -> None: ...

    @abc.abstractmethod
    def fields(self, tenant_id: str, subject_id: str) -> list[StoredField]: ...

    @abc.abstractmethod
    def put_fields(
        self, tenant_id: str, subject_id: str, fields: Sequence[StoredField], now: int
    ) -> None: ...

    @abc.abstractmethod
    def delete_fields(
        self, tenant_id: str, subject_id: str, categories: Sequence[str] | None
    ) -> None:
        """Delete the named fields, or all of them when ``categories`` is None."""

    @abc.abstractmethod
    def add_lookup(self, tenant_id: str, kind: str, digest: bytes, subject_id: str) -> None:
        """Raise Conflict when another subject of the tenant has this identity."""

    @abc.abstractmethod
    def remove_lookups(
        self, tenant_id: str, subject_id: str, kinds: Sequence[str] | None
    ) -> None: ...

    @abc.abstractmethod
    def find(self, tenant_id: str, kind: str, digest: bytes) -> str | None: ...

    @abc.abstractmethod
    def existing(self, tenant_id: str, kind: str, digests: Sequence[bytes]) -> set[bytes]:
        """Which of these blind-index digests are already registered in the tenant."""

    @abc.abstractmethod
    def page(
        self, tenant_id: str, after: tuple[int, str] | None, limit: int
    ) -> list[tuple[SubjectRecord, list[str]]]:
        """Subjects in registration order after the cursor, with their field names."""

    @abc.abstractmethod
    def import_many(
        self,
        records: Sequence[SubjectRecord],
        fields: Sequence[tuple[str, StoredField]],
        lookups: Sequence[tuple[str, bytes, str]],
        now: int,
    ) -> None:
        """Insert many new subjects at once (fields as (subject id, field) pairs)."""

    @abc.abstractmethod
    def page_fields(
        self, tenant_id: str, after: tuple[int, str] | None, limit: int
    ) -> list[tuple[SubjectRecord, list[tuple[str, int]]]]:
        """Subjects in registration order after the cursor, each with its fields' categories
        and the times they were written (no values)."""

    @abc.abstractmethod
    def remove_fields(
        self,
        tenant_id: str,
        fields: Sequence[tuple[str, str, int]],
        lookups: Sequence[tuple[str, str]],
    ) -> int:
        """Delete fields given as (subject id, category, time written) unless rewritten
        since, and lookups given as (subject id, kind); returns the fields deleted."""

    @abc.abstractmethod
    def find_many(self, tenant_id: str, kind: str, digests: Sequence[bytes]) -> dict[bytes, str]:
        """The subjects these blind-index digests identify (digest -> subject id)."""

    @abc.abstractmethod
    def get_many(self, tenant_id: str, subject_ids: Sequence[str]) -> list[SubjectRecord]: ...

    @abc.abstractmethod
    def erase_many(self, tenant_id: str, subject_ids: Sequence[str], now: int) -> None:
        """Delete the subjects' fields and lookups, mark them erased and note the change
        for the decision caches (their keys are shredded by the caller)."""


class AbstractAuditLog(abc.ABC):
    @abc.abstractmethod
    def append(self, event: AuditEvent, now: int) -> AuditEntry: ...

    @abc.abstractmethod
    def append_many(self, events: Sequence[AuditEvent], now: int) -> None: ...

    @abc.abstractmethod
    def ensure_chain(self, chain: str) -> None: ...

    @abc.abstractmethod
    def chains(self) -> list[str]: ...

    @abc.abstractmethod
    def head(self, chain: str) -> tuple[int, bytes, bytes] | None: ...

    @abc.abstractmethod
    def rows(self, chain: str) -> Iterator[Sequence[Any]]:
        """(seq, at, actor, action, subject_id, fields, details, prev_hash, hash) by seq."""

    @abc.abstractmethod
    def entries(
        self, chain: str, subject_id: str | None, after_seq: int, limit: int
    ) -> list[AuditEntry]: ...


class AbstractTenantRepository(abc.ABC):
    @abc.abstractmethod
    def add(self, tenant_id: str, name: str, now: int) -> None: ...

    @abc.abstractmethod
    def get(self, tenant_id: str) -> tuple[str, str, int] | None: ...

    @abc.abstractmethod
    def list(self) -> list[tuple[str, str, int]]: ...

    @abc.abstractmethod
    def retention(self, tenant_id: str) -> Sequence[RetentionSetting]:
        """The retention periods the tenant's administrator set, by purpose."""

    @abc.abstractmethod
    def set_retention(self, setting: RetentionSetting) -> None:
        """Set (or replace) the tenant's period for one purpose."""


class AbstractApiKeyRepository(abc.ABC):
    @abc.abstractmethod
    def add(self, record: ApiKeyRecord) -> None: ...

    @abc.abstractmethod
    def get(self, key_id: str) -> ApiKeyRecord | None: ...

    @abc.abstractmethod
    def list(self, tenant_id: str | None) -> list[ApiKeyRecord]: ...

    @abc.abstractmethod
    def revoke(self, key_id: str, now: int) -> None: ...

    @abc.abstractmethod
    def count(self) -> int: ...


@dataclass(frozen=True, slots=True)
class PolicyVersion:
    """A stored version of the declarations (a published privacy policy)."""

    id: int
    loaded_at: int
    source: str
    sha256: str
    label: str | None = None
    effective_at: int | None = None  # None: in force from when it was loaded
    published_by: str | None = None
    material: bool | None = None  # None: loaded by ``init``, not compared
    applied_at: int | None = None  # when the worker put it in force (renewals recorded)

    def in_force_from(self) -> int:
        return self.loaded_at if self.effective_at is None else self.effective_at


class AbstractDeclarationStore(abc.ABC):
    @abc.abstractmethod
    def current(self, now: int | None = None) -> tuple[int, str, str] | None:
        """(id, sha256, JSON document) of the declarations in force at ``now`` (None: the
        latest version stored, whenever it takes effect)."""

    @abc.abstractmethod
    def add(
        self,
        source: str,
        sha256: str,
        document: str,
        now: int,
        *,
        label: str | None = None,
        effective_at: int | None = None,
        published_by: str | None = None,
        material: bool | None = None,
    ) -> int: ...

    @abc.abstractmethod
    def source(self, version: int) -> str | None:
        """The path a version was loaded from."""

    @abc.abstractmethod
    def versions(self) -> list[PolicyVersion]:
        """Every stored version, oldest first."""

    @abc.abstractmethod
    def get(self, version: int) -> tuple[PolicyVersion, str] | None:
        """A version and its JSON document."""

    @abc.abstractmethod
    def mark_applied(self, version: int, now: int) -> bool:
        """Mark a version as put in force; False if another process did it first."""


class AbstractUnitOfWork(abc.ABC):
    """One database transaction. Leaving the block without ``commit()`` rolls back."""

    subjects: AbstractSubjectRepository
    audit: AbstractAuditLog
    tenants: AbstractTenantRepository
    api_keys: AbstractApiKeyRepository
    declarations: AbstractDeclarationStore
    consent: AbstractConsentRepository
    requests: AbstractRequestRepository
    visitors: AbstractVisitorRepository
    lifecycle: AbstractLifecycleRepository
    sunsets: AbstractSunsetRepository
    incidents: AbstractIncidentRepository
    sessions: AbstractSessionRepository

    def __enter__(self) -> AbstractUnitOfWork:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.rollback()
        self.close()

    @abc.abstractmethod
    def commit(self) -> None: ...

    @abc.abstractmethod
    def rollback(self) -> None: ...

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release the connection."""


class AbstractKeyStore(abc.ABC):
    """Wrapped subject data keys, kept apart from the main database."""

    @abc.abstractmethod
    def put(self, key: WrappedKey, now: int) -> None: ...

    @abc.abstractmethod
    def put_many(self, keys: Sequence[WrappedKey], now: int) -> None: ...

    @abc.abstractmethod
    def get(self, subject_id: str) -> WrappedKey | None: ...

    @abc.abstractmethod
    def delete(self, subject_id: str) -> bool: ...

    @abc.abstractmethod
    def delete_many(self, subject_ids: Sequence[str]) -> int:
        """Delete the keys of these subjects (crypto-shredding); returns how many were there."""

    @abc.abstractmethod
    def present(self, subject_ids: Sequence[str]) -> set[str]:
        """Which of these subjects still have a data key."""

    @abc.abstractmethod
    def count_by_version(self) -> dict[int, int]: ...

    @abc.abstractmethod
    def not_at_version(self, version: int, after: str, limit: int) -> list[WrappedKey]: ...

    @abc.abstractmethod
    def rewrap(self, subject_id: str, old_version: int, new: WrappedKey) -> bool:
        """Replace a key only if it is still at ``old_version``; False if it changed."""

    @abc.abstractmethod
    def rewrap_many(self, batch: Sequence[tuple[int, WrappedKey]]) -> int:
        """Rewrap (old version, new key) pairs in one transaction; returns how many changed."""


class AbstractCipher(abc.ABC):
    @abc.abstractmethod
    def encrypt(self, field: str, value: str) -> bytes: ...

    @abc.abstractmethod
    def decrypt(self, field: str, blob: bytes) -> str: ...


class AbstractVaultCrypto(abc.ABC):
    """Keys and primitives: DEK wrapping under tenant KEKs, field ciphers, blind indexes."""

    @property
    @abc.abstractmethod
    def active_version(self) -> int: ...

    @abc.abstractmethod
    def new_key(self, tenant_id: str, subject_id: str) -> tuple[bytes, WrappedKey]: ...

    @abc.abstractmethod
    def unwrap(self, key: WrappedKey) -> bytes: ...

    @abc.abstractmethod
    def wrap(self, tenant_id: str, subject_id: str, dek: bytes) -> WrappedKey: ...

    @abc.abstractmethod
    def cipher(self, dek: bytes, tenant_id: str, subject_id: str) -> AbstractCipher: ...

    @abc.abstractmethod
    def index(self, tenant_id: str, kind: str, normalized: str) -> bytes: ...

    @abc.abstractmethod
    def hash_secret(self, secret: str) -> str: ...

    @abc.abstractmethod
    def verify_secret(self, encoded: str, secret: str) -> bool: ...

    @abc.abstractmethod
    def seal(self, data: bytes) -> bytes:
        """Keyed HMAC over ``data`` (audit chain heads)."""

    @abc.abstractmethod
    def refresh(self) -> None:
        """Pick up key ring changes made by another process."""

    @abc.abstractmethod
    def seal_blob(self, purpose: str, aad: bytes, data: bytes) -> bytes:
        """Encrypt data that belongs to no subject key (requests, outbox, packages)."""

    @abc.abstractmethod
    def open_blob(self, purpose: str, aad: bytes, blob: bytes) -> bytes: ...

    @property
    @abc.abstractmethod
    def versions(self) -> list[int]: ...

    @abc.abstractmethod
    def rotate(self) -> int:
        """Add a new key-encryption key version and make it active."""

    @abc.abstractmethod
    def retire(self, version: int) -> None: ...


@dataclass(frozen=True, slots=True)
class ConsentRecord:
    """One event of the consent ledger as stored (``seq`` is the ledger order)."""

    id: str
    tenant_id: str
    subject_id: str
    purpose: str
    action: str
    at: int
    by: str
    bundled: bool
    method: str
    jurisdiction: str
    language: str
    policy_version: int | None
    guardian_ref: bytes | None = None
    guardian_verified_by: str | None = None
    user_agent: str | None = None
    ip_hash: bytes | None = None
    receipt: str | None = None
    seq: int = 0


@dataclass(frozen=True, slots=True)
class Standing:
    """What the consent checks need to know about a subject beyond its consents."""

    minor_until: Any = None  # datetime.date | None
    restricted: bool = False
    objections: frozenset[str] = frozenset()


class AbstractConsentRepository(abc.ABC):
    @abc.abstractmethod
    def deciders(
        self, tenant_id: str, subject_ids: Sequence[str], purposes: Sequence[str]
    ) -> set[str]:
        """Those of the subjects who made a consent decision about one of the purposes."""

    @abc.abstractmethod
    def append(self, record: ConsentRecord) -> int:
        """Insert an event; returns its ledger sequence number."""

    @abc.abstractmethod
    def save_state(self, tenant_id: str, subject_id: str, purpose: str, state: Any) -> None:
        """Store a folded state unless a later event's state is already stored."""

    @abc.abstractmethod
    def states(self, tenant_id: str, subject_id: str) -> dict[str, Any]: ...

    @abc.abstractmethod
    def events(self, tenant_id: str, subject_id: str) -> list[ConsentRecord]: ...

    @abc.abstractmethod
    def event(self, tenant_id: str, record_id: str) -> ConsentRecord | None: ...

    @abc.abstractmethod
    def standing(self, tenant_id: str, subject_id: str) -> Standing | None: ...

    @abc.abstractmethod
    def save_standing(self, tenant_id: str, subject_id: str, standing: Standing) -> None: ...

    @abc.abstractmethod
    def note_change(self, tenant_id: str, subject_id: str, now: int) -> None:
        """Record that decisions about this subject changed (other processes refresh)."""

    @abc.abstractmethod
    def changes_since(self, seq: int, gaps: Sequence[int]) -> list[tuple[int, str, str]]:
        """(seq, tenant, subject) of changes after ``seq`` or at one of the ``gaps``."""

    @abc.abstractmethod
    def last_change(self) -> int: ...

    @abc.abstractmethod
    def renewals(self) -> dict[str, int]:
        """Purpose -> time (microseconds) before which a consent no longer counts."""

    @abc.abstractmethod
    def require_renewal(self, purpose: str, since_version: int, actor: str, now: int) -> None: ...

    @abc.abstractmethod
    def enqueue(
        self,
        kind: str,
        tenant_id: str,
        subject_id: str,
        payload: str,
        now: int,
        run_after: int | None = None,
    ) -> None:
        """Queue a follow-up job (e.g. erasure after a withdrawal) for the request engine,
        to run from ``run_after`` on (default: at once)."""

    @abc.abstractmethod
    def statistics(self, tenant_id: str) -> tuple[int, dict[str, dict[str, int]]]:
        """The tenant's active subjects, and per purpose how many of them have each stored
        consent status (granted, refused, withdrawn): counts only."""


class AbstractReceiptSigner(abc.ABC):
    @abc.abstractmethod
    def sign(self, payload: dict[str, Any]) -> str: ...

    @abc.abstractmethod
    def jwks(self) -> dict[str, Any]: ...


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """A data-subject request as stored (identity and details encrypted)."""

    id: str
    tenant_id: str
    type: str
    state: str
    jurisdiction: str
    language: str
    identity_kind: str
    identity_digest: bytes
    identity_enc: bytes
    subject_id: str | None
    received_at: int
    due_at: int
    paused_days: int = 0
    extended: bool = False
    extension_reason: str | None = None
    rejection_reason: str | None = None
    verifying_since: int | None = None
    verified_at: int | None = None
    verified_by: str | None = None
    details_enc: bytes | None = None
    result: str | None = None
    checkpoint: str | None = None
    attempts: int = 0
    updated_at: int = 0


@dataclass(frozen=True, slots=True)
class Verification:
    request_id: str
    code_hash: bytes
    expires_at: int
    attempts: int
    sent_at: int


class AbstractRequestRepository(abc.ABC):
    @abc.abstractmethod
    def add(self, record: RequestRecord) -> None: ...

    @abc.abstractmethod
    def get(self, tenant_id: str, request_id: str, *, lock: bool = False) -> RequestRecord | None:
        """``lock`` takes the row for update (workers: one runner per request)."""

    @abc.abstractmethod
    def tenant_of(self, request_id: str) -> str | None:
        """The tenant of a request known by id alone (callbacks carry no tenant)."""

    @abc.abstractmethod
    def save(self, record: RequestRecord) -> None: ...

    @abc.abstractmethod
    def queue(
        self, tenant_id: str, states: Sequence[str] | None, limit: int
    ) -> list[RequestRecord]:
        """Open ones by due date first (overdue and nearly due on top)."""

    @abc.abstractmethod
    def latest(self, tenant_id: str, states: Sequence[str], limit: int) -> list[RequestRecord]:
        """Requests in these states, the most recently received first."""

    @abc.abstractmethod
    def by_identity(self, tenant_id: str, kind: str, digest: bytes) -> list[RequestRecord]: ...

    @abc.abstractmethod
    def add_event(
        self,
        tenant_id: str,
        request_id: str,
        at: int,
        from_state: str | None,
        to_state: str,
        actor: str,
        note: str,
    ) -> None: ...

    @abc.abstractmethod
    def events(self, request_id: str) -> list[dict[str, Any]]: ...

    @abc.abstractmethod
    def verification(self, request_id: str) -> Verification | None: ...

    @abc.abstractmethod
    def save_verification(self, verification: Verification) -> None: ...

    @abc.abstractmethod
    def drop_verification(self, request_id: str) -> None: ...

    @abc.abstractmethod
    def count_rate(self, kind: str, key: bytes, since: int) -> int: ...

    @abc.abstractmethod
    def note_rate(self, kind: str, key: bytes, at: int) -> None: ...

    @abc.abstractmethod
    def queue_mail(
        self, tenant_id: str, kind: str, message_enc: bytes, now: int, key: str | None = None
    ) -> int | None:
        """Queue an encrypted message; with ``key``, only if no message with that key was
        ever queued (returns ``None`` then)."""

    @abc.abstractmethod
    def mail_states(self, key_prefix: str) -> dict[str, int]:
        """How many messages whose idempotency key starts with the prefix are in each state."""

    @abc.abstractmethod
    def claim_mail(
        self, now: int, lease_until: int, limit: int
    ) -> list[tuple[int, str, str, bytes, int]]:
        """(id, tenant, kind, message, attempts) of mail due for delivery, leased until then."""

    @abc.abstractmethod
    def mail_done(
        self, mail_id: int, now: int, error: str | None, retry_at: int | None
    ) -> None: ...

    @abc.abstractmethod
    def add_package(
        self,
        package_id: str,
        tenant_id: str,
        request_id: str,
        now: int,
        expires_at: int,
        content_enc: bytes,
        size: int,
    ) -> None: ...

    @abc.abstractmethod
    def package(self, tenant_id: str, package_id: str) -> tuple[str, int, bytes] | None:
        """(request id, expires_at, encrypted content)."""

    @abc.abstractmethod
    def delete_expired_packages(self, now: int) -> int: ...


class MailError(Exception):
    """Delivery failed; ``permanent`` when retrying cannot help."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class AbstractMailer(abc.ABC):
    @abc.abstractmethod
    def send(self, to: str, subject: str, body: str) -> None:
        """Deliver one plain-text message or raise MailError."""


@dataclass(frozen=True, slots=True)
class Hold:
    """A legal hold: on one subject, on one data category, or (neither) on the whole tenant."""

    id: str
    tenant_id: str
    subject_id: str | None
    category: str | None
    reason: str
    placed_by: str
    placed_at: int
    ends_on: Any = None  # datetime.date | None
    released_at: int | None = None

    def covers(self, subject_id: str | None, category: str | None) -> bool:
        """Does this hold keep ``category`` of ``subject_id`` (None: any)?"""
        if self.subject_id is not None and self.subject_id != subject_id:
            return False
        return self.category is None or category is None or self.category == category

    def as_dict(self) -> dict[str, Any]:
        scope = "subject" if self.subject_id else ("category" if self.category else "tenant")
        return {
            "id": self.id,
            "tenant": self.tenant_id,
            "scope": scope,
            "subject_id": self.subject_id,
            "category": self.category,
            "reason": self.reason,
            "placed_by": self.placed_by,
            "ends_on": self.ends_on.isoformat() if self.ends_on else None,
        }


#: ``PurposeEnding.subject_id`` of an ending that concerns every subject of the tenant
EVERY_SUBJECT = "*"


@dataclass(frozen=True, slots=True)
class PurposeEnding:
    """A purpose that ended for one subject, or (``EVERY_SUBJECT``) for the whole tenant."""

    tenant_id: str
    subject_id: str
    purpose: str
    ended_at: int
    actor: str


class AbstractLifecycleRepository(abc.ABC):
    """The worker's schedules and jobs, legal holds, and purpose endings."""

    @abc.abstractmethod
    def ensure_schedule(self, name: str, first_run_at: int) -> None: ...

    @abc.abstractmethod
    def claim_due(self, now: int, intervals: dict[str, int]) -> list[str]:
        """Names of the periodic tasks due now, each claimed by this caller alone."""

    @abc.abstractmethod
    def record_result(self, name: str, result: str) -> None: ...

    @abc.abstractmethod
    def schedule_status(self) -> list[dict[str, Any]]: ...

    @abc.abstractmethod
    def claim_jobs(self, now: int, lease_until: int, limit: int) -> list[dict[str, Any]]: ...

    @abc.abstractmethod
    def finish_job(self, job_id: int, state: str, retry_at: int | None) -> None: ...

    @abc.abstractmethod
    def prune(self, changes_before: int, rates_before: int) -> dict[str, int]:
        """Drop change-feed rows and rate-limit marks nobody reads any more."""

    @abc.abstractmethod
    def add_hold(self, hold: Hold) -> None: ...

    @abc.abstractmethod
    def release_hold(self, tenant_id: str, hold_id: str, actor: str, now: int) -> bool: ...

    @abc.abstractmethod
    def holds(
        self, tenant_id: str, today: Any, *, subject_ids: Sequence[str] | None = None
    ) -> list[Hold]: ...

    @abc.abstractmethod
    def end_purpose(self, ending: PurposeEnding) -> PurposeEnding | None:
        """Record an ending (replacing one of the same subject and purpose); returns the
        ending it replaced, if any."""

    @abc.abstractmethod
    def purpose_endings(
        self, tenant_id: str, *, subject_ids: Sequence[str] | None = None
    ) -> list[PurposeEnding]:
        """Endings in the tenant: all, or the tenant-wide ones and those of these subjects."""


@dataclass(frozen=True, slots=True)
class SunsetState:
    """The sunset of one tenant: when it started, the steps finished, its signed report."""

    tenant_id: str
    started_at: int
    started_by: str
    steps: dict[str, Any]  # finished step -> its counts
    finished_at: int | None = None
    report: str | None = None  # compact JWS
    updated_at: int = 0


@dataclass(frozen=True, slots=True)
class SunsetItem:
    """What a sunset did to one subject or recipient (counts or an error text, no values)."""

    kind: str  # notice | recipient | erasure
    item: str  # subject id or recipient name
    state: str
    attempts: int
    detail: dict[str, Any] | None
    at: int


class AbstractSunsetRepository(abc.ABC):
    @abc.abstractmethod
    def stopped(self, tenant_id: str) -> bool:
        """Whether the tenant's sunset has started (no new personal data from then on)."""

    @abc.abstractmethod
    def get(self, tenant_id: str) -> SunsetState | None: ...

    @abc.abstractmethod
    def start(self, state: SunsetState) -> None: ...

    @abc.abstractmethod
    def save(self, state: SunsetState) -> None: ...

    @abc.abstractmethod
    def items(
        self, tenant_id: str, kind: str, names: Sequence[str] | None = None
    ) -> dict[str, SunsetItem]:
        """The recorded items of a kind (all, or those named)."""

    @abc.abstractmethod
    def put_item(self, tenant_id: str, item: SunsetItem, *, new: bool) -> None:
        """Insert (``new``: a second insert of the same item fails) or replace an item."""

    @abc.abstractmethod
    def count_items(self, tenant_id: str, kind: str) -> dict[str, int]:
        """How many items of a kind are in each state."""

    @abc.abstractmethod
    def item_details(self, tenant_id: str, kind: str) -> Iterator[dict[str, Any]]:
        """The details of the items of a kind that have some, in batches behind the scenes."""


class WebhookFailed(Exception):
    """A webhook did not accept a notice: unreachable, too slow, not 2xx, or no secret."""


class AbstractWebhooks(abc.ABC):
    """Signed notices POSTed to the addresses the declarations give (e.g. to recipients)."""

    @abc.abstractmethod
    def secret(self, reference: str) -> bytes:
        """The secret an ``env:NAME`` reference names; raises WebhookFailed when unusable."""

    @abc.abstractmethod
    def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> None:
        """POST a JSON body; raises WebhookFailed unless the receiver answered 2xx."""


@dataclass(frozen=True, slots=True)
class WebSession:
    """A web session or one-time link, known by the SHA-256 of its bearer token."""

    token_hash: bytes
    tenant_id: str
    realm: str  # privacy | admin | guardian
    state: str  # pending | active
    account: str | None
    scopes: str
    identity_digest: bytes | None
    code_hash: bytes | None
    attempts: int
    data: str | None
    secret_enc: bytes | None
    created_at: int
    seen_at: int
    expires_at: int


class AbstractSessionRepository(abc.ABC):
    """Sessions of the web pages and their one-time links (tokens stored as hashes only)."""

    @abc.abstractmethod
    def add(self, session: WebSession) -> None: ...

    @abc.abstractmethod
    def get(self, token_hash: bytes) -> WebSession | None: ...

    @abc.abstractmethod
    def save(self, session: WebSession) -> None: ...

    @abc.abstractmethod
    def delete(self, token_hash: bytes) -> None: ...

    @abc.abstractmethod
    def delete_account(self, tenant_id: str, realm: str, account: str) -> int:
        """End every session of one account; returns how many there were."""

    @abc.abstractmethod
    def prune(self, now: int) -> int:
        """Delete what expired before ``now``; returns how many."""
