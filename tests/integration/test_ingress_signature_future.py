"""The ingress refuses a signature dated more than SIGNATURE_MAX_FUTURE_SECONDS ahead (401
timestamp_out_of_tolerance), and accepts one a little ahead (clock skew)."""

from __future__ import annotations

import time

import pytest

from ingress.signature import sign
from tests.fixtures import fixture_bytes
from tests.integration.ingress_harness import (
    SECRET,
    environ,
    error_of,
    running_ingress,
    wait_until_ready,
)

pytestmark = [pytest.mark.kafka, pytest.mark.asyncio]

BODY = fixture_bytes("transaction.approved.json")
URL = "/webhooks/sandbox"


async def test_far_future_signature_is_401_and_near_future_passes(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    async with running_ingress(environ(kafka_bootstrap, topic_prefix)) as client:
        await wait_until_ready(client)
        ahead = sign(BODY, SECRET, timestamp=int(time.time()) + 3600)
        response = await client.post(URL, data=BODY, headers={"X-FEDAPAY-SIGNATURE": ahead})
        assert response.status == 401
        assert await error_of(response) == {
            "error": "invalid_signature",
            "reason": "timestamp_out_of_tolerance",
        }
        skewed = sign(BODY, SECRET, timestamp=int(time.time()) + 30)
        response = await client.post(URL, data=BODY, headers={"X-FEDAPAY-SIGNATURE": skewed})
        assert response.status == 200, await response.text()
