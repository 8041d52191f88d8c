"""The ingress against the real broker: every answer of the contract, each its own test."""

from __future__ import annotations

import asyncio
import json
import socket
import time

import orjson
import pytest
from multidict import CIMultiDict

from ingress.signature import sign
from schemas import headers
from schemas.topics import Topics
from simulator.delivery import deliver, plan
from simulator.lifecycle import generate
from tests.fixtures import fixture_bytes
from tests.integration.ingress_harness import (
    OLD_SECRET,
    SECRET,
    environ,
    error_of,
    running_ingress,
)
from tests.kafka_io import consume_all, create_topics

pytestmark = [pytest.mark.kafka, pytest.mark.asyncio]

BODY = fixture_bytes("transaction.approved.json")
URL = "/webhooks/sandbox"


def signed(body: bytes, secret: str = SECRET, **extra: str) -> dict[str, str]:
    return {"X-FEDAPAY-SIGNATURE": sign(body, secret), "Content-Type": "application/json", **extra}


async def _topics(bootstrap: str, prefix: str) -> Topics:
    topics = Topics(prefix)
    await create_topics(bootstrap, [topics.raw, topics.dlq])
    return topics


async def _assert_nothing_published(bootstrap: str, topics: Topics) -> None:
    assert await consume_all(bootstrap, topics.raw, expect=1, timeout=1.5) == []
    assert await consume_all(bootstrap, topics.dlq, expect=1, timeout=0.5) == []


async def test_signed_webhook_lands_in_raw_byte_for_byte(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    topics = await _topics(kafka_bootstrap, topic_prefix)
    before_ms = time.time_ns() // 1_000_000
    async with running_ingress(environ(kafka_bootstrap, topic_prefix)) as client:
        response = await client.post(URL, data=BODY, headers=signed(BODY))
        assert response.status == 200
        assert await response.json() == {"status": "accepted"}
    [record] = await consume_all(kafka_bootstrap, topics.raw, expect=1, timeout=20)
    assert record.value == BODY
    assert record.key == b"transaction:235879"
    found = headers.decode(record.headers)
    assert found["fedapay-event"] == "transaction.approved"
    assert found["fedapay-endpoint"] == "sandbox"
    assert found["fedapay-dedup-key"] == (
        "transaction.approved:transaction:235879:2024-02-19T11:48:10.408Z"
    )
    assert abs(int(found["fedapay-signature-t"]) - time.time()) < 60
    assert before_ms <= int(found["fedapay-received-at-ms"]) <= time.time_ns() // 1_000_000


async def test_rotated_secret_and_lowercase_header_name(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    topics = await _topics(kafka_bootstrap, topic_prefix)
    async with running_ingress(environ(kafka_bootstrap, topic_prefix)) as client:
        response = await client.post(
            URL, data=BODY, headers={"x-fedapay-signature": sign(BODY, OLD_SECRET)}
        )
        assert response.status == 200
    assert len(await consume_all(kafka_bootstrap, topics.raw, expect=1, timeout=20)) == 1


async def test_reserialized_fixture_is_refused(kafka_bootstrap: str, topic_prefix: str) -> None:
    topics = await _topics(kafka_bootstrap, topic_prefix)
    reserialized = json.dumps(json.loads(BODY), separators=(",", ":")).encode()
    assert reserialized != BODY
    async with running_ingress(environ(kafka_bootstrap, topic_prefix)) as client:
        header = sign(BODY, SECRET)  # signed over the raw bytes FedaPay sent
        response = await client.post(
            URL, data=reserialized, headers={"X-FEDAPAY-SIGNATURE": header}
        )
        assert response.status == 401
        assert await error_of(response) == {
            "error": "invalid_signature",
            "reason": "signature_mismatch",
        }
    await _assert_nothing_published(kafka_bootstrap, topics)


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        pytest.param(None, "missing_header", id="missing"),
        pytest.param("s=abc", "malformed_header", id="no-timestamp"),
        pytest.param(f"t={int(time.time())}", "no_signature", id="no-s"),
        pytest.param(
            sign(BODY, SECRET, timestamp=int(time.time()) - 3600),
            "timestamp_out_of_tolerance",
            id="replayed-old",
        ),
        pytest.param(sign(BODY, "wh_wrong"), "signature_mismatch", id="wrong-secret"),
    ],
)
async def test_bad_signature_is_401_with_reason(
    kafka_bootstrap: str, topic_prefix: str, header: str | None, reason: str
) -> None:
    topics = await _topics(kafka_bootstrap, topic_prefix)
    sent = {} if header is None else {"X-FEDAPAY-SIGNATURE": header}
    async with running_ingress(environ(kafka_bootstrap, topic_prefix)) as client:
        response = await client.post(URL, data=BODY, headers=sent)
        assert response.status == 401
        assert await error_of(response) == {"error": "invalid_signature", "reason": reason}
        metrics = await (await client.get("/metrics")).text()
    assert f'fedapay_ingress_signature_failures_total{{reason="{reason}"}} 1.0' in metrics
    await _assert_nothing_published(kafka_bootstrap, topics)


async def test_secret_of_another_endpoint_is_401(kafka_bootstrap: str, topic_prefix: str) -> None:
    async with running_ingress(environ(kafka_bootstrap, topic_prefix)) as client:
        response = await client.post("/webhooks/live", data=BODY, headers=signed(BODY))
        assert response.status == 401


async def test_unknown_endpoint_is_404(kafka_bootstrap: str, topic_prefix: str) -> None:
    async with running_ingress(environ(kafka_bootstrap, topic_prefix)) as client:
        response = await client.post("/webhooks/staging", data=BODY, headers=signed(BODY))
        assert response.status == 404
        assert await error_of(response) == {"error": "unknown_endpoint"}
        response = await client.get("/nowhere")
        assert response.status == 404
        assert await error_of(response) == {"error": "not_found"}


async def test_source_outside_allow_list_is_403(kafka_bootstrap: str, topic_prefix: str) -> None:
    env = environ(kafka_bootstrap, topic_prefix, ALLOWED_CIDRS="203.0.113.0/24")
    async with running_ingress(env) as client:
        response = await client.post(URL, data=BODY, headers=signed(BODY))
        assert response.status == 403
        assert await error_of(response) == {"error": "forbidden_source"}


async def test_forwarded_for_believed_only_from_trusted_proxy(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    await _topics(kafka_bootstrap, topic_prefix)
    allowed = {"ALLOWED_CIDRS": "203.0.113.0/24"}
    forwarded = {"X-Forwarded-For": "203.0.113.9"}
    async with running_ingress(environ(kafka_bootstrap, topic_prefix, **allowed)) as client:
        response = await client.post(URL, data=BODY, headers=signed(BODY, **forwarded))
        assert response.status == 403, "X-Forwarded-For from an untrusted peer is ignored"
    trusted = {**allowed, "TRUSTED_PROXIES": "127.0.0.0/8"}
    async with running_ingress(environ(kafka_bootstrap, topic_prefix, **trusted)) as client:
        response = await client.post(URL, data=BODY, headers=signed(BODY, **forwarded))
        assert response.status == 200


async def test_forwarded_for_reads_every_header_line_in_order(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    """A proxy that appends its own X-Forwarded-For line: the client's line is forgeable."""
    await _topics(kafka_bootstrap, topic_prefix)
    env = environ(
        kafka_bootstrap, topic_prefix, ALLOWED_CIDRS="203.0.113.0/24", TRUSTED_PROXIES="127.0.0.0/8"
    )
    forged_then_appended = CIMultiDict(signed(BODY))
    forged_then_appended.add("X-Forwarded-For", "203.0.113.9")  # sent by the client
    forged_then_appended.add("X-Forwarded-For", "198.51.100.1")  # appended by the proxy
    async with running_ingress(env) as client:
        response = await client.post(URL, data=BODY, headers=forged_then_appended)
        assert response.status == 403
        assert await error_of(response) == {"error": "forbidden_source"}


@pytest.mark.parametrize("hop", ["2001:db8::9%eth0", "203.0.113.9:443", "[2001:db8::9]:443"])
async def test_forwarded_for_with_zone_id_or_port_is_refused(
    kafka_bootstrap: str, topic_prefix: str, hop: str
) -> None:
    await _topics(kafka_bootstrap, topic_prefix)
    env = environ(
        kafka_bootstrap,
        topic_prefix,
        ALLOWED_CIDRS="203.0.113.0/24,2001:db8::/32",
        TRUSTED_PROXIES="127.0.0.0/8",
    )
    async with running_ingress(env) as client:
        response = await client.post(
            URL, data=BODY, headers=signed(BODY, **{"X-Forwarded-For": hop})
        )
        assert response.status == 403
        assert await error_of(response) == {"error": "forbidden_source"}


async def test_ipv6_clients_are_rate_limited_by_their_64(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    await _topics(kafka_bootstrap, topic_prefix)
    env = environ(
        kafka_bootstrap,
        topic_prefix,
        TRUSTED_PROXIES="127.0.0.0/8",
        RATE_LIMIT_PER_SECOND="0.5",
        RATE_LIMIT_BURST="2",
    )
    async with running_ingress(env) as client:
        statuses = []
        for client_address in ("2001:db8:1:2::1", "2001:db8:1:2::2", "2001:db8:1:2:ffff::3"):
            headers = signed(BODY, **{"X-Forwarded-For": client_address})
            statuses.append((await client.post(URL, data=BODY, headers=headers)).status)
        assert statuses == [200, 200, 429]
        other_64 = signed(BODY, **{"X-Forwarded-For": "2001:db8:1:3::1"})
        assert (await client.post(URL, data=BODY, headers=other_64)).status == 200


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
async def test_body_over_limit_is_413(
    kafka_bootstrap: str, topic_prefix: str, chunked: bool
) -> None:
    topics = await _topics(kafka_bootstrap, topic_prefix)
    big = b'{"name":"x","pad":"' + b"a" * 4096 + b'"}'
    env = environ(kafka_bootstrap, topic_prefix, MAX_BODY_BYTES="2048")

    async def chunks() -> object:
        for start in range(0, len(big), 512):
            yield big[start : start + 512]

    async with running_ingress(env) as client:
        data = chunks() if chunked else big
        response = await client.post(URL, data=data, headers=signed(big))
        assert response.status == 413
        assert await error_of(response) == {"error": "payload_too_large"}
    await _assert_nothing_published(kafka_bootstrap, topics)


async def test_rate_limit_is_429_with_retry_after(kafka_bootstrap: str, topic_prefix: str) -> None:
    await _topics(kafka_bootstrap, topic_prefix)
    env = environ(kafka_bootstrap, topic_prefix, RATE_LIMIT_PER_SECOND="0.5", RATE_LIMIT_BURST="2")
    async with running_ingress(env) as client:
        statuses = [
            (await client.post(URL, data=BODY, headers=signed(BODY))).status for _ in range(2)
        ]
        assert statuses == [200, 200]
        response = await client.post(URL, data=BODY, headers=signed(BODY))
        assert response.status == 429
        assert await error_of(response) == {"error": "rate_limited"}
        assert response.headers["Retry-After"] == "2"


async def _raw_answer(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
    return head + await reader.readexactly(length)


async def test_bodies_on_their_way_over_the_cap_are_503_and_whole_bodies_still_pass(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    await _topics(kafka_bootstrap, topic_prefix)
    env = environ(kafka_bootstrap, topic_prefix, MAX_BODY_READS="1", RETRY_AFTER_SECONDS="7")
    head = (
        f"POST {URL} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(BODY)}\r\n"
        f"X-FEDAPAY-SIGNATURE: {sign(BODY, SECRET)}\r\n\r\n"
    ).encode()
    async with running_ingress(env) as client:
        port = client.server.port
        slow_reader, slow_writer = await asyncio.open_connection("127.0.0.1", port)
        slow_writer.write(head + BODY[:10])  # holds the one slot, reading its body
        await asyncio.sleep(0.3)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(head + BODY[:10])
        answer = await asyncio.wait_for(_raw_answer(reader), 10)  # answered without waiting
        writer.close()
        assert answer.startswith(b"HTTP/1.1 503"), answer[:100]
        assert b"\r\nRetry-After: 7\r\n" in answer
        assert answer.endswith(b'{"error":"overloaded"}')
        response = await client.post(URL, data=BODY, headers=signed(BODY))
        assert response.status == 200, "a body that came whole needs no slot"
        slow_writer.write(BODY[10:])
        assert (await asyncio.wait_for(slow_reader.readuntil(b"\r\n"), 10)).startswith(
            b"HTTP/1.1 200"
        )
        slow_writer.close()


async def test_signed_non_json_goes_to_dlq_with_2xx(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    topics = await _topics(kafka_bootstrap, topic_prefix)
    body = b"<html>not json \x00\xff</html>"
    async with running_ingress(environ(kafka_bootstrap, topic_prefix)) as client:
        response = await client.post(URL, data=body, headers=signed(body))
        assert response.status == 200
        assert await response.json() == {"status": "accepted"}
        metrics = await (await client.get("/metrics")).text()
    [record] = await consume_all(kafka_bootstrap, topics.dlq, expect=1, timeout=20)
    assert record.value == body
    assert headers.decode(record.headers)["fedapay-error"] == "invalid_json"
    assert await consume_all(kafka_bootstrap, topics.raw, expect=1, timeout=1) == []
    assert 'fedapay_ingress_requests_total{endpoint="sandbox",outcome="dlq"} 1.0' in metrics


async def test_signed_json_that_is_no_event_goes_to_dlq(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    topics = await _topics(kafka_bootstrap, topic_prefix)
    body = orjson.dumps({"hello": "world"})
    async with running_ingress(environ(kafka_bootstrap, topic_prefix)) as client:
        response = await client.post(URL, data=body, headers=signed(body))
        assert response.status == 200
    [record] = await consume_all(kafka_bootstrap, topics.dlq, expect=1, timeout=20)
    assert headers.decode(record.headers)["fedapay-error"] == "not_a_fedapay_event"


async def test_unknown_event_name_is_accepted(kafka_bootstrap: str, topic_prefix: str) -> None:
    topics = await _topics(kafka_bootstrap, topic_prefix)
    body = b'{"name":"payout.sent","object":"payout","entity":{"id":9,"updated_at":"x"}}'
    async with running_ingress(environ(kafka_bootstrap, topic_prefix)) as client:
        response = await client.post(URL, data=body, headers=signed(body))
        assert response.status == 200
    [record] = await consume_all(kafka_bootstrap, topics.raw, expect=1, timeout=20)
    assert record.key == b"payout:9"


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_unreachable_broker_is_503_with_retry_after(topic_prefix: str) -> None:
    bootstrap = f"127.0.0.1:{_closed_port()}"
    env = environ(bootstrap, topic_prefix, RETRY_AFTER_SECONDS="7")
    async with running_ingress(env, wait_ready=False) as client:
        assert (await client.get("/healthz")).status == 200
        ready = await client.get("/readyz")
        assert ready.status == 503
        assert await error_of(ready) == {"error": "not_ready"}
        response = await client.post(URL, data=BODY, headers=signed(BODY))
        assert response.status == 503
        assert response.headers["Retry-After"] == "7"
        assert await error_of(response) == {"error": "broker_unavailable"}


async def test_health_ready_and_metrics(kafka_bootstrap: str, topic_prefix: str) -> None:
    await _topics(kafka_bootstrap, topic_prefix)
    async with running_ingress(environ(kafka_bootstrap, topic_prefix)) as client:
        assert await (await client.get("/healthz")).json() == {"status": "ok"}
        assert await (await client.get("/readyz")).json() == {"status": "ready"}
        await client.post(URL, data=BODY, headers=signed(BODY))
        await client.post(URL, data=BODY, headers={})
        text = await (await client.get("/metrics")).text()
    assert 'fedapay_ingress_requests_total{endpoint="sandbox",outcome="raw"} 1.0' in text
    assert (
        'fedapay_ingress_requests_total{endpoint="sandbox",outcome="invalid_signature"} 1.0' in text
    )
    assert 'fedapay_ingress_publish_seconds_count{topic_kind="raw"} 1.0' in text
    assert "fedapay_ingress_producer_ready 1.0" in text


async def test_concurrent_deliveries_all_land(kafka_bootstrap: str, topic_prefix: str) -> None:
    topics = await _topics(kafka_bootstrap, topic_prefix)
    bodies = [BODY.replace(b'"id":235879', b'"id":%d' % (1000 + i)) for i in range(50)]
    async with running_ingress(environ(kafka_bootstrap, topic_prefix)) as client:
        responses = await asyncio.gather(
            *(client.post(URL, data=body, headers=signed(body)) for body in bodies)
        )
        assert [r.status for r in responses] == [200] * 50
    records = await consume_all(kafka_bootstrap, topics.raw, expect=50, timeout=30)
    assert sorted(r.value for r in records) == sorted(bodies)


async def test_simulated_stream_lands_whole(kafka_bootstrap: str, topic_prefix: str) -> None:
    """The simulator's realistic traffic (duplicates, shuffled) through HTTP: every
    delivery gets a 2xx and is in the raw topic byte for byte, under its entity's key."""
    topics = await _topics(kafka_bootstrap, topic_prefix)
    scenario = generate(30, 5, seed=11)
    deliveries = plan(scenario.events, duplicates=0.3, shuffle=True, seed=11)
    async with running_ingress(environ(kafka_bootstrap, topic_prefix)) as client:
        url = str(client.make_url(URL))
        report = await deliver(deliveries, url, SECRET, concurrency=16)
    assert report.ok
    assert report.sent == len(deliveries)
    records = await consume_all(kafka_bootstrap, topics.raw, expect=len(deliveries), timeout=60)
    assert sorted(r.value for r in records) == sorted(d.event.body for d in deliveries.deliveries)
    keys = {r.value: r.key for r in records}
    assert all(keys[d.event.body] == d.event.key.encode() for d in deliveries.deliveries)
