"""The organization's own databases, described in the fideslang dataset format.

Load a dataset file with :func:`load_datasets`; reach a store through a connector
(:class:`AbstractConnector`; the SQL one is ``tutela.adapters.connectors.sql.SqlConnector``)
to read (:meth:`~AbstractConnector.access`), erase (:meth:`~AbstractConnector.erase`) or
correct (:meth:`~AbstractConnector.rectify`) what a data subject's identities reach. A store
only the application reaches answers through an :class:`AbstractHookConnector` (the HTTP one
is ``tutela.adapters.connectors.http.HttpConnector``; the protocol is in docs/connectors.md).
"""

from tutela.datasets.loading import load_datasets, read_dataset_file, read_dataset_text
from tutela.datasets.models import Collection, Dataset, DatasetField, FieldMeta, Reference
from tutela.datasets.ports import AbstractConnector, AbstractHookConnector, DeliveryFailed
from tutela.datasets.results import (
    AccessResult,
    CollectionErasure,
    ErasureResult,
    FoundValue,
    Identities,
    Kept,
    RectificationResult,
)

__all__ = [
    "AbstractConnector",
    "AbstractHookConnector",
    "AccessResult",
    "Collection",
    "CollectionErasure",
    "Dataset",
    "DatasetField",
    "DeliveryFailed",
    "ErasureResult",
    "FieldMeta",
    "FoundValue",
    "Identities",
    "Kept",
    "RectificationResult",
    "Reference",
    "load_datasets",
    "read_dataset_file",
    "read_dataset_text",
]
