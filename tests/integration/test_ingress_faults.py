"""The ingress while its broker goes away and comes back (a broker of the test's own).

A 2xx is sent only for a record the broker acknowledged; while the broker is
down the answer is 503 with Retry-After; once it is back, FedaPay's retry of
the same delivery succeeds and the record is in ``fedapay.raw``.
"""

from __future__ import annotations

import asyncio

import pytest

from ingress.signature import sign
from tests.fixtures import fixture_bytes
from tests.integration.ingress_harness import (
    SECRET,
    Client,
    environ,
    error_of,
    running_ingress,
)
from tests.kafka_broker import LocalBroker
from tests.kafka_io import consume_all, create_topics

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

BODY = fixture_bytes("transaction.approved.json")
URL = "/webhooks/sandbox"


def _body(entity_id: int) -> bytes:
    return BODY.replace(b'"id":235879', b'"id":%d' % entity_id)


async def _post(client: Client, body: bytes) -> int:
    response = await client.post(
        URL, data=body, headers={"X-FEDAPAY-SIGNATURE": sign(body, SECRET)}
    )
    if response.status == 503:
        assert response.headers["Retry-After"] == "2"
        assert await error_of(response) == {"error": "broker_unavailable"}
    return response.status


async def _retry_until_accepted(client: Client, body: bytes, within: float) -> int:
    """Post like FedaPay retries: until a 2xx. Returns the number of attempts."""
    async with asyncio.timeout(within):
        attempts = 1
        while await _post(client, body) != 200:
            attempts += 1
            await asyncio.sleep(0.5)
    return attempts


@pytest.mark.asyncio
async def test_broker_down_gives_503_then_recovers(
    own_broker: LocalBroker, topic_prefix: str
) -> None:
    bootstrap = own_broker.bootstrap
    raw = f"{topic_prefix}.raw"
    await create_topics(bootstrap, [raw, f"{topic_prefix}.dlq"])
    env = environ(bootstrap, topic_prefix, PUBLISH_TIMEOUT_SECONDS="2", RETRY_AFTER_SECONDS="2")
    async with running_ingress(env) as client:
        assert await _post(client, _body(1)) == 200

        await asyncio.to_thread(own_broker.stop)
        refused = _body(2)
        assert await _post(client, refused) == 503
        assert (await client.get("/readyz")).status == 503

        await asyncio.to_thread(own_broker.start)
        attempts = await _retry_until_accepted(client, refused, within=90)
        assert (await client.get("/readyz")).status == 200

    records = await consume_all(bootstrap, raw, expect=2, timeout=30)
    values = [record.value for record in records]
    assert _body(1) in values, "the record acknowledged before the outage survived the restart"
    assert refused in values, f"the retried delivery landed (after {attempts} attempts)"
    assert set(values) <= {_body(1), refused}
