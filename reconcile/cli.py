"""``fedapay-bridge reconcile``, ``fedapay-bridge dlq redrive`` and ``fedapay-bridge replay``.

Exit codes (the one place errors become them): 0 done; 2 a setting or option is wrong;
3 FedaPay refused the API key (401/403); 4 FedaPay's API stayed unavailable (429/5xx/no
answer after every attempt); 5 another failure (an answer not in FedaPay's documented shape,
a topic that cannot be read). A failed pass never advances the checkpoint.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Callable, Mapping
from typing import Final, TextIO

import orjson

from common import logs
from common.config import Env
from common.errors import ConfigError
from reconcile import errors, run
from reconcile.redrive import redrive
from reconcile.replay import ReplayOptions, run_replay
from reconcile.settings import ReconcileSettings, ToolSettings
from reconcile.window import WindowError, parse_time

log = logging.getLogger(__name__)

#: Exit code of each error, most specific first.
EXIT_CODES: Final[tuple[tuple[type[errors.ReconcileError], int], ...]] = (
    (errors.ApiAuthError, 3),
    (errors.ApiUnavailable, 4),
    (errors.ReconcileError, 5),
)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "reconcile", help="one pass: republish what FedaPay's API recorded and webhooks missed"
    )
    parser.add_argument("--endpoint", required=True, help="webhook endpoint name, e.g. live")
    parser.add_argument("--since", help="ISO 8601 (default: the checkpoint minus the overlap)")
    parser.add_argument("--until", help="ISO 8601 (default: now)")
    parser.add_argument(
        "--no-drift", action="store_true", help="skip the status drift check of this pass"
    )
    parser.set_defaults(run=run_reconcile)

    dlq = subparsers.add_parser("dlq", help="dead-letter topic tools")
    actions = dlq.add_subparsers(dest="dlq_command", required=True)
    again = actions.add_parser("redrive", help="put DLQ records back on the raw topic")
    again.add_argument("--error", help="only records with this fedapay-error code")
    again.add_argument("--dry-run", action="store_true", help="count, write nothing")
    again.set_defaults(run=run_redrive)

    replay = subparsers.add_parser(
        "replay", help="re-derive outputs of a time range of the raw topic into another prefix"
    )
    replay.add_argument("--from", dest="start", required=True, help="ISO 8601")
    replay.add_argument("--to", dest="end", required=True, help="ISO 8601")
    replay.add_argument("--endpoint", help="only records of this endpoint")
    replay.add_argument("--transaction", help="only records of this transaction id")
    replay.add_argument("--to-prefix", required=True, help="topic prefix of the outputs")
    replay.add_argument(
        "--dedup-window-seconds", type=int, default=259_200, help="default 259200 (72 h)"
    )
    replay.add_argument("--quiet", action="store_true", help="no progress bar")
    replay.set_defaults(run=run_replay_command)


def _exit_code(exc: errors.ReconcileError) -> int:
    return next(code for kind, code in EXIT_CODES if isinstance(exc, kind))


def _guarded(action: Callable[[], int]) -> int:
    try:
        return action()
    except WindowError as exc:
        sys.stderr.write(f"fedapay-bridge: {exc}\n")
        return 2
    except errors.ReconcileError as exc:
        sys.stderr.write(f"fedapay-bridge: {exc}\n")
        return _exit_code(exc)


def _configure(settings: ReconcileSettings | ToolSettings) -> None:
    logs.configure(settings.log_level, settings.log_format)


def _print(document: Mapping[str, object]) -> None:
    sys.stdout.write(orjson.dumps(document).decode() + "\n")


def run_reconcile(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    env = Env(environ)
    settings = ReconcileSettings.from_env(env, args.endpoint)
    _configure(settings)

    def action() -> int:
        options = run.Options(
            since_ms=None if args.since is None else parse_time(args.since),
            until_ms=None if args.until is None else parse_time(args.until),
            drift=not args.no_drift,
        )
        _print(asyncio.run(run.reconcile(settings, options)).as_dict())
        return 0

    return _guarded(action)


def run_redrive(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    env = Env(environ)
    settings = ToolSettings.from_env(env)
    _configure(settings)

    def action() -> int:
        summary = asyncio.run(
            redrive(settings.kafka, settings.topics, error=args.error, dry_run=args.dry_run)
        )
        _print(summary.as_dict())
        return 0

    return _guarded(action)


def run_replay_command(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    env = Env(environ)
    settings = ToolSettings.from_env(env)
    _configure(settings)
    if args.dedup_window_seconds < 1:
        raise ConfigError("--dedup-window-seconds", "must be at least 1")

    def action() -> int:
        options = ReplayOptions(
            from_ms=parse_time(args.start),
            to_ms=parse_time(args.end),
            to_prefix=args.to_prefix,
            endpoint=args.endpoint,
            transaction=args.transaction,
            dedup_window_seconds=args.dedup_window_seconds,
            replication_factor=env.integer("TOPIC_REPLICATION_FACTOR", 1, minimum=1),
        )
        bar = None if args.quiet else ProgressBar(sys.stderr)
        summary = asyncio.run(run_replay(settings.kafka, settings.topics, options, bar))
        if bar is not None:
            bar.close()
        _print(summary.as_dict())
        return 0

    return _guarded(action)


class ProgressBar:
    """``[#####.....]  50%  1200/2400 raw records`` redrawn in place."""

    WIDTH: Final = 30

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._drawn = False

    def __call__(self, done: int, total: int) -> None:
        self._stream.write("\r" + render(done, total, self.WIDTH))
        self._stream.flush()
        self._drawn = True

    def close(self) -> None:
        if self._drawn:
            self._stream.write("\n")


def render(done: int, total: int, width: int) -> str:
    """One frame of the progress bar. Pure."""
    fraction = 1.0 if total <= 0 else min(1.0, done / total)
    filled = int(fraction * width)
    return f"[{'#' * filled}{'.' * (width - filled)}] {fraction:4.0%} {done}/{total} raw records"
