"""The demo's steps, isolated, with every secret loaded from files (Kubernetes Secret
mounts), then every line the processes and commands wrote is scanned.

Ingress and worker run as subprocesses with log files; the simulator posts the
demo's stream; the real sandbox delivery (with its personal data) is posted
too, plus a signed non-event (DLQ path) and a forged signature (401 path).
Neither the secrets nor any personal data of the bodies may appear in any log
line or command output.
"""

from __future__ import annotations

import asyncio
import json
import re
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import uuid4

import aiohttp
import orjson
import pytest

from ingress.signature import sign
from simulator.lifecycle import generate
from tests.fixtures import fixture_bytes
from tests.reliability import results
from tests.reliability.deployment import Deployment
from tests.reliability.outputs import collect, events_complete, expected_event_keys
from tests.reliability.procs import BridgeProcess, run_command

WEBHOOK_SECRET = "wh_sandbox_demo_file_secret_7d1e"
OLD_SECRET = "wh_sandbox_demo_old_secret_55aa"
SASL_PASSWORD = "kafka-password-from-a-file-93c1"
QUERY_TOKEN = "worker-query-token-from-a-file-4b7e"
FIXTURE = fixture_bytes("transaction.approved.json")
#: The demo's stream (scripts/demo.sh), at a fixed FedaPay clock so the test can rebuild it.
DEMO = {"transactions": 30, "customers": 5, "seed": 7, "start_ms": 1_760_000_000_000}
PERSONAL_FIELDS = {"email", "firstname", "lastname", "full_name", "number", "public_key"}
#: Placeholder values that identify nobody and are ordinary words in log lines.
PLACEHOLDERS = {"Unknown", "Unknown Unknown"}


def personal_values(document: Any) -> Iterator[str]:
    """Every string under a personal-data field of a webhook body, at any depth."""
    if isinstance(document, dict):
        for key, value in document.items():
            if key in PERSONAL_FIELDS and isinstance(value, str) and value:
                yield value
            else:
                yield from personal_values(value)
    elif isinstance(document, list):
        for item in document:
            yield from personal_values(item)


def needles(bodies: list[bytes]) -> set[str]:
    found = {value for body in bodies for value in personal_values(orjson.loads(body))}
    found -= PLACEHOLDERS
    # The fixture's personal data by name, as the issue lists it.
    found |= {"Ama", "Kossou", "customer@example.com", "22960000000", "pk_sandbox_"}
    return found | {WEBHOOK_SECRET, OLD_SECRET, SASL_PASSWORD, QUERY_TOKEN}


def leaks(text: str, secrets_and_data: set[str]) -> list[str]:
    """The needles found in ``text``, raw or JSON-escaped, as whole words."""
    found = []
    for needle in secrets_and_data:
        for form in {needle, json.dumps(needle)[1:-1], ascii(needle)[1:-1]}:
            if re.search(rf"(?<![\w@.]){re.escape(form)}(?![\w@])", text):
                found.append(needle)
                break
    return sorted(found)


def _secret_files(root: Path) -> dict[str, str]:
    folder = root / "secrets"
    folder.mkdir(mode=0o700)
    files = {
        "webhook": f"{WEBHOOK_SECRET}\n{OLD_SECRET}\n",
        "username": "bridge\n",
        "password": f"{SASL_PASSWORD}\n",
        "query-token": f"{QUERY_TOKEN}\n",
    }
    for name, content in files.items():
        (folder / name).write_text(content, encoding="utf-8")
        (folder / name).chmod(0o600)
    return {
        "WEBHOOK_SANDBOX_SECRETS_FILE": str(folder / "webhook"),
        "KAFKA_SASL_USERNAME_FILE": str(folder / "username"),
        "KAFKA_SASL_PASSWORD_FILE": str(folder / "password"),
        "QUERY_TOKEN_FILE": str(folder / "query-token"),
    }


@pytest.mark.kafka
@pytest.mark.slow
@pytest.mark.asyncio
@pytest.mark.timeout(180)
async def test_demo_logs_hold_no_secret_and_no_personal_data(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    files = _secret_files(tmp_path)
    kafka_files = {k: v for k, v in files.items() if k.startswith("KAFKA_")}
    webhook_files = {k: v for k, v in files.items() if k.startswith("WEBHOOK_")}
    token_file = {"QUERY_TOKEN_FILE": files["QUERY_TOKEN_FILE"]}
    deployment = Deployment(
        kafka_bootstrap, f"t{uuid4().hex[:10]}", tmp_path, secret=WEBHOOK_SECRET
    )
    outputs: list[str] = []
    # The local broker speaks PLAINTEXT, which uses no SASL setting: the SASL files are refused at
    # start (exit 2, naming the setting) and the refusal must not quote the password either.
    refused = await asyncio.to_thread(
        run_command, ["topics", "create"], deployment.worker_settings("topics", 0, **kafka_files)
    )
    assert refused.returncode == 2, refused.stderr
    assert "KAFKA_SASL_USERNAME_FILE" in refused.stderr
    outputs.append(refused.stdout + refused.stderr)
    topics_settings = deployment.worker_settings("topics", 0)
    created = await asyncio.to_thread(run_command, ["topics", "create"], topics_settings)
    assert created.returncode == 0, created.stderr
    outputs.append(created.stdout + created.stderr)
    scenario = generate(
        DEMO["transactions"], DEMO["customers"], seed=DEMO["seed"], start_ms=DEMO["start_ms"]
    )
    worker = deployment.worker("demo", **token_file)
    try:
        # The webhook secrets come only from their file.
        with deployment.ingress(drop=("WEBHOOK_SANDBOX_SECRETS",), **webhook_files) as ingress:
            await deployment.wait_ingress_ready(ingress)
            worker.start()
            outputs.append(await _simulate(deployment, tmp_path))
            await _extra_deliveries(deployment)
            expected = expected_event_keys([*scenario.events], deployment.topics)
            names = sorted({*deployment.topics.per_type(), deployment.topics.unknown})
            done = events_complete(expected)
            await collect(kafka_bootstrap, names, done=done, within=60, settle=2)
            for topic in ("raw", "transaction.approved", "transaction.status", "anomalies"):
                peek = await asyncio.to_thread(
                    run_command, ["peek", f"{deployment.prefix}.{topic}", "--limit", "5"],
                    deployment.worker_settings("peek", 0),
                )  # fmt: skip
                outputs.append(peek.stdout + peek.stderr)
            outputs.extend(await _queries(deployment, worker, files["QUERY_TOKEN_FILE"]))
            ingress.send(signal.SIGTERM)
            assert await asyncio.to_thread(ingress.wait, 30) == 0
    finally:
        worker.stop()
    logs = {
        path.name: path.read_text(encoding="utf-8", errors="replace")
        for path in (tmp_path / "logs").glob("*.log")
    }
    wanted = needles([event.body for event in scenario.events] + [FIXTURE])
    found = {name: leaks(text, wanted) for name, text in logs.items()}
    found["command output"] = leaks("\n".join(outputs), wanted)
    lines = sum(text.count("\n") for text in logs.values())
    results.record(
        "secrets_in_logs",
        {"log_files": sorted(logs), "log_lines": lines, "needles": len(wanted), "leaks": found},
    )
    assert lines > 20, "the processes logged almost nothing; the scan proves little"
    assert not any(found.values()), found


async def _queries(deployment: Deployment, worker: BridgeProcess, token_file: str) -> list[str]:
    """The query CLI with the token from its file (200), and requests with a wrong token and
    none (401): neither the worker's log nor the CLI's output may show the token."""
    await deployment.wait_worker_ready(worker)
    url = f"http://127.0.0.1:{worker.settings['FEDAPAY_BRIDGE_WEB_PORT']}"
    outputs = []
    for argv in (["summary", "--minutes", "60"], ["transaction", "1"]):
        answer = await asyncio.to_thread(
            run_command,
            ["query", "--url", url, "--token-file", token_file, *argv],
            {},
        )
        outputs.append(answer.stdout + answer.stderr)
    assert "deliveries" in outputs[0], outputs[0]
    async with aiohttp.ClientSession() as session:
        for headers in ({}, {"Authorization": f"Bearer {QUERY_TOKEN[:-1]}x"}):
            async with session.get(f"{url}/query/summary", headers=headers) as refused:
                assert refused.status == 401, await refused.text()
    return outputs


async def _simulate(deployment: Deployment, root: Path) -> str:
    secret_file = root / "secrets" / "simulator"
    secret_file.write_text(WEBHOOK_SECRET + "\n", encoding="utf-8")
    result = await asyncio.to_thread(
        run_command,
        [
            "simulate", "--url", deployment.url, "--secret-file", str(secret_file),
            "--transactions", str(DEMO["transactions"]), "--customers", str(DEMO["customers"]),
            "--seed", str(DEMO["seed"]), "--start-ms", str(DEMO["start_ms"]),
            "--duplicates", "0.3", "--shuffle", "--concurrency", "16",
        ],
        {},
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout + result.stderr


async def _extra_deliveries(deployment: Deployment) -> None:
    """The real delivery (old secret, rotation), a signed non-event, a forged signature."""
    not_json = b"{not json at all, but signed}"
    not_event = b'{"customer@example.com": "Ama Kossou"}'
    posts = [
        (FIXTURE, sign(FIXTURE, OLD_SECRET), 200),
        (not_json, sign(not_json, WEBHOOK_SECRET), 200),
        (not_event, sign(not_event, WEBHOOK_SECRET), 200),
        (FIXTURE, sign(FIXTURE, "wh_forged_secret"), 401),
        (FIXTURE, f"t={int(time.time())},s={'0' * 64}", 401),
    ]
    async with aiohttp.ClientSession() as session:
        for body, header, status in posts:
            headers = {"X-FEDAPAY-SIGNATURE": header}
            async with session.post(deployment.url, data=body, headers=headers) as answer:
                assert answer.status == status, await answer.text()


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ('{"msg":"paid by Ama Kossou"}', ["Ama", "Kossou"]),
        ('{"email":"customer@example.com"}', ["customer@example.com"]),
        ('{"name":"A\\u00efcha"}', ["Aïcha"]),
        ("number=22960000000", ["22960000000"]),
        ("Amazon, customer@example.community, 229600000001", []),
    ],
)
def test_leak_scanner_finds_whole_words_raw_or_escaped(text: str, found: list[str]) -> None:
    assert leaks(text, {"Ama", "Kossou", "customer@example.com", "Aïcha", "22960000000"}) == found
