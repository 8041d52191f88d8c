"""``fedapay-bridge``: the one command line of the bridge.

This is the only module that reads ``os.environ``; it hands the mapping to the
settings loader of the subcommand it runs. Configuration errors end the
process with exit code 2 and a message naming the setting.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Sequence

from common.errors import ConfigError

#: Packages that add subcommands, each through ``<package>.cli.register``.
_COMMAND_MODULES = (
    "ingress.cli",
    "streams.cli",
    "reconcile.cli",
    "simulator.cli",
    "common.peek",
)

log = logging.getLogger("fedapay_bridge")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fedapay-bridge", description="FedaPay webhooks to reliable Kafka streams."
    )
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name in _COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:  # a package not present in this install
            if exc.name != name:
                raise
            continue
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args, os.environ))
    except ConfigError as exc:
        sys.stderr.write(f"fedapay-bridge: configuration error: {exc}\n")
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
