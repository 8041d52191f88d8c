"""common.settings: a declared setting reads, documents and hides itself as declared."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import pytest

from common.config import Env
from common.errors import ConfigError
from common.settings import (
    Chart,
    Choice,
    Flag,
    Integer,
    Items,
    Kind,
    Networks,
    OptionalText,
    Parsed,
    Real,
    Required,
    Secret,
    Setting,
    Text,
    declared,
    group,
    load,
    setting,
    setting_factory,
)

P = "FEDAPAY_BRIDGE_"


@pytest.mark.parametrize(
    ("kind", "default", "raw", "expected"),
    [
        (Text(), "d", None, "d"),
        (Text(), "d", "  v ", "v"),
        (OptionalText(), None, None, None),
        (OptionalText(), None, "v", "v"),
        (Required(), "", "v", "v"),
        (Integer(minimum=1), 5, None, 5),
        (Integer(minimum=1), 5, "7", 7),
        (Real(minimum=0.1), 1.0, "0.5", 0.5),
        (Flag(), False, "yes", True),
        (Choice(("a", "b")), "a", "b", "b"),
        (Items(), ("x",), None, ("x",)),
        (Items(("x", "y")), (), "x, y,", ("x", "y")),
        (Secret(), None, "s3cret", "s3cret"),
        (Parsed(Path, str), Path("d"), "/data", Path("/data")),
    ],
)
def test_kinds_read(kind: Kind[Any], default: Any, raw: str | None, expected: Any) -> None:
    environ = {} if raw is None else {f"{P}X": raw}
    assert kind.read(Env(environ), "X", default) == expected


@pytest.mark.parametrize(
    ("kind", "raw", "message"),
    [
        (Required(), None, f"{P}X: is required"),
        (Integer(minimum=1), "0", f"{P}X: must be at least 1, got '0'"),
        (Real(minimum=0.1), "x", f"{P}X: invalid value 'x'"),
        (Flag(), "maybe", f"{P}X: expected true or false, got 'maybe'"),
        (Choice(("a", "b")), "c", f"{P}X: expected one of a, b, got 'c'"),
        (Items(("a",), "letters"), "a,z", f"{P}X: unknown letters ['z']"),
        (Secret(re.compile("[a-z]{4}"), "must be 4 letters"), "abc", f"{P}X: must be 4 letters"),
    ],
)
def test_kinds_refuse(kind: Kind[Any], raw: str | None, message: str) -> None:
    environ = {} if raw is None else {f"{P}X": raw}
    with pytest.raises(ConfigError) as caught:
        kind.read(Env(environ), "X", "")
    assert str(caught.value).startswith(message)


@pytest.mark.parametrize(
    ("kind", "schema", "bounds"),
    [
        (Text(), {"type": "string"}, ""),
        (Integer(minimum=8), {"type": "integer", "minimum": 8}, "at least 8"),
        (Real(minimum=0.0), {"type": "number", "minimum": 0}, "at least 0"),
        (Real(minimum=0.1), {"type": "number", "minimum": 0.1}, "at least 0.1"),
        (Flag(), {"type": "boolean"}, "`true`, `false`"),
        (Choice(("a", "b")), {"type": "string", "enum": ["a", "b"]}, "`a`, `b`"),
        (Networks(), {"type": "array", "items": {"type": "string"}}, "CIDRs, comma-separated"),
        (
            Items(("a",)),
            {"type": "array", "items": {"type": "string", "enum": ["a"]}},
            "comma-separated, each of `a`",
        ),
    ],
)
def test_kinds_document(kind: Kind[Any], schema: dict[str, Any], bounds: str) -> None:
    assert kind.schema() == schema
    assert kind.bounds() == bounds


@pytest.mark.parametrize(
    ("spec", "shown"),
    [
        (Setting("X", Integer(), "d", lambda: 3), "`3`"),
        (Setting("X", Real(), "d", lambda: 5.0), "`5`"),
        (Setting("X", Flag(), "d", lambda: True), "`true`"),
        (Setting("X", Items(), "d", lambda: ("a", "b")), "`a,b`"),
        (Setting("X", OptionalText(), "d", lambda: None), "\u2013"),
        (Setting("X", Text(), "d", None), "required"),
        (Setting("X", Text(), "d", lambda: "v", shown="host name"), "host name"),
    ],
)
def test_shown_default(spec: Setting[Any], shown: str) -> None:
    assert spec.shown_default == shown


def test_per_endpoint_names() -> None:
    spec = Setting("WEBHOOK_<N>_SECRETS", Secret(), "d", None)
    assert spec.var("my-shop") == "WEBHOOK_MY_SHOP_SECRETS"
    environ = {f"{P}WEBHOOK_MY_SHOP_SECRETS": "s"}
    assert spec.read(Env(environ), "my-shop") == "s"


@dataclasses.dataclass(frozen=True)
class Inner:
    attempts: int = setting("ATTEMPTS", Integer(minimum=1), 6, "attempts")


@dataclasses.dataclass(frozen=True)
class Example:
    given: str
    port: int = setting("PORT", Integer(minimum=0), 8080, "a port", chart=Chart("x.port"))
    host: str = setting_factory("HOST", Text(), lambda: "made", "a host")
    token: str | None = setting("TOKEN", Secret(), None, "a token")
    inner: Inner = group(Inner, lambda env: load(Inner, env))


def test_load_reads_declared_fields_in_order() -> None:
    environ = {f"{P}PORT": "9", f"{P}TOKEN": "t0ken", f"{P}ATTEMPTS": "2"}
    loaded = load(Example, Env(environ), given="g")
    assert loaded == Example(given="g", port=9, host="made", token="t0ken", inner=Inner(2))
    assert [spec.name for spec in declared(Example)] == ["PORT", "HOST", "TOKEN"]


def test_defaults_are_the_declared_ones() -> None:
    assert Example(given="g") == load(Example, Env({}), given="g")
    assert Example.port == 8080  # an immutable default is the class attribute, as usual


def test_a_secret_is_not_in_the_repr() -> None:
    loaded = load(Example, Env({f"{P}TOKEN": "t0ken-value"}), given="g")
    assert "t0ken-value" not in repr(loaded)


def test_the_first_bad_field_is_named() -> None:
    with pytest.raises(ConfigError, match=f"^{P}PORT: "):
        load(Example, Env({f"{P}PORT": "-1", f"{P}ATTEMPTS": "0"}), given="g")
