"""The connector ports: how Tutela reads, erases and corrects a subject's data in a store.

Two kinds of connector serve the organization's stores (see docs/connectors.md):

* :class:`AbstractConnector` runs in process and answers at once. The SQL connector
  (``adapters/connectors/sql.py``) reaches a database directly; another store Tutela can reach
  implements the same four methods. Every method takes the subject's identities, e.g.
  ``{"email": "customer-1@example.com"}``, and follows the dataset's references from them.
* :class:`AbstractHookConnector` hands a request to the application, which answers later:
  for stores Tutela cannot reach. The HTTP connector (``adapters/connectors/http.py``)
  delivers a signed request to an endpoint; the application posts the result back, signed
  with the same secret (``services/hooks.py`` builds, signs and checks both).
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from typing import TYPE_CHECKING

from tutela.datasets.models import Dataset
from tutela.datasets.plans import LiveColumns
from tutela.datasets.results import AccessResult, ErasureResult, Identities, RectificationResult
from tutela.domain.erasure import PlanProblem

if TYPE_CHECKING:
    from tutela.datasets.retention import AbstractRetentionStore


class DeliveryFailed(Exception):
    """An endpoint did not accept a request: unreachable, too slow, or not a 2xx answer."""


class AbstractConnector(abc.ABC):
    dataset: Dataset
    #: fields a subject may correct, as ``collection.field``
    correctable: frozenset[str] = frozenset()

    def correctable_categories(self) -> dict[str, tuple[str, ...]]:
        """Each correctable field with its data categories (to map a correction by category)."""
        found: dict[str, tuple[str, ...]] = {}
        for path in sorted(self.correctable):
            name, _, field_path = path.partition(".")
            collection = next((c for c in self.dataset.collections if c.name == name), None)
            field = collection.field(field_path) if collection is not None else None
            if field is not None:
                found[path] = tuple(field.data_categories or ())
        return found

    def retention_store(self) -> AbstractRetentionStore | None:
        """The store's retention side, when the declarations name collections sweeps cover
        (``datasets[].retention``); ``None`` otherwise."""
        return None

    @abc.abstractmethod
    def access(self, identities: Identities) -> AccessResult:
        """Every row the identities reach, with only the dataset's fields and categories."""

    @abc.abstractmethod
    def erase(self, identities: Identities) -> ErasureResult:
        """Erase what the identities reach, all or nothing (one transaction per dataset).

        Raises :class:`~tutela.domain.errors.ConfigurationError`, changing nothing, when the
        plan does not fit the live store (see :meth:`check_live`).
        """

    @abc.abstractmethod
    def rectify(self, identities: Identities, changes: Mapping[str, object]) -> RectificationResult:
        """Set correctable fields (``{"customer.name": "New Name"}``) in every reached row.

        Raises :class:`~tutela.domain.errors.InvalidInput` for a field not declared
        correctable or a value the column cannot hold.
        """

    @abc.abstractmethod
    def check_live(self, columns: LiveColumns | None = None) -> list[PlanProblem]:
        """Problems of the dataset and its erasure plan against the store's columns
        (``columns`` as given, or as read from the store)."""


class AbstractHookConnector(abc.ABC):
    """A store only the application reaches: Tutela delivers each request, the application
    accepts it at once and posts the result back later, signed with the shared secret."""

    #: the store's name: in access packages, in results and in the callback address
    name: str
    #: the declared data categories the store holds
    categories: tuple[str, ...] = ()

    def holds(self, category: str) -> bool:
        """Whether the store holds data of ``category`` (a declared one or one under it)."""
        return any(category == held or category.startswith(f"{held}.") for held in self.categories)

    @abc.abstractmethod
    def secret(self) -> bytes:
        """The shared secret that signs requests and callbacks.

        Raises :class:`~tutela.domain.errors.ConfigurationError` when it is not configured.
        """

    @abc.abstractmethod
    def deliver(self, body: bytes, headers: Mapping[str, str]) -> None:
        """Deliver one signed request (``body`` is JSON); raises :class:`DeliveryFailed`
        unless the application accepted it."""
