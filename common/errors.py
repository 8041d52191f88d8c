"""The root of every exception the bridge raises on purpose.

Each process maps these in exactly one place: the ingress to HTTP answers
(`ingress.http.errors`), the workers to DLQ records, the CLI to exit codes.
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
