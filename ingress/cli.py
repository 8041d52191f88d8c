"""``fedapay-bridge ingress``: run the HTTP ingress."""

from __future__ import annotations

import argparse
import asyncio
import logging
from collections.abc import Mapping

from common import kafka_access, logs
from common.config import Env
from ingress import server
from ingress.app import create_app
from ingress.settings import IngressSettings

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "ingress", help="run the webhook ingress (settings from FEDAPAY_BRIDGE_* variables)"
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    settings = IngressSettings.from_env(Env(environ))
    logs.configure(settings.log_level, settings.log_format)
    loop = _new_loop(settings.uvloop)
    log.info(
        "ingress starting",
        extra={
            "host": settings.host,
            "port": settings.port,
            "endpoints": sorted(settings.endpoints),
            "raw_topic": settings.topics.raw,
            "kafka": settings.kafka.bootstrap_servers,
        },
    )
    try:
        loop.run_until_complete(kafka_access.check_access(settings.kafka))
    except BaseException:
        loop.close()
        raise
    server.run(create_app(settings), settings, loop)
    return 0


def _new_loop(use_uvloop: bool) -> asyncio.AbstractEventLoop:
    if use_uvloop:
        import uvloop  # optional extra; imported only when asked for

        loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
        return loop
    return asyncio.new_event_loop()
