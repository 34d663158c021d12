"""Datasets in the fideslang format, as Fides writes them: pydantic models of the YAML.

A dataset file holds a top-level ``dataset:`` list; each dataset has ``collections`` (tables),
each collection ``fields`` (columns), each field its ``data_categories`` and a ``fides_meta``
with ``identity``, ``primary_key``, ``data_type``, ``length`` and ``references``. Every key
Fides writes is accepted; keys Tutela does not act on (``masking_strategy_override``,
``partitioning``, ``custom_request_field`` …) are kept as read. Unknown keys are kept too
(``model_extra``) so that a newer Fides file still loads; the checks point out the ones that
look like a misspelt known key.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cached_property
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PositiveInt, field_validator, model_validator

from tutela.declarations.types import invalid

#: ``fides_meta.data_type`` values Fides understands; ``type[]`` marks an array.
DATA_TYPES = ("string", "integer", "float", "boolean", "object_id", "object")

Direction = Literal["to", "from"]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="allow")

    @model_validator(mode="before")
    @classmethod
    def _old_meta_name(cls, data: Any) -> Any:
        # Files written by fidesops call fides_meta "fidesops_meta"; Fides still reads them.
        if isinstance(data, dict) and "fidesops_meta" in data and "fides_meta" not in data:
            data = {**data, "fides_meta": data["fidesops_meta"]}
            del data["fidesops_meta"]
        return data


class Reference(_Model):
    """A field whose values equal those of another collection's field."""

    dataset: str = Field(min_length=1, description="fides_key of the referenced dataset.")
    field: str = Field(description="Referenced field as collection.field.")
    direction: Direction | None = Field(
        default=None,
        description="to: values flow from this field to the referenced one; from: the "
        "other way; none: both ways.",
    )

    @field_validator("field")
    @classmethod
    def _collection_and_field(cls, value: str) -> str:
        collection, _, name = value.partition(".")
        if not collection or not name:
            raise invalid(
                f"{value}: not a collection.field reference",
                "write the collection, a dot and the field, such as customer.id",
            )
        return value

    @property
    def collection(self) -> str:
        return self.field.partition(".")[0]

    @property
    def field_path(self) -> str:
        """The field inside the collection (``a.b`` for a nested field)."""
        return self.field.partition(".")[2]


class MaskingOverride(_Model):
    """Fides' own masking strategy; recorded, not used (Tutela has its erasure strategies)."""

    strategy: str
    configuration: dict[str, Any] | None = None


class FieldMeta(_Model):
    identity: str | None = None
    primary_key: bool | None = None
    data_type: str | None = None
    length: PositiveInt | None = None
    references: tuple[Reference, ...] | None = None
    read_only: bool | None = None
    return_all_elements: bool | None = None
    custom_request_field: str | None = None
    masking_strategy_override: MaskingOverride | None = None
    redact: Literal["name"] | None = None

    @field_validator("data_type")
    @classmethod
    def _known_type(cls, value: str | None) -> str | None:
        if value is not None and value.removesuffix("[]") not in DATA_TYPES:
            raise invalid(
                f"{value}: unknown data type",
                f"use one of {', '.join(DATA_TYPES)} (add [] for an array), or remove it",
            )
        return value

    @property
    def is_array(self) -> bool:
        return self.data_type is not None and self.data_type.endswith("[]")

    @property
    def base_type(self) -> str | None:
        return None if self.data_type is None else self.data_type.removesuffix("[]")


class DatasetField(_Model):
    name: str = Field(min_length=1)
    description: str | None = None
    data_categories: tuple[str, ...] | None = None
    data_uses: tuple[str, ...] | None = None
    data_subjects: tuple[str, ...] | None = None
    fides_meta: FieldMeta | None = None
    fields: tuple[DatasetField, ...] | None = None

    @property
    def meta(self) -> FieldMeta:
        return self.fides_meta or _NO_FIELD_META

    @property
    def categories(self) -> tuple[str, ...]:
        return self.data_categories or ()

    def walk(self, prefix: str = "") -> Iterator[tuple[str, DatasetField]]:
        """This field and its nested fields, each with its dotted path."""
        path = f"{prefix}{self.name}"
        yield path, self
        for child in self.fields or ():
            yield from child.walk(f"{path}.")


class CollectionMeta(_Model):
    after: tuple[str, ...] | None = None
    erase_after: tuple[str, ...] | None = None
    skip_processing: bool | None = False
    masking_strategy_override: MaskingOverride | None = None
    partitioning: dict[str, Any] | list[dict[str, Any]] | None = None
    redact: Literal["name"] | None = None


class Collection(_Model):
    name: str = Field(min_length=1)
    description: str | None = None
    data_categories: tuple[str, ...] | None = None
    data_uses: tuple[str, ...] | None = None
    data_subjects: tuple[str, ...] | None = None
    fields: tuple[DatasetField, ...]
    fides_meta: CollectionMeta | None = None

    @property
    def meta(self) -> CollectionMeta:
        return self.fides_meta or _NO_COLLECTION_META

    @property
    def skipped(self) -> bool:
        return bool(self.meta.skip_processing)

    @cached_property
    def paths(self) -> dict[str, DatasetField]:
        """Every field by dotted path (``name``, ``address.street`` …)."""
        return {path: f for top in self.fields for path, f in top.walk()}

    def field(self, path: str) -> DatasetField | None:
        return self.paths.get(path)


class DatasetMeta(_Model):
    resource_id: str | None = None
    after: tuple[str, ...] | None = None
    namespace: dict[str, Any] | None = None
    redact: Literal["name"] | None = None


class Dataset(_Model):
    """One fideslang dataset: the collections (tables) of one database."""

    fides_key: str = Field(pattern=r"^[a-zA-Z0-9_.<>-]+$")
    name: str | None = None
    description: str | None = None
    organization_fides_key: str | None = None
    tags: tuple[str, ...] | None = None
    meta: dict[str, Any] | None = None
    data_categories: tuple[str, ...] | None = None
    data_uses: tuple[str, ...] | None = None
    data_subjects: tuple[str, ...] | None = None
    fides_meta: DatasetMeta | None = None
    collections: tuple[Collection, ...]

    @cached_property
    def _by_name(self) -> dict[str, Collection]:
        return {c.name: c for c in reversed(self.collections)}

    def collection(self, name: str) -> Collection | None:
        return self._by_name.get(name)

    @cached_property
    def categories(self) -> frozenset[str]:
        """Every data category the dataset names: its own, its collections' and fields'."""
        found = set(self.data_categories or ())
        for collection in self.collections:
            found.update(collection.data_categories or ())
            for field in collection.paths.values():
                found.update(field.categories)
        return frozenset(found)

    @property
    def active_collections(self) -> tuple[Collection, ...]:
        """Collections requests run on (``skip_processing`` ones are left out)."""
        return tuple(c for c in self.collections if not c.skipped)


class DatasetFile(_Model):
    """A whole dataset file: ``dataset:`` and the datasets it lists."""

    dataset: tuple[Dataset, ...]


_NO_FIELD_META = FieldMeta()
_NO_COLLECTION_META = CollectionMeta()
