"""Typed reading of settings from an environment mapping.

Only the settings loaders call this, once per process, with the mapping the
entry point hands them (normally ``os.environ``). Every problem raises
:class:`ConfigError` naming the full variable, so a bad deployment fails at
start with a message that says what to fix.

A secret-bearing setting ``X`` may instead be given as ``X_FILE``: the path of
a file holding the value (a Kubernetes Secret mount). Trailing newlines are
stripped from file contents.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TypeVar

from common.errors import ConfigError

PREFIX = "FEDAPAY_BRIDGE_"

T = TypeVar("T")

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def endpoint_setting(endpoint: str, suffix: str) -> str:
    """The setting of one webhook endpoint: ``WEBHOOK_<ENDPOINT>_<SUFFIX>`` (upper case,
    ``-`` as ``_``), e.g. ``WEBHOOK_LIVE_SECRETS``."""
    return f"WEBHOOK_{endpoint.upper().replace('-', '_')}_{suffix}"


class Env:
    """Reads ``FEDAPAY_BRIDGE_<NAME>`` variables from one mapping."""

    def __init__(self, environ: Mapping[str, str], prefix: str = PREFIX) -> None:
        self._environ = environ
        self._prefix = prefix

    @property
    def environ(self) -> Mapping[str, str]:
        """The whole mapping, for standard variables outside the prefix (``OTEL_*``)."""
        return self._environ

    def var(self, name: str) -> str:
        """The full variable name of a setting, as shown in errors and docs."""
        return f"{self._prefix}{name}"

    def raw(self, name: str) -> str | None:
        value = self._environ.get(self.var(name))
        if value is None or value.strip() == "":
            return None
        return value.strip()

    def text(self, name: str, default: str) -> str:
        value = self.raw(name)
        return default if value is None else value

    def optional(self, name: str) -> str | None:
        return self.raw(name)

    def required(self, name: str) -> str:
        value = self.raw(name)
        if value is None:
            raise ConfigError(self.var(name), "is required")
        return value

    def secret(self, name: str) -> str | None:
        """A value from ``NAME`` or from the file named by ``NAME_FILE`` (not both)."""
        direct = self.raw(name)
        path = self.raw(f"{name}_FILE")
        if direct is not None and path is not None:
            raise ConfigError(self.var(name), f"set either it or {self.var(name + '_FILE')}")
        if path is None:
            return direct
        try:
            return Path(path).read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as exc:
            problem = f"cannot read {path!r}: {exc.strerror}"
            raise ConfigError(self.var(f"{name}_FILE"), problem) from exc

    def integer(self, name: str, default: int, *, minimum: int | None = None) -> int:
        return self._number(name, default, int, minimum)

    def real(self, name: str, default: float, *, minimum: float | None = None) -> float:
        return self._number(name, default, float, minimum)

    def flag(self, name: str, default: bool) -> bool:
        value = self.raw(name)
        if value is None:
            return default
        lowered = value.lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise ConfigError(self.var(name), f"expected true or false, got {value!r}")

    def choice(self, name: str, default: str, choices: tuple[str, ...]) -> str:
        value = self.text(name, default)
        if value not in choices:
            expected = ", ".join(choices)
            raise ConfigError(self.var(name), f"expected one of {expected}, got {value!r}")
        return value

    def items(self, name: str, default: tuple[str, ...] = ()) -> tuple[str, ...]:
        value = self.raw(name)
        if value is None:
            return default
        return tuple(item.strip() for item in value.split(",") if item.strip())

    def networks(self, name: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        items = self.items(name)
        return tuple(self._parse(name, item, _network) for item in items)

    def _number(self, name: str, default: T, kind: Callable[[str], T], minimum: T | None) -> T:
        value = self.raw(name)
        if value is None:
            return default
        number = self._parse(name, value, kind)
        if minimum is not None and number < minimum:  # type: ignore[operator]
            raise ConfigError(self.var(name), f"must be at least {minimum}, got {value!r}")
        return number

    def _parse(self, name: str, value: str, kind: Callable[[str], T]) -> T:
        try:
            return kind(value)
        except ValueError as exc:
            raise ConfigError(self.var(name), f"invalid value {value!r}: {exc}") from exc


def _network(value: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    return ipaddress.ip_network(value, strict=False)
