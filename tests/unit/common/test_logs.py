"""Log lines: JSON with extras, aiokafka repeats held back, aiohttp tracebacks dropped."""

from __future__ import annotations

import logging
import sys

import orjson

from common.logs import DropTraceback, JsonFormatter, RepeatFilter


def _record(name: str, msg: str, *args: object) -> logging.LogRecord:
    return logging.LogRecord(name, logging.ERROR, __file__, 1, msg, args, None)


def test_json_line_carries_extras() -> None:
    record = _record("ingress", "publish failed")
    record.topic = "fedapay.raw"
    line = orjson.loads(JsonFormatter().format(record))
    assert line["msg"] == "publish failed"
    assert line["topic"] == "fedapay.raw"
    assert line["level"] == "ERROR"


def test_repeats_of_one_message_pass_once_per_interval() -> None:
    now = [0.0]
    repeats = RepeatFilter("aiokafka", interval=10.0, clock=lambda: now[0])
    template = "Unable connect to node with id %s: %s"
    passed = [repeats.filter(_record("aiokafka", template, 1, i)) for i in range(1000)]
    assert passed.count(True) == 1
    now[0] = 10.0
    again = _record("aiokafka", template, 1, "x")
    assert repeats.filter(again)
    assert again.__dict__["repeats_suppressed"] == 999


def test_other_loggers_and_messages_are_untouched() -> None:
    repeats = RepeatFilter("aiokafka", clock=lambda: 0.0)
    assert all(repeats.filter(_record("ingress.publisher", "publish failed")) for _ in range(5))
    assert repeats.filter(_record("aiokafka", "first"))
    assert repeats.filter(_record("aiokafka", "second"))


def test_traceback_is_dropped() -> None:
    try:
        raise ValueError("b'\\x00secret-ish bytes'")
    except ValueError:
        info = sys.exc_info()
    record = logging.LogRecord("aiohttp.server", logging.ERROR, __file__, 1, "Error", (), info)
    assert DropTraceback().filter(record)
    assert "exc" not in orjson.loads(JsonFormatter().format(record))
