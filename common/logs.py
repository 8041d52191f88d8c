"""Logging setup for every process: one line per record, JSON by default.

Fields passed with ``extra=`` are added to the JSON object. Code never passes
secrets or bodies; this formatter adds nothing from requests by itself.

Noisy loggers are tamed here, with one mechanism (:class:`RepeatFilter`): repeats
of one message of aiokafka (a connection error many thousand times a second while
a broker is down), of aiohttp's server (one ERROR per undecodable body it drains,
e.g. bad gzip sent to any path) and of the ingress's refusals (``ingress.refused.*``,
one logger per refusal code; anyone on the internet can make them) are let through
once per interval, with a count of what was held back. aiohttp's server logs a
malformed request with a traceback that quotes the request's bytes, so those
records lose their traceback.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Any, Final

import orjson

from common.settings import Chart, Choice, Setting

LOG_LEVEL: Final = Setting(
    "LOG_LEVEL",
    Choice(("DEBUG", "INFO", "WARNING", "ERROR")),
    "log level",
    lambda: "INFO",
    chart=Chart("log.level", "Every process's."),
)
LOG_FORMAT: Final = Setting(
    "LOG_FORMAT",
    Choice(("json", "text")),
    "log format: `json` (one object per line) or `text`",
    lambda: "json",
    chart=Chart("log.format"),
)

_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        document: dict[str, Any] = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                document[key] = value
        if record.exc_info:
            document["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(document, default=str).decode()


#: Loggers whose repeats pass once per interval (see the module's docstring).
THROTTLED = ("aiokafka", "aiohttp.server", "ingress.refused")


class RepeatFilter(logging.Filter):
    """Lets each (logger, message template) of the loggers under ``prefix`` (one name or a
    tuple of names) through at most once per ``interval`` seconds; records of other loggers
    pass untouched. The table holds one entry per (logger, template): both come from code,
    never from requests, so it stays small."""

    def __init__(
        self, prefix: str | tuple[str, ...], interval: float = 10.0, clock: Any = time.monotonic
    ) -> None:
        super().__init__()
        self._prefix = prefix
        self._interval = interval
        self._clock = clock
        self._seen: dict[tuple[str, object], tuple[float, int]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith(self._prefix):
            return True
        key = (record.name, record.msg)
        now = self._clock()
        last, held = self._seen.get(key, (float("-inf"), 0))
        if now - last < self._interval:
            self._seen[key] = (last, held + 1)
            return False
        self._seen[key] = (now, 0)
        if held:
            record.repeats_suppressed = held
        return True


class DropTraceback(logging.Filter):
    """Keeps the message, drops the traceback (it may quote request bytes)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.exc_info = None
        record.exc_text = None
        return True


def configure(level: str = "INFO", fmt: str = "json") -> None:
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        formatter: logging.Formatter = JsonFormatter()
        formatter.converter = time.gmtime
    else:
        formatter = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    handler.setFormatter(formatter)
    handler.addFilter(RepeatFilter(THROTTLED))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    logging.getLogger("aiohttp.server").addFilter(DropTraceback())
