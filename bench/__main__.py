"""``python -m bench [ingress|stream|e2e|report|all]``: run the benchmarks, write results."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from bench import e2e_bench, ingress_bench, profile, report, stream_bench


def run_all(args: argparse.Namespace) -> None:
    ingress_bench.run(ingress_bench.options_from(args))
    stream_args = argparse.Namespace(
        bootstrap=args.bootstrap, no_pin=args.no_pin, events=args.events, duplicates=0.2,
        partitions=6, rounds=args.stream_rounds, commit_interval=2.8,
        contenders=",".join((*stream_bench.CONTENDERS, "ours-batch1", "faust-floor")),
    )  # fmt: skip
    stream_bench.run(stream_bench.options_from(stream_args))
    e2e_args = argparse.Namespace(
        bootstrap=args.bootstrap, rates="200,1000", seconds=args.e2e_seconds,
        guarantees="at_least_once,exactly_once", commit_interval=2.8, partitions=6,
        exactly_once_commit_intervals="0.5",
    )  # fmt: skip
    e2e_bench.run(e2e_bench.options_from(e2e_args))
    print(report.write())


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--bootstrap", default="127.0.0.1:9092", help="loopback broker")
    parser.add_argument("--no-pin", action="store_true", help="do not pin with taskset")
    sub = parser.add_subparsers(dest="command", required=True)
    ingress = sub.add_parser("ingress", help="ingress vs baseline, default loop vs uvloop")
    ingress_bench.add_arguments(ingress)
    ingress.add_argument("--name", default="ingress", help="result name (bench/results/NAME.json)")
    stream = sub.add_parser("stream", help="worker vs plain consumer vs Quix Streams")
    stream_bench.add_arguments(stream)
    stream.add_argument("--name", default="stream", help="result name")
    e2e = sub.add_parser("e2e", help="ingress receipt to per-type record latency at fixed rates")
    e2e_bench.add_arguments(e2e)
    e2e.add_argument("--name", default="e2e", help="result name")
    sub.add_parser("report", help="write the PNG and the figures of bench/README.md")
    everything = sub.add_parser("all", help="ingress, stream, e2e, then report")
    ingress_bench.add_arguments(everything)
    everything.add_argument("--events", type=int, default=20_000)
    everything.add_argument("--stream-rounds", type=int, default=1)
    everything.add_argument("--e2e-seconds", type=float, default=15.0)
    prof = sub.add_parser("profile", help="py-spy profile of the ingress under load")
    profile.add_arguments(prof)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    logging.getLogger("aiokafka").setLevel(logging.WARNING)
    if args.command == "ingress":
        ingress_bench.run(ingress_bench.options_from(args), args.name)
    elif args.command == "stream":
        stream_bench.run(stream_bench.options_from(args), args.name)
    elif args.command == "e2e":
        e2e_bench.run(e2e_bench.options_from(args), args.name)
    elif args.command == "report":
        print(report.write())
    elif args.command == "all":
        run_all(args)
    elif args.command == "profile":
        profile.run(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
