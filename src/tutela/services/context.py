"""What every service runs against: a unit-of-work factory, the key store, the crypto port,
the declarations in force, a clock and an id generator. Built by ``bootstrap.py``."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from tutela.datasets.ports import AbstractConnector, AbstractHookConnector
from tutela.domain.subjects import CategoryCatalog
from tutela.services.decisions import DecisionCache
from tutela.services.ports import (
    AbstractKeyStore,
    AbstractMailer,
    AbstractReceiptSigner,
    AbstractUnitOfWork,
    AbstractVaultCrypto,
)


def now_micros() -> int:
    return time.time_ns() // 1000


def new_uuid() -> str:
    return str(uuid.uuid4())


class UnitOfWorkFactory(Protocol):
    def __call__(self, *, read_only: bool = False) -> AbstractUnitOfWork: ...


@dataclass
class Context:
    uow: UnitOfWorkFactory
    keys: AbstractKeyStore
    crypto: AbstractVaultCrypto
    declarations: CategoryCatalog
    clock: Callable[[], int] = now_micros
    new_id: Callable[[], str] = new_uuid
    declarations_version: int | None = None
    minimum_age: int = 16
    signer: AbstractReceiptSigner | None = None
    decisions: DecisionCache | None = None
    withdrawal_follow_up: str = "none"  # none | erase_exclusive (queued for the requests)
    mailer: AbstractMailer | None = None
    public_url: str = "http://127.0.0.1:8000"
    pipl_response_days: int = 30
    package_days: int = 7
    policy_notice_days: int = 30
    #: opens the connectors of the declared datasets (None: no datasets declared)
    connectors: Callable[[], list[AbstractConnector]] | None = None
    #: the declared application endpoints (None: none declared)
    hooks: Callable[[], list[AbstractHookConnector]] | None = None
    #: the data categories of each declared dataset by name (database datasets by their
    #: fides_key, application endpoints by name), read from the files without connecting
    dataset_categories: Callable[[], Mapping[str, frozenset[str]]] | None = None
    #: switches to the declarations in force now, if they changed; True when it did
    reload_declarations: Callable[[], bool] | None = None
    extras: dict[str, Any] = field(default_factory=dict)
