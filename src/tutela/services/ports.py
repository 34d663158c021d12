"""Ports: what the services need from storage and cryptography, as abstract classes.

Concrete adapters (``adapters/``) implement them; ``bootstrap.py`` chooses which; the tests
use the real SQL adapters on SQLite and PostgreSQL.
"""

from __future__ import annotations

import abc
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from tutela.domain.audit import AuditEntry, AuditEvent


@dataclass(frozen=True, slots=True)
class SubjectRecord:
    id: str
    tenant_id: str
    status: str
    created_at: int
    updated_at: int


@dataclass(frozen=True, slots=True)
class StoredField:
    category: str
    kind: str  # "e" encrypted | "h" hashed
    value: bytes


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


class AbstractDeclarationStore(abc.ABC):
    @abc.abstractmethod
    def current(self) -> tuple[int, str, str] | None:
        """(id, sha256, JSON document) of the declarations in force, if any."""

    @abc.abstractmethod
    def add(self, source: str, sha256: str, document: str, now: int) -> int: ...


class AbstractUnitOfWork(abc.ABC):
    """One database transaction. Leaving the block without ``commit()`` rolls back."""

    subjects: AbstractSubjectRepository
    audit: AbstractAuditLog
    tenants: AbstractTenantRepository
    api_keys: AbstractApiKeyRepository
    declarations: AbstractDeclarationStore

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

    @property
    @abc.abstractmethod
    def versions(self) -> list[int]: ...

    @abc.abstractmethod
    def rotate(self) -> int:
        """Add a new key-encryption key version and make it active."""

    @abc.abstractmethod
    def retire(self, version: int) -> None: ...
