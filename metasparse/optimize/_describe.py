"""pydantic's ValidationError as one line: 'key must be ...; got value', naming what is allowed."""

from __future__ import annotations

import types
import typing
from typing import Any, Literal

from pydantic import BaseModel, ValidationError


def describe(exc: ValidationError, root: type[BaseModel], at: tuple[str, ...] = ()) -> str:
    """The first error of validating `root` as 'key must be ...; got value'; `at`: where `root`
    sits in the scenario (keys named as `at.key`)."""
    error = exc.errors(include_url=False)[0]
    loc = tuple(error["loc"])
    path = _dotted(at + loc)
    kind = error["type"]
    value = error.get("input")
    ctx = error.get("ctx") or {}
    if kind == "extra_forbidden":
        parent = _model_at(root, loc[:-1])
        allowed = sorted(parent.model_fields) if parent is not None else []
        return f"unknown key {path!r}; allowed keys: {allowed}"
    if kind == "missing":
        return f"{path} is required"
    if kind == "literal_error":
        return f"{path} must be one of {_literal_choices(root, loc)}; got {value!r}"
    if kind == "value_error":
        return str(ctx.get("error", error["msg"]))
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        op = {"greater_than_equal": ">=", "greater_than": ">", "less_than_equal": "<=",
              "less_than": "<"}[kind]
        bound = next(iter(ctx.values()))
        return f"{path} must be {op} {bound}; got {value!r}"
    if kind in ("too_short", "too_long"):
        return f"{path} {_length_rule(root, loc)}; got {value!r}"
    what = {
        "int_type": "an integer", "int_parsing": "an integer", "int_from_float": "an integer",
        "float_type": "a number", "float_parsing": "a number", "string_type": "a string",
        "list_type": "a list", "dict_type": "a mapping", "model_type": "a mapping",
        "bool_type": "true or false",
    }.get(kind)
    if what is not None:
        return f"{path} must be {what}; got {value!r}"
    return f"{path}: {error['msg']}; got {value!r}"


def _dotted(loc: tuple[Any, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "scenario"


def _field_annotation(root: type[BaseModel], loc: tuple[Any, ...]) -> Any:
    model: Any = root
    annotation: Any = None
    for part in loc:
        if isinstance(part, int):
            annotation = _unwrap_list(annotation)
            continue
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            return None
        field = model.model_fields.get(part)
        if field is None:
            return None
        annotation = field.annotation
        model = _unwrap_optional(annotation)
    return annotation


def _model_at(root: type[BaseModel], loc: tuple[Any, ...]) -> type[BaseModel] | None:
    if not loc:
        return root
    annotation = _unwrap_optional(_field_annotation(root, loc))
    return annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) \
        else None


def _unwrap_optional(annotation: Any) -> Any:
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return args[0] if len(args) == 1 else annotation
    return annotation


def _unwrap_list(annotation: Any) -> Any:
    annotation = _unwrap_optional(annotation)
    args = typing.get_args(annotation)
    return args[0] if typing.get_origin(annotation) is list and args else annotation


def _literal_choices(root: type[BaseModel], loc: tuple[Any, ...]) -> list[Any]:
    annotation = _unwrap_optional(_field_annotation(root, loc))
    if typing.get_origin(annotation) is list:
        annotation = _unwrap_list(annotation)
    return sorted(typing.get_args(annotation)) if typing.get_origin(annotation) is Literal else []


def _length_rule(root: type[BaseModel], loc: tuple[Any, ...]) -> str:
    field = root.model_fields.get(str(loc[0])) if len(loc) == 1 else None
    low = high = None
    for meta in field.metadata if field is not None else []:
        low = getattr(meta, "min_length", low)
        high = getattr(meta, "max_length", high)
    if low == 1 and high is None:
        return "must not be empty"
    if low is not None and high is not None:
        return f"must have {low} to {high} entries"
    return f"must have at least {low} entries" if low is not None else "has a wrong length"
