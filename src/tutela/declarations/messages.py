"""Pydantic's validation errors, reworded for the person who wrote the file."""

from __future__ import annotations

import re
import types
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic_core import ErrorDetails

from tutela.declarations.models import Declarations
from tutela.declarations.problems import Issue, Loc
from tutela.declarations.taxonomy import did_you_mean
from tutela.declarations.types import ERROR_TYPE

_YAML_TYPES = {
    bool: "true/false",
    int: "a number",
    float: "a number",
    str: "text",
    list: "a list",
    dict: "a mapping",
    type(None): "nothing (null)",
}


def issue_from_error(error: ErrorDetails) -> Issue:
    """Turn one pydantic error into an issue with a message and, where possible, a fix."""
    loc: Loc = tuple(error["loc"])
    kind = error["type"]
    ctx: dict[str, Any] = dict(error.get("ctx") or {})
    value = error.get("input")
    name = str(loc[-1]) if loc else "file"
    if kind == ERROR_TYPE:
        return Issue(loc, str(ctx["message"]), str(ctx["fix"]))
    if loc == ("tutela",):
        return Issue(
            loc,
            "missing format version"
            if kind == "missing"
            else f"{_show(value)}: unknown format version",
            "write 'tutela: 1' as the first line",
        )
    if kind == "missing":
        description = _description(loc)
        hint = f" ({description.rstrip('.')})" if description else ""
        return Issue(loc, f"required key '{name}' is missing", f"add {name}:{hint}")
    if kind == "extra_forbidden":
        allowed = _allowed_keys(loc[:-1])
        fix = did_you_mean(name, allowed) or (
            f"remove it; allowed here: {', '.join(allowed)}" if allowed else "remove it"
        )
        return Issue(loc, "unknown key", fix)
    if kind == "literal_error":
        choices = re.findall(r"'([^']*)'", str(ctx.get("expected", ""))) or [
            str(ctx.get("expected", ""))
        ]
        fix = did_you_mean(str(value), choices) or f"use one of {', '.join(choices)}"
        return Issue(loc, f"{_show(value)}: not one of {', '.join(choices)}", fix)
    return _by_type(loc, kind, value, ctx, str(error["msg"]))


def _by_type(loc: Loc, kind: str, value: object, ctx: dict[str, Any], msg: str) -> Issue:
    got = _YAML_TYPES.get(type(value), type(value).__name__)
    if kind == "string_type":
        fix = "put the value in quotes"
        if isinstance(value, bool):
            fix = "YAML reads yes, no, on and off as true/false; put the value in quotes"
        return Issue(loc, f"{_show(value)}: expected text, YAML read {got}", fix)
    if kind in {"int_type", "int_parsing", "int_from_float"}:
        return Issue(loc, f"{_show(value)}: expected a whole number", "write digits only, e.g. 16")
    if kind in {"bool_type", "bool_parsing"}:
        return Issue(loc, f"{_show(value)}: expected true or false", "write true or false")
    if kind in {"model_type", "model_attributes_type", "dict_type"}:
        allowed = _allowed_keys(loc)
        fix = "write it as 'key: value' lines"
        if allowed:
            fix += f" (keys: {', '.join(allowed)})"
        return Issue(loc, f"expected a mapping, YAML read {got}", fix)
    if kind in {"list_type", "tuple_type"}:
        return Issue(
            loc,
            f"expected a list, YAML read {got}",
            "write it as [a, b] or as lines starting with '- '",
        )
    if kind == "too_short":
        return Issue(loc, "must list at least one item", "add an item or remove the key")
    if kind == "string_too_short":
        return Issue(loc, "must not be empty", "write a value, or remove the key if it is optional")
    if kind == "greater_than_equal":
        return Issue(loc, f"{_show(value)}: too small", f"use a value of at least {ctx['ge']}")
    if kind == "less_than_equal":
        return Issue(loc, f"{_show(value)}: too large", f"use a value of at most {ctx['le']}")
    if kind.startswith("date_"):
        return Issue(loc, f"{_show(value)}: not a date", "write it as YYYY-MM-DD")
    if kind.startswith("dict_") or kind == "hashable_type":
        return Issue(loc, msg, "write the keys as plain text")
    return Issue(loc, msg.removeprefix("Value error, "), None)


def _show(value: object) -> str:
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif value is None:
        text = "null"
    elif isinstance(value, dict | list):
        text = type(value).__name__
    else:
        text = str(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _unwrap(annotation: object) -> object:
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
        elif origin is Union or origin is types.UnionType:
            args = [a for a in get_args(annotation) if a is not type(None)]
            if len(args) != 1:
                return annotation
            annotation = args[0]
        else:
            return annotation


def _model_at(loc: Loc) -> type[BaseModel] | None:
    """The model class that describes the value at ``loc``, if any."""
    current: object = Declarations
    for part in loc:
        current = _unwrap(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(part) if isinstance(part, str) else None
            if field is None:
                return None
            current = field.annotation
        elif get_origin(current) in {tuple, list}:
            current = get_args(current)[0]
        elif get_origin(current) is dict:
            current = get_args(current)[1]
        else:
            return None
    current = _unwrap(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return current
    return None


def _allowed_keys(loc: Loc) -> list[str]:
    model = _model_at(loc)
    return list(model.model_fields) if model else []


def _description(loc: Loc) -> str | None:
    model = _model_at(loc[:-1])
    if model is None or not isinstance(loc[-1], str):
        return None
    field = model.model_fields.get(loc[-1])
    return field.description if field else None
