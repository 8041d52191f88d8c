"""The baseline: the least an aiohttp webhook receiver can do and still publish with acks=all.

No signature check, no parsing, no headers, no metrics: read the body, publish it
with aiokafka, wait for the broker's acknowledgement, answer 200. Producer
batching options mirror the ingress's, so the comparison measures the handler.

    python -m bench.baseline_ingress --port 8081 --topic t.raw [--uvloop]
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import AsyncIterator

from aiohttp import web
from aiokafka import AIOKafkaProducer

PRODUCER = web.AppKey("producer", AIOKafkaProducer)
TOPIC = web.AppKey("topic", str)
ACCEPTED = b'{"status":"accepted"}'


async def receive(request: web.Request) -> web.Response:
    body = await request.read()
    await request.app[PRODUCER].send_and_wait(request.app[TOPIC], body)
    return web.Response(body=ACCEPTED, content_type="application/json")


async def receive_keyed(request: web.Request) -> web.Response:
    """Experiment: the same, with the ingress's record (key and headers from a parse)."""
    from ingress.records import Delivery, record_for
    from schemas.topics import Topics

    body = await request.read()
    record = record_for(Delivery("bench", body, 1, 2), Topics(request.app[TOPIC][: -len(".raw")]))
    await request.app[PRODUCER].send_and_wait(
        record.topic, record.value, key=record.key, headers=record.headers
    )
    return web.Response(body=ACCEPTED, content_type="application/json")


async def ready(request: web.Request) -> web.Response:
    return web.Response(body=b"{}", content_type="application/json")


def create_app(args: argparse.Namespace) -> web.Application:
    app = web.Application(client_max_size=256 * 1024)
    app[TOPIC] = args.topic

    async def producer_lifecycle(app: web.Application) -> AsyncIterator[None]:
        producer = AIOKafkaProducer(
            bootstrap_servers=args.bootstrap,
            acks="all",
            linger_ms=args.linger_ms,
            compression_type=None if args.compression == "none" else args.compression,
            max_batch_size=512 * 1024,
            enable_idempotence=args.idempotent,
        )
        await producer.start()
        app[PRODUCER] = producer
        yield
        await producer.stop()

    app.cleanup_ctx.append(producer_lifecycle)
    app.router.add_post("/webhooks/{endpoint}", receive_keyed if args.keyed else receive)
    app.router.add_get("/readyz", ready)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--bootstrap", default="127.0.0.1:9092")
    parser.add_argument("--linger-ms", type=int, default=0)
    parser.add_argument("--compression", default="none")
    parser.add_argument("--uvloop", action="store_true")
    parser.add_argument("--keyed", action="store_true", help="experiment: key and headers")
    parser.add_argument("--idempotent", action="store_true", help="experiment: idempotent producer")
    args = parser.parse_args()
    loop: asyncio.AbstractEventLoop
    if args.uvloop:
        import uvloop

        loop = uvloop.new_event_loop()
    else:
        loop = asyncio.new_event_loop()
    web.run_app(
        create_app(args), host="127.0.0.1", port=args.port, access_log=None, print=None, loop=loop
    )


if __name__ == "__main__":
    main()
