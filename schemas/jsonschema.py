"""JSON Schemas (draft 2020-12) of the output records, derived from their models.

:func:`schema_for` turns a record dataclass of :mod:`schemas.records` into a
schema; :func:`load` reads the published file from ``schemas/json/`` (shipped
with the package, and readable without installing it).
"""

from __future__ import annotations

import types
import typing
from dataclasses import MISSING, Field, fields
from importlib import resources
from typing import Any, Final, Literal, Union

import orjson

from schemas.records import RECORD_MODELS

DIALECT: Final = "https://json-schema.org/draft/2020-12/schema"
ID_BASE: Final = "urn:fedapay-bridge:schemas"
VERSION: Final = "v1"


def file_name(name: str) -> str:
    return f"{name}.schema.json"


def schema_for(name: str) -> dict[str, Any]:
    """The schema of the record model registered as ``name`` in ``RECORD_MODELS``."""
    model = RECORD_MODELS[name]
    hints = typing.get_type_hints(model)
    properties: dict[str, Any] = {}
    required: list[str] = []
    for item in fields(model):  # type: ignore[arg-type]
        optional = bool(item.metadata.get("omit_if_none", False))
        properties[item.name] = _property(item, hints[item.name], drop_null=optional)
        if not optional:
            required.append(item.name)
    return {
        "$schema": DIALECT,
        "$id": f"{ID_BASE}:{VERSION}:{name}",
        "title": model.__name__,
        "description": _docstring(model),
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
    }


def all_schemas() -> dict[str, dict[str, Any]]:
    return {name: schema_for(name) for name in RECORD_MODELS}


def render(schema: dict[str, Any]) -> bytes:
    """The published bytes of a schema: indented, stable, newline-terminated."""
    return orjson.dumps(schema, option=orjson.OPT_INDENT_2) + b"\n"


def load(name: str) -> dict[str, Any]:
    """The published schema file ``schemas/json/<name>.schema.json``."""
    text = resources.files("schemas").joinpath("json", file_name(name)).read_bytes()
    document: dict[str, Any] = orjson.loads(text)
    return document


def _docstring(model: type) -> str:
    text = model.__doc__ or ""
    return " ".join(text.split())


def _property(item: Field[Any], hint: Any, *, drop_null: bool) -> dict[str, Any]:
    schema = _type_schema(hint, drop_null=drop_null)
    description = item.metadata.get("description")
    if description:
        schema["description"] = description
    fmt = item.metadata.get("format")
    if fmt:
        schema["format"] = fmt
    if item.default is not MISSING and item.default is not None:
        schema["default"] = item.default
    return schema


_SCALARS: Final[dict[type, str]] = {
    str: "string",
    bool: "boolean",
    int: "integer",
    float: "number",
    type(None): "null",
}


def _type_schema(hint: Any, *, drop_null: bool = False) -> dict[str, Any]:
    origin = typing.get_origin(hint)
    if origin in (Union, types.UnionType):
        members = [arg for arg in typing.get_args(hint) if not (drop_null and arg is type(None))]
        if len(members) == 1:
            return _type_schema(members[0])
        return _union([_type_schema(arg) for arg in members])
    if origin is Literal:
        return {"enum": list(typing.get_args(hint))}
    if origin is dict or hint is dict:
        return {"type": "object"}
    if origin in (list, tuple):
        args = typing.get_args(hint)
        return {"type": "array", "items": _type_schema(args[0]) if args else {}}
    if hint is Any:
        return {}
    if hint in _SCALARS:
        return {"type": _SCALARS[hint]}
    raise TypeError(f"no JSON Schema mapping for {hint!r}")


def _union(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """Merge simple ``type`` schemas into one ``type`` list; otherwise ``anyOf``."""
    if all(set(part) == {"type"} for part in parts):
        return {"type": [part["type"] for part in parts]}
    enums = [part for part in parts if "enum" in part]
    others = [part for part in parts if "enum" not in part]
    if len(enums) == 1 and others == [{"type": "null"}]:
        return {"enum": [*enums[0]["enum"], None]}
    return {"anyOf": parts}
