"""Runs the real ingress app in-process on loopback against a real broker."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

from aiohttp import ClientResponse, web
from aiohttp.test_utils import TestClient, TestServer

from common.config import Env
from ingress.app import create_app
from ingress.settings import IngressSettings

SECRET = "wh_sandbox_test_secret_0123456789"
OLD_SECRET = "wh_sandbox_old_secret_9876543210"
P = "FEDAPAY_BRIDGE_"

Client = TestClient[web.Request, web.Application]


def environ(bootstrap: str, prefix: str, **overrides: str) -> dict[str, str]:
    base = {
        f"{P}WEBHOOKS": "sandbox,live",
        f"{P}WEBHOOK_SANDBOX_SECRETS": f"{SECRET},{OLD_SECRET}",
        f"{P}WEBHOOK_LIVE_SECRETS": "wh_live_other_secret",
        f"{P}KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        f"{P}TOPIC_PREFIX": prefix,
        f"{P}PUBLISH_TIMEOUT_SECONDS": "3",
    }
    return {**base, **{f"{P}{key}": value for key, value in overrides.items()}}


@asynccontextmanager
async def running_ingress(
    env: Mapping[str, str], *, wait_ready: bool = True
) -> AsyncIterator[Client]:
    app = create_app(IngressSettings.from_env(Env(env)))
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        if wait_ready:
            await wait_until_ready(client)
        yield client


async def wait_until_ready(client: Client, within: float = 30.0) -> None:
    async with asyncio.timeout(within):
        while True:
            response = await client.get("/readyz")
            if response.status == 200:
                return
            await asyncio.sleep(0.1)


async def error_of(response: ClientResponse) -> dict[str, str]:
    document: dict[str, str] = await response.json()
    return document
