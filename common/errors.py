"""The root of every exception the bridge raises on purpose.

Each process maps these in exactly one place: the ingress to HTTP answers
(``ingress.middleware``), the workers' query API to HTTP answers (``streams.web``),
the CLI to exit codes (``common.cli``).
"""

from __future__ import annotations


class BridgeError(Exception):
    """Base class of all the bridge's own errors."""


class ConfigError(BridgeError):
    """A setting is missing or invalid. The message names the setting."""

    def __init__(self, setting: str, problem: str) -> None:
        super().__init__(f"{setting}: {problem}")
        self.setting = setting
        self.problem = problem
