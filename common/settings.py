"""Settings declared once: each one's variable, type, default, bounds, meaning and secrecy.

A settings class is a frozen dataclass whose fields are declared with :func:`setting` (or
:func:`setting_factory`, :func:`group`). The declaration is the only place a setting is written:

* the loader (:func:`load`) reads every declared field from an :class:`~common.config.Env`
  with the field's :class:`Kind`, so errors name the variable as :class:`~common.config.Env`
  words them;
* the README's configuration tables and the chart's values documentation and schema are
  generated from the declarations (``python -m tests.docs.settings_doc``), and a test fails
  when a generated copy is stale.

A :class:`Kind` is how one variable is read (``Integer(minimum=1)``, ``Choice(...)``, a
``Secret`` that may also come from ``<NAME>_FILE``) and how it is documented.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Generic, TypeVar, cast

from common.config import Env
from common.errors import ConfigError

T = TypeVar("T")
S = TypeVar("S")

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
JSON = dict[str, Any]

#: Field metadata keys: the field's :class:`Setting`, or the loader of a nested group.
SETTING: Final = "setting"
GROUP: Final = "settings_group"
#: Stands for a setting's endpoint in per-endpoint names (``WEBHOOK_<N>_SECRETS``).
ENDPOINT: Final = "<N>"


def _code(value: object) -> str:
    return f"`{value}`"


class Kind(ABC, Generic[T]):
    """How one variable is read and documented."""

    #: The value is a secret: never in ``repr``, also accepted from ``<NAME>_FILE``.
    secret: bool = False

    @abstractmethod
    def read(self, env: Env, name: str, default: T) -> T:
        """The value of ``name`` in ``env``, else ``default``; ConfigError when malformed."""

    def schema(self) -> JSON:
        """The JSON Schema of the value (the chart's values.schema.json)."""
        return {"type": "string"}

    def bounds(self) -> str:
        """The accepted values in words, empty when any text goes."""
        return ""

    def show(self, default: T) -> str:
        """A default as the docs show it."""
        if default is None or default == ():
            return "\u2013"  # an en dash
        if isinstance(default, bool):
            return _code(str(default).lower())
        if isinstance(default, tuple):
            return _code(",".join(str(item) for item in default))
        return _code(default)


@dataclass(frozen=True)
class Text(Kind[str]):
    def read(self, env: Env, name: str, default: str) -> str:
        return env.text(name, default)


@dataclass(frozen=True)
class OptionalText(Kind[str | None]):
    def read(self, env: Env, name: str, default: str | None) -> str | None:
        value = env.optional(name)
        return default if value is None else value


@dataclass(frozen=True)
class Required(Kind[str]):
    def read(self, env: Env, name: str, default: str) -> str:
        return env.required(name)


@dataclass(frozen=True)
class Integer(Kind[int]):
    minimum: int | None = None

    def read(self, env: Env, name: str, default: int) -> int:
        return env.integer(name, default, minimum=self.minimum)

    def schema(self) -> JSON:
        return _with_minimum({"type": "integer"}, self.minimum)

    def bounds(self) -> str:
        return "" if self.minimum is None else f"at least {self.minimum}"


@dataclass(frozen=True)
class Real(Kind[float]):
    minimum: float | None = None

    def read(self, env: Env, name: str, default: float) -> float:
        return env.real(name, default, minimum=self.minimum)

    def schema(self) -> JSON:
        return _with_minimum({"type": "number"}, self.minimum)

    def bounds(self) -> str:
        return "" if self.minimum is None else f"at least {_number(self.minimum)}"

    def show(self, default: float) -> str:
        return _code(_number(default))


@dataclass(frozen=True)
class Flag(Kind[bool]):
    def read(self, env: Env, name: str, default: bool) -> bool:
        return env.flag(name, default)

    def schema(self) -> JSON:
        return {"type": "boolean"}

    def bounds(self) -> str:
        return "`true`, `false`"


@dataclass(frozen=True)
class Choice(Kind[str]):
    choices: tuple[str, ...]

    def read(self, env: Env, name: str, default: str) -> str:
        return env.choice(name, default, self.choices)

    def schema(self) -> JSON:
        return {"type": "string", "enum": list(self.choices)}

    def bounds(self) -> str:
        return ", ".join(_code(choice) for choice in self.choices)


@dataclass(frozen=True)
class Items(Kind[tuple[str, ...]]):
    """Comma-separated items; ``allowed`` (when given) lists the only ones accepted."""

    allowed: tuple[str, ...] = ()
    #: What the items are, in the error naming unknown ones.
    what: str = "values"

    def read(self, env: Env, name: str, default: tuple[str, ...]) -> tuple[str, ...]:
        items = env.items(name, default)
        unknown = [item for item in items if self.allowed and item not in self.allowed]
        if unknown:
            raise ConfigError(env.var(name), f"unknown {self.what} {unknown}")
        return items

    def schema(self) -> JSON:
        items: JSON = {"type": "string"}
        if self.allowed:
            items["enum"] = list(self.allowed)
        return {"type": "array", "items": items}

    def bounds(self) -> str:
        each = ", ".join(_code(item) for item in self.allowed)
        return "comma-separated" + (f", each of {each}" if self.allowed else "")


@dataclass(frozen=True)
class Networks(Kind[tuple[Network, ...]]):
    def read(self, env: Env, name: str, default: tuple[Network, ...]) -> tuple[Network, ...]:
        return env.networks(name) or default

    def schema(self) -> JSON:
        return {"type": "array", "items": {"type": "string"}}

    def bounds(self) -> str:
        return "CIDRs, comma-separated"


@dataclass(frozen=True)
class Secret(Kind[str | None]):
    """A secret, from ``<NAME>`` or from the file ``<NAME>_FILE`` names; ``pattern`` (when
    given) must match it whole, else ConfigError with ``problem`` (never the value)."""

    pattern: re.Pattern[str] | None = None
    problem: str = ""
    secret: bool = True

    def read(self, env: Env, name: str, default: str | None) -> str | None:
        value = env.secret(name)
        if value is None:
            return default
        if self.pattern is not None and not self.pattern.fullmatch(value):
            raise ConfigError(env.var(name), self.problem)
        return value

    def bounds(self) -> str:
        return self.problem.replace("must be ", "")


@dataclass(frozen=True)
class Parsed(Kind[T]):
    """Text turned into a value by ``parse`` (which raises ConfigError itself); ``text`` is
    the default's text, as the docs show it."""

    parse: Callable[[str], T]
    text: Callable[[T], str]
    note: str = ""

    def read(self, env: Env, name: str, default: T) -> T:
        value = env.raw(name)
        return default if value is None else self.parse(value)

    def bounds(self) -> str:
        return self.note

    def show(self, default: T) -> str:
        return _code(self.text(default))


def _number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


def _with_minimum(schema: JSON, minimum: float | None) -> JSON:
    return schema if minimum is None else {**schema, "minimum": _number(minimum)}


@dataclass(frozen=True)
class Chart:
    """Where the chart's values set a setting (a dotted path), what the chart's docs add, and
    what the chart's schema asks beyond the setting's own bounds (e.g. a port above 1023)."""

    path: str
    note: str = ""
    schema: Mapping[str, Any] = dataclasses.field(default_factory=dict)


@dataclass(frozen=True)
class Setting(Generic[T]):
    """One ``FEDAPAY_BRIDGE_<name>`` variable (``name`` may hold :data:`ENDPOINT`)."""

    name: str
    kind: Kind[T]
    doc: str
    #: Makes the default (called at each load); ``None``: the setting is required.
    default: Callable[[], T] | None
    #: The default as the docs show it, when the kind's own rendering does not fit.
    shown: str | None = None
    chart: Chart | None = None
    #: The default is made afresh at each load (``socket.gethostname``), not once.
    fresh: bool = False

    def var(self, endpoint: str | None = None) -> str:
        """The name without the prefix; ``endpoint`` fills in :data:`ENDPOINT`."""
        if endpoint is None:
            return self.name
        return self.name.replace(ENDPOINT, endpoint.upper().replace("-", "_"))

    def read(self, env: Env, endpoint: str | None = None) -> T:
        default = None if self.default is None else self.default()
        return self.kind.read(env, self.var(endpoint), cast(T, default))

    @property
    def shown_default(self) -> str:
        if self.shown is not None:
            return self.shown
        if self.default is None:
            return "required"
        return self.kind.show(self.default())

    def field(self) -> T:
        """A dataclass field declared by this setting (hidden from ``repr`` when secret); an
        immutable default is the class attribute too, as for a plain field."""
        factory = self.default
        metadata = {SETTING: self}
        in_repr = not self.kind.secret
        if factory is None:
            return cast(T, dataclasses.field(repr=in_repr, metadata=metadata))
        if not self.fresh:
            value = factory()
            if type(value).__hash__ is not None:
                return dataclasses.field(default=value, repr=in_repr, metadata=metadata)
        return dataclasses.field(default_factory=factory, repr=in_repr, metadata=metadata)


def setting(
    name: str,
    kind: Kind[T],
    default: T,
    doc: str,
    *,
    shown: str | None = None,
    chart: Chart | None = None,
) -> T:
    """A field read from ``FEDAPAY_BRIDGE_<name>`` with ``kind``, ``default`` when unset."""
    return Setting(name, kind, doc, lambda: default, shown, chart).field()


def setting_factory(
    name: str,
    kind: Kind[T],
    default: Callable[[], T],
    doc: str,
    *,
    shown: str | None = None,
    chart: Chart | None = None,
) -> T:
    """As :func:`setting`, the default made by ``default()`` at each load."""
    return Setting(name, kind, doc, default, shown, chart, fresh=True).field()


def shared(spec: Setting[T]) -> T:
    """A field declared by ``spec``, a setting several settings classes read."""
    return spec.field()


def group(default: Callable[[], T], read: Callable[[Env], T]) -> T:
    """A field holding a nested settings object: ``read(env)`` loads it."""
    return dataclasses.field(default_factory=default, metadata={GROUP: read})


def declared(cls: type) -> tuple[Setting[Any], ...]:
    """The settings ``cls`` declares itself (not those of its groups), in field order."""
    found = (item.metadata.get(SETTING) for item in dataclasses.fields(cls))
    return tuple(spec for spec in found if spec is not None)


def load(cls: Callable[..., S], env: Env, **given: Any) -> S:
    """An instance of the settings dataclass ``cls``: ``given`` fields as they are, every
    declared setting and group read from ``env`` in field order."""
    values: dict[str, Any] = dict(given)
    for item in dataclasses.fields(cast(Any, cls)):
        if item.name in values:
            continue
        if SETTING in item.metadata:
            values[item.name] = item.metadata[SETTING].read(env)
        elif GROUP in item.metadata:
            values[item.name] = item.metadata[GROUP](env)
    return cls(**values)
