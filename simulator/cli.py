"""``fedapay-bridge simulate``: post realistic, signed FedaPay webhook traffic.

Generates a seeded scenario (:mod:`simulator.lifecycle`), plans duplicates and
reordering (:mod:`simulator.delivery`), then either posts it to a loopback
ingress or, with ``--dump DIR``, writes the bodies as files. Exit status: 0 when
every delivery got a 2xx (or the dump was written), 1 when some failed, 2 on a
usage error.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import orjson

from common.config import Env
from simulator.delivery import (
    DEFAULT_URL,
    DeliveryPlan,
    DeliveryReport,
    RetryPolicy,
    check_target,
    deliver,
    plan,
)
from simulator.lifecycle import Scenario, generate

USAGE_ERROR = 2
#: Setting read when neither ``--secret`` nor ``--secret-file`` is given (or its ``_FILE``).
SECRET_SETTING = "SIMULATOR_SECRET"  # noqa: S105 (a variable name)
_ENV = Env({})


def register(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
) -> argparse.ArgumentParser:
    """Add the ``simulate`` subcommand; its handler :func:`run` is set as ``run``."""
    parser = subparsers.add_parser(
        "simulate",
        help="post signed, realistic FedaPay webhook traffic to a local ingress",
        description=(
            "Generate seeded FedaPay transaction and customer lifecycles, then post them "
            "signed to a loopback webhook URL with duplicates, reordering and FedaPay-like "
            "retries (or write the bodies to a directory with --dump). Exit status: 0 when "
            "every delivery got a 2xx, 1 when some did not, 2 on a usage error."
        ),
    )
    _target_options(parser)
    _scenario_options(parser)
    _delivery_options(parser)
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument(
        "--dump", type=Path, metavar="DIR", help="write the bodies to DIR instead of posting"
    )
    parser.set_defaults(run=run)
    return parser


def _target_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--url", default=DEFAULT_URL, help="webhook URL, loopback only (default: %(default)s)"
    )
    parser.add_argument(
        "--allow-remote",
        action="store_true",
        help="allow a non-loopback URL (only for a smoke test inside a cluster, e.g. helm test)",
    )
    secret = parser.add_mutually_exclusive_group()
    secret.add_argument("--secret", help="the endpoint's webhook secret (prefer --secret-file)")
    secret.add_argument(
        "--secret-file",
        type=Path,
        help=f"file holding the webhook secret (default: {_ENV.var(SECRET_SETTING)}[_FILE])",
    )


def _scenario_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--transactions",
        type=_count,
        default=100,
        help="transaction lifecycles (default: %(default)s)",
    )
    parser.add_argument(
        "--customers", type=_count, default=10, help="customers with events (default: %(default)s)"
    )
    parser.add_argument(
        "--illegal",
        type=_fraction,
        default=0.0,
        help="fraction of transactions given one illegal transition (default: 0)",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=1,
        help="random seed: same seed, same bodies (default: %(default)s)",
    )
    parser.add_argument(
        "--reserved-ids",
        action="store_true",
        help=(
            "take every transaction, customer and refund id from the range reserved for test "
            "traffic, [900000000000, 901000000000) (what `helm test` sends)"
        ),
    )
    parser.add_argument(
        "--start-ms",
        type=int,
        default=None,
        help="FedaPay clock at the first event, Unix ms (default: now)",
    )


def _delivery_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--duplicates",
        type=_fraction,
        default=0.0,
        help="fraction of events delivered 2+ times (default: 0)",
    )
    order = parser.add_mutually_exclusive_group()
    order.add_argument("--shuffle", action="store_true", help="deliver in random order")
    order.add_argument(
        "--reorder-window", type=_count, default=0, help="move each delivery by fewer than N places"
    )
    parser.add_argument(
        "--concurrency", type=_positive, default=16, help="parallel requests (default: %(default)s)"
    )
    parser.add_argument(
        "--rate",
        type=_positive_float,
        default=None,
        help="cap on requests per second (default: none)",
    )
    parser.add_argument(
        "--max-retries", type=_count, default=9, help="retries per delivery (default: %(default)s)"
    )
    parser.add_argument(
        "--backoff",
        type=_positive_float,
        default=0.2,
        help="first retry delay in s, doubling (default: %(default)s)",
    )
    parser.add_argument(
        "--timeout",
        type=_positive_float,
        default=10.0,
        help="timeout of one attempt in s (default: %(default)s)",
    )
    parser.add_argument(
        "--deadline",
        type=_positive_float,
        default=600.0,
        help="stop retrying after this many s (default: %(default)s)",
    )


def run(args: argparse.Namespace, environ: Mapping[str, str] | None = None) -> int:
    """Run ``simulate`` with parsed ``args``; returns the exit status.

    ``environ`` (``os.environ`` from the entry point) is only consulted for
    ``FEDAPAY_BRIDGE_SIMULATOR_SECRET`` or ``…_SECRET_FILE`` when no secret
    option is given; a bad one raises :class:`common.errors.ConfigError`.
    """
    secret: str | None = None
    try:
        if args.dump is None:
            check_target(args.url, allow_remote=args.allow_remote)
            secret = _secret(args, Env(environ or {}))
            if secret is None:
                return USAGE_ERROR
        scenario, deliveries = _prepare(args)
    except ValueError as exc:  # a non-loopback URL, a limit exceeded
        print(f"simulate: {exc}", file=sys.stderr)  # noqa: T201
        return USAGE_ERROR
    if secret is None:
        return _dump(args, scenario, deliveries)
    report = asyncio.run(_post(args, secret, deliveries))
    _print_result(args, scenario, deliveries, report)
    return 0 if report.ok else 1


def _prepare(args: argparse.Namespace) -> tuple[Scenario, DeliveryPlan]:
    start_ms = args.start_ms if args.start_ms is not None else int(time.time() * 1000)
    scenario = generate(
        args.transactions,
        args.customers,
        seed=args.seed,
        illegal=args.illegal,
        start_ms=start_ms,
        reserved_ids=args.reserved_ids,
    )
    deliveries = plan(
        scenario.events,
        duplicates=args.duplicates,
        shuffle=args.shuffle,
        reorder_window=args.reorder_window,
        seed=args.seed,
    )
    return scenario, deliveries


async def _post(args: argparse.Namespace, secret: str, deliveries: DeliveryPlan) -> DeliveryReport:
    return await deliver(
        deliveries,
        args.url,
        secret,
        concurrency=args.concurrency,
        rate=args.rate,
        retry=RetryPolicy(max_retries=args.max_retries, backoff=args.backoff),
        attempt_timeout=args.timeout,
        deadline=args.deadline,
        allow_remote=args.allow_remote,
    )


def _secret(args: argparse.Namespace, env: Env) -> str | None:
    if args.secret:
        return str(args.secret)
    if args.secret_file is None:
        secret = env.secret(SECRET_SETTING)
        if secret:
            return secret
        print(  # noqa: T201
            f"simulate: --secret, --secret-file or {env.var(SECRET_SETTING)} is required to post",
            file=sys.stderr,
        )
        return None
    try:
        lines = Path(args.secret_file).read_text(encoding="utf-8").splitlines()
        secret = next((line.strip() for line in lines if line.strip()), "")  # newest first
    except OSError as exc:
        print(f"simulate: cannot read the secret file: {exc.strerror}", file=sys.stderr)  # noqa: T201
        return None
    if not secret:
        print("simulate: the secret file is empty", file=sys.stderr)  # noqa: T201
        return None
    return secret


def _dump(args: argparse.Namespace, scenario: Scenario, deliveries: DeliveryPlan) -> int:
    directory = Path(args.dump)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        for index, delivery in enumerate(deliveries.deliveries):
            path = directory / f"{index:06d}-{delivery.event.name}.json"
            path.write_bytes(delivery.event.body)
        truth = {
            **_scenario_summary(scenario, deliveries),
            "final_status": dict(scenario.truth.final_status),
            "illegal_per_transaction": dict(scenario.truth.illegal_per_transaction),
        }
        (directory / "truth.json").write_bytes(orjson.dumps(truth, option=orjson.OPT_INDENT_2))
    except OSError as exc:
        print(f"simulate: cannot write to {directory}: {exc.strerror}", file=sys.stderr)  # noqa: T201
        return USAGE_ERROR
    if args.json:
        print(orjson.dumps(_scenario_summary(scenario, deliveries)).decode())  # noqa: T201
    else:
        print(_describe_scenario(scenario, deliveries))  # noqa: T201
        print(f"wrote {len(deliveries)} bodies and truth.json to {directory}")  # noqa: T201
    return 0


def _scenario_summary(scenario: Scenario, deliveries: DeliveryPlan) -> dict[str, Any]:
    return {
        "seed": scenario.seed,
        **scenario.truth.to_dict(),
        "deliveries": len(deliveries),
        "duplicated_events": deliveries.duplicated_events,
        "extra_copies": deliveries.extra_copies,
    }


def _print_result(
    args: argparse.Namespace, scenario: Scenario, deliveries: DeliveryPlan, report: DeliveryReport
) -> None:
    if args.json:
        document = {
            "scenario": _scenario_summary(scenario, deliveries),
            "delivery": report.to_dict(),
        }
        print(orjson.dumps(document).decode())  # noqa: T201
        return
    print(_describe_scenario(scenario, deliveries))  # noqa: T201
    print(_describe_report(args.url, report))  # noqa: T201


def _describe_scenario(scenario: Scenario, deliveries: DeliveryPlan) -> str:
    truth = scenario.truth
    return (
        f"scenario (seed {scenario.seed}): {len(truth.final_status)} transactions, "
        f"{truth.distinct_events} distinct events, {truth.illegal_total} illegal transitions; "
        f"{len(deliveries)} deliveries ({deliveries.extra_copies} duplicates)"
    )


def _describe_report(url: str, report: DeliveryReport) -> str:
    codes = ", ".join(f"{code}x{n}" for code, n in sorted(report.by_status.items())) or "none"
    errors = ", ".join(f"{name}x{n}" for name, n in sorted(report.errors.items()))
    lines = [
        f"posted to {url}: {report.sent}/{report.deliveries} delivered, {report.failures} failed, "
        f"{report.attempts} attempts in {report.elapsed:.2f} s ({report.throughput:.0f}/s)",
        f"status codes: {codes}" + (f"; connection errors: {errors}" if errors else ""),
    ]
    p50, p99 = report.percentile(50), report.percentile(99)
    if p50 is not None and p99 is not None:
        lines.append(f"latency: p50 {p50 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms")
    return "\n".join(lines)


def _count(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def _fraction(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {text}")
    return value
