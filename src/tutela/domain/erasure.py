"""What erasure does to each field of a collection, and whether it can do it.

Every field gets a strategy: its per-field override, else the strictest default of its data
categories (the longest matching category prefix; built in, ``user`` → ``delete``):

- ``delete``: the row is deleted;
- ``null``: the value becomes NULL;
- ``redact``: a placeholder of the column's type (``[erased]`` cut to the column length, 0,
  false, 1970-01-01 …);
- ``hash``: a keyed HMAC-SHA256 in hex, cut to the column length;
- ``generalize``: a coarser value (postal code → 2 characters, date → 1 January of its
  year, IPv4 address → its /24, age → its decade).

Keys are never overwritten. A field is a key when it is a primary key or another field's
values point at it; a field that points at a key is a link. A row is deleted when one of its
fields says ``delete``; otherwise, and when a row must stay (a surviving row points at it, or
it holds exempt or read-only data), the key is kept and the rest erased, ``delete`` falling
back to ``null`` (``redact`` for a NOT NULL column). Whatever cannot be applied to a column
(``null`` on a key or NOT NULL column, a hash in an integer column or in fewer than eight
characters, a rewritten link …) is a :class:`PlanProblem`, found when the declarations are
checked and again against the live columns before anything is changed.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time
from decimal import Decimal
from functools import cached_property
from typing import Literal, get_args

Strategy = Literal["delete", "null", "redact", "hash", "generalize"]
#: Strictest first: a field with several categories gets the strictest of their strategies.
STRATEGIES: tuple[Strategy, ...] = get_args(Strategy)

Kind = Literal[
    "string",
    "integer",
    "float",
    "decimal",
    "boolean",
    "date",
    "datetime",
    "time",
    "binary",
    "uuid",
    "json",
    "array",
    "other",
    "unknown",
]
"""``unknown``: not declared (yet); ``other``: a live type Tutela cannot write values of."""

#: Root of the fideslang categories that describe a person.
PERSONAL_ROOT = "user"
DEFAULT_STRATEGIES: Mapping[str, Strategy] = {PERSONAL_ROOT: "delete"}
#: Placeholders for text, longest first; the first that fits the column is used.
REDACTED = ("[erased]", "erased", "-")
#: Fewer hex digits than this would make different values collide too often.
HASH_MIN_LENGTH = 8

#: fideslang ``data_type`` -> column kind.
DATA_TYPE_KINDS: Mapping[str, Kind] = {
    "string": "string",
    "object_id": "string",
    "integer": "integer",
    "float": "float",
    "boolean": "boolean",
    "object": "json",
}

_TEXT_KINDS = frozenset({"string", "unknown"})
_PLACEHOLDERS: Mapping[Kind, object] = {
    "integer": 0,
    "float": 0.0,
    "decimal": Decimal(0),
    "boolean": False,
    "date": date(1970, 1, 1),
    "datetime": datetime(1970, 1, 1),
    "time": time(0),
    "binary": b"",
    "json": {},
}


@dataclass(frozen=True)
class Column:
    """What is known of a field's column: declared in the dataset, or read from the database."""

    kind: Kind = "unknown"
    length: int | None = None
    nullable: bool | None = None
    primary_key: bool = False


@dataclass(frozen=True)
class Exemption:
    """Data kept despite erasure (e.g. invoices kept for tax law), why, and until when."""

    reason: str
    until: str | None = None


@dataclass(frozen=True)
class FieldSpec:
    """One field of a collection as erasure sees it."""

    name: str
    categories: tuple[str, ...] = ()
    column: Column = Column()
    primary_key: bool = False
    #: fields (``collection.field``) whose values are this field's: it is a key they point at
    referenced_by: tuple[str, ...] = ()
    #: fields this one points at: it is a link
    links_to: tuple[str, ...] = ()
    read_only: bool = False
    override: Strategy | None = None
    exemption: Exemption | None = None


@dataclass(frozen=True)
class Rules:
    """Default strategy per category prefix, and extension categories' fideslang parents."""

    defaults: Mapping[str, Strategy] = field(default_factory=lambda: dict(DEFAULT_STRATEGIES))
    parents: Mapping[str, str] = field(default_factory=dict)
    hash_key: bytes | None = None

    def lineage(self, category: str) -> list[str]:
        """The category and the categories it refines through taxonomy extensions."""
        out = [category]
        while out[-1] in self.parents and len(out) < 32:
            out.append(self.parents[out[-1]])
        return out

    def personal(self, categories: Iterable[str]) -> bool:
        return any(
            _under(key, PERSONAL_ROOT) for category in categories for key in self.lineage(category)
        )

    def strategy_for(self, categories: Iterable[str]) -> Strategy | None:
        """The strictest of the categories' defaults; ``None`` when none applies."""
        found: list[Strategy] = []
        for category in categories:
            best: tuple[int, Strategy] | None = None
            for key in self.lineage(category):
                for prefix, strategy in self.defaults.items():
                    if _under(key, prefix) and (best is None or len(prefix) > best[0]):
                        best = (len(prefix), strategy)
                if best is not None:
                    break
            if best is not None:
                found.append(best[1])
        return min(found, key=STRATEGIES.index) if found else None


def _under(category: str, prefix: str) -> bool:
    return category == prefix or category.startswith(prefix + ".")


Role = Literal["key", "link", "value"]
Source = Literal["override", "category"]


@dataclass(frozen=True)
class FieldPlan:
    """What erasure does to one field; ``strategy`` ``None`` leaves it as it is."""

    name: str
    categories: tuple[str, ...]
    column: Column
    role: Role
    strategy: Strategy | None
    source: Source | None
    personal: bool = False
    #: why the field is a key (``primary key``, ``key referenced by …``)
    key: str | None = None
    #: the keys a link points at (``customer.id``)
    links: tuple[str, ...] = ()
    #: why the value is kept whatever happens; ``None`` when erasure may change it
    kept: str | None = None
    until: str | None = None


@dataclass(frozen=True)
class PlanProblem:
    """A strategy that cannot be applied to a field; ``source`` tells where it came from."""

    collection: str
    field: str
    message: str
    fix: str
    source: Source | Literal["live"]

    def __str__(self) -> str:
        return f"{self.collection}.{self.field}: {self.message}; {self.fix}"


@dataclass(frozen=True)
class CollectionPlan:
    collection: str
    fields: tuple[FieldPlan, ...]
    problems: tuple[PlanProblem, ...]

    @cached_property
    def deletes_rows(self) -> bool:
        """Rows are deleted: a field says ``delete`` and nothing in the row must stay."""
        return self.wants_delete and not self.keeps_rows

    @cached_property
    def wants_delete(self) -> bool:
        """A field says ``delete`` (the row may still have to stay)."""
        return any(f.strategy == "delete" for f in self.fields)

    @cached_property
    def keeps_rows(self) -> bool:
        """Rows hold exempt or read-only data, so they are never deleted."""
        return any(f.kept is not None and f.kept != f.key for f in self.fields)

    def field(self, name: str) -> FieldPlan | None:
        return next((f for f in self.fields if f.name == name), None)

    @cached_property
    def changeable(self) -> tuple[FieldPlan, ...]:
        """Fields erasure may change in a row that stays: those with a strategy, except
        keys and links that cannot be NULL (rewritten, they would point elsewhere)."""
        return tuple(
            f
            for f in self.fields
            if f.strategy is not None
            and f.role != "key"
            and not (f.role == "link" and f.column.nullable is False)
        )

    @cached_property
    def _memo(self) -> dict[int, tuple[Rules, tuple[_Replacement, ...]]]:
        return {}

    def replacements(self, rules: Rules) -> tuple[_Replacement, ...]:
        """Per field erasure may change in a row that stays: its name and new value, or the
        function giving it from the old one (built once per ``rules``)."""
        found = self._memo.get(id(rules))
        if found is None or found[0] is not rules:
            found = self._memo[id(rules)] = (
                rules,
                tuple(_replacement(f, rules) for f in self.changeable),
            )
        return found[1]

    @cached_property
    def kept_whatever_the_values(self) -> tuple[tuple[str, str, str, str | None], ...]:
        """Personal fields a row that stays keeps, whatever its values: ``(field,
        collection.field, why, until)``."""
        out: list[tuple[str, str, str, str | None]] = []
        for plan in self.fields:
            if not plan.personal:
                continue
            reason = plan.kept or plan.key
            if reason is None and plan.links and plan.column.nullable is False:
                reason = f"points at {', '.join(plan.links)} and cannot be NULL"
            if reason is not None:
                out.append((plan.name, f"{self.collection}.{plan.name}", reason, plan.until))
        return tuple(out)


def plan_collection(collection: str, specs: Iterable[FieldSpec], rules: Rules) -> CollectionPlan:
    """The plan of every field of ``collection`` and the problems of applying it."""
    fields: list[FieldPlan] = []
    problems: list[PlanProblem] = []
    for spec in specs:
        plan = _plan_field(spec, rules)
        fields.append(plan)
        problems.extend(_problems(collection, spec, plan, rules))
    return CollectionPlan(collection, tuple(fields), tuple(problems))


def _plan_field(spec: FieldSpec, rules: Rules) -> FieldPlan:
    role: Role = "value"
    if spec.primary_key or spec.referenced_by:
        role = "key"
    elif spec.links_to:
        role = "link"
    source: Source | None = "override" if spec.override else None
    strategy = spec.override
    if strategy is None:
        strategy = rules.strategy_for(spec.categories)
        source = "category" if strategy else None
    plan = FieldPlan(
        spec.name,
        spec.categories,
        spec.column,
        role,
        strategy,
        source,
        personal=spec.override is not None or rules.personal(spec.categories),
        key=_key_reason(spec) if role == "key" else None,
        links=spec.links_to if role == "link" else (),
    )
    if spec.exemption is not None:
        return replace(plan, strategy=None, kept=spec.exemption.reason, until=spec.exemption.until)
    if spec.read_only:
        return replace(plan, strategy=None, kept="read-only in the dataset")
    if role == "key" and strategy not in {None, "delete"}:
        return replace(plan, strategy=None, kept=plan.key)
    return plan


def _key_reason(spec: FieldSpec) -> str:
    if spec.primary_key:
        return "primary key"
    return "key referenced by " + ", ".join(spec.referenced_by)


def _problems(
    collection: str, spec: FieldSpec, plan: FieldPlan, rules: Rules
) -> Iterator[PlanProblem]:
    strategy = spec.override if plan.kept is not None else plan.strategy
    if strategy is None or plan.source is None:
        return
    if plan.kept is not None and plan.kept != plan.key:
        return  # exempt or read-only: left as it is
    source = plan.source
    column = spec.column

    def problem(message: str, fix: str) -> PlanProblem:
        return PlanProblem(collection, spec.name, message, fix, source)

    if plan.role == "key" and source == "override" and strategy != "delete":
        yield problem(
            f"{strategy}: {spec.name} is a {_key_reason(spec)}, and keys are never overwritten",
            "use delete (the row), or remove the override: the key is then kept and the "
            "rest of the row erased",
        )
    elif plan.kept is not None:
        return
    elif plan.role == "link" and strategy not in {"delete", "null"}:
        yield problem(
            f"{strategy}: {spec.name} points at {', '.join(spec.links_to)}; a rewritten value "
            "would point at another row",
            "use delete (the row) or null (unlink the row)",
        )
    elif strategy == "delete" and column.nullable is False and plan.role == "value":
        if column.kind != "unknown" and placeholder(column) is None:
            yield problem(
                f"delete: when the row has to stay, nothing can replace a NOT NULL "
                f"{column.kind} value",
                "allow NULL in the column, or exempt the field under erasure.keep",
            )
    elif strategy == "null" and column.nullable is False:
        yield problem(
            "null: the column does not accept NULL",
            "use redact, hash or delete (the row), or allow NULL in the column",
        )
    elif strategy == "redact" and column.kind != "unknown" and placeholder(column) is None:
        yield problem(
            f"redact: no placeholder for {column.kind} columns",
            "use null or delete (the row)",
        )
    elif strategy == "hash" and column.kind not in _TEXT_KINDS:
        yield problem(
            f"hash: a hash is text and the column holds {column.kind} values",
            "use redact, null or delete (the row) for this column",
        )
    elif strategy == "hash" and column.length is not None and column.length < HASH_MIN_LENGTH:
        yield problem(
            f"hash: the column holds {column.length} characters, a hash needs at least "
            f"{HASH_MIN_LENGTH}",
            "use redact, null or delete (the row), or widen the column",
        )
    elif strategy == "generalize" and _generalizer(spec.categories, column, rules) is None:
        yield problem(
            f"generalize: no rule for {', '.join(spec.categories) or 'this field'} in a "
            f"{column.kind} column",
            "generalize applies to postal codes, dates, IP addresses and ages; use redact, "
            "hash, null or delete (the row) here",
        )


# -- values -------------------------------------------------------------------------------


def placeholder(column: Column) -> object | None:
    """The redacted value of a column of this kind and length; ``None`` if there is none."""
    if column.kind == "string":
        limit = column.length or len(REDACTED[0])
        return next((text for text in REDACTED if len(text) <= limit), REDACTED[-1])
    if column.kind == "uuid":
        return "00000000-0000-0000-0000-000000000000"
    return _PLACEHOLDERS.get(column.kind)


def keyed_hash(value: object, key: bytes, length: int | None) -> str:
    """HMAC-SHA256 of the value's text under ``key``, in hex, cut to ``length``."""
    digest = hmac.new(key, str(value).encode("utf-8"), hashlib.sha256).hexdigest()
    return digest[:length] if length else digest


Generalizer = Callable[[object], object]


def _generalizer(categories: Iterable[str], column: Column, rules: Rules) -> Generalizer | None:
    names = {key.rsplit(".", 1)[-1] for c in categories for key in rules.lineage(c)}
    if column.kind in {"date", "datetime"}:
        return _to_year
    if "ip_address" in names and column.kind in _TEXT_KINDS:
        return _to_network
    if "postal_code" in names and column.kind in _TEXT_KINDS:
        return lambda value: str(value)[:2]
    if "date_of_birth" in names and column.kind in _TEXT_KINDS:
        return lambda value: str(value)[:4]
    if names & {"age", "age_range"} and column.kind == "integer":
        return lambda value: value - value % 10 if isinstance(value, int) else value
    return None


def _to_year(value: object) -> object:
    if isinstance(value, datetime):
        return value.replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0)
    if isinstance(value, date):
        return value.replace(month=1, day=1)
    return str(value)[:4]


def _to_network(value: object) -> object:
    try:
        address = ipaddress.ip_address(str(value).strip())
    except ValueError:
        return None
    prefix = 24 if address.version == 4 else 48
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False).network_address)


def erased_value(plan: FieldPlan, value: object, rules: Rules, *, fallback: bool) -> object:
    """The value ``plan`` puts in place of ``value``; ``fallback`` is for a row that stays
    although a field said ``delete`` (NULL, or the placeholder in a NOT NULL column)."""
    strategy = plan.strategy
    if strategy == "delete":
        if not fallback:
            raise ValueError("a deleted row has no new values")
        strategy = "redact" if plan.column.nullable is False else "null"
    if strategy == "null":
        return None
    if strategy == "redact":
        return placeholder(plan.column)
    if strategy == "hash":
        if rules.hash_key is None:
            raise ValueError("hash needs a key")
        return keyed_hash(value, rules.hash_key, plan.column.length)
    if strategy == "generalize":
        generalize = _generalizer(plan.categories, plan.column, rules)
        return None if generalize is None else generalize(value)
    raise ValueError(f"no strategy to apply to {plan.name}")


def changes(
    plan: CollectionPlan, row: Mapping[str, object], rules: Rules, *, fallback: bool
) -> dict[str, object]:
    """New values for the fields of a row that stays; fields already empty are left."""
    if fallback:
        return replaced(plan.replacements(rules), row)
    out: dict[str, object] = {}
    for field_plan in plan.changeable:
        if field_plan.strategy == "delete":
            continue
        old = row.get(field_plan.name)
        if old is None:
            continue
        new = erased_value(field_plan, old, rules, fallback=False)
        if new != old:
            out[field_plan.name] = new
    return out


def replaced(replacements: Iterable[_Replacement], row: Mapping[str, object]) -> dict[str, object]:
    """The new values of a row that stays (see :meth:`CollectionPlan.replacements`)."""
    out: dict[str, object] = {}
    for name, same, make in replacements:
        old = row.get(name)
        if old is None:
            continue
        new = same if make is None else make(old)
        if new != old:
            out[name] = new
    return out


#: a field's name, its new value, or the function giving it from the old one
_Replacement = tuple[str, object, Callable[[object], object] | None]


def _replacement(plan: FieldPlan, rules: Rules) -> _Replacement:
    """What :func:`erased_value` puts in a row that stays: computed once where it is the
    same whatever the value (``null``, ``redact``, and ``delete`` falling back to one of
    them), else the function computing it."""
    if plan.strategy in ("delete", "null", "redact"):
        return (plan.name, erased_value(plan, None, rules, fallback=True), None)
    return (plan.name, None, lambda value: erased_value(plan, value, rules, fallback=True))


def value_fits(column: Column, value: object) -> bool:
    """Whether a column of this kind and length can hold ``value`` (unknown kinds can)."""
    if value is None:
        return column.nullable is not False
    kind = column.kind
    if kind == "string":
        return isinstance(value, str) and (column.length is None or len(value) <= column.length)
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind in {"float", "decimal"}:
        return isinstance(value, int | float | Decimal) and not isinstance(value, bool)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "date":
        return isinstance(value, date) and not isinstance(value, datetime)
    if kind == "datetime":
        return isinstance(value, datetime)
    if kind == "time":
        return isinstance(value, time)
    return kind in {"unknown", "json", "uuid"} or (kind == "binary" and isinstance(value, bytes))
