"""TLS and SASL against a real secured broker.

scripts/kafka.sh starts a broker with a ``SASL_SSL`` listener (its certificate signed by a
throwaway CA made at start, a SCRAM-SHA-512 user made with the store); the bridge gets only that
listener's settings (``scripts/kafka.sh client-env``). A signed webhook goes ingress →
``<prefix>.raw`` → worker → ``<prefix>.transaction.approved`` over SASL_SSL, topics made by
``topics create``. A wrong password and a CA that did not sign the broker's certificate stop
each process at start with exit code 2 and one line naming the setting to fix; so do a mechanism
the listener does not offer and the system CAs (in-process checks), and ``peek``. An ingress that
started before the broker logs the setting when the broker then comes up and refuses it.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.structs import ConsumerRecord

from common.cli import main
from common.config import Env
from common.kafka import KafkaSettings, KafkaSettingsError
from common.kafka_access import check_access
from ingress.signature import sign
from schemas import headers
from tests.fixtures import fixture_bytes
from tests.integration.ingress_harness import environ as ingress_environ
from tests.integration.ingress_harness import running_ingress
from tests.kafka_broker import LocalBroker, free_port
from tests.reliability.procs import (
    REPO_ROOT,
    BridgeProcess,
    environment,
    run_command,
    running,
    wait_http_ok,
)

pytestmark = [pytest.mark.kafka, pytest.mark.slow, pytest.mark.timeout(180)]

P = "FEDAPAY_BRIDGE_"
SECRET = "wh_sandbox_sasl_test_secret_4c1f"
BODY = fixture_bytes("transaction.approved.json")
#: What the CLI prints before a configuration error's message (common.cli).
CONFIG_ERROR = "fedapay-bridge: configuration error: "
#: The broker's own words for a refused SCRAM password (Apache Kafka 4.1).
SCRAM_REFUSED = (
    "Authentication failed during authentication due to invalid credentials with SASL "
    "mechanism SCRAM-SHA-512"
)


#: The secured broker serves a handful of records: the JIT's first tier alone starts it with
#: about half the CPU time (measured 4.2 s instead of 7.9 s to ready).
QUICK_START_JVM = "-XX:TieredStopAtLevel=1"


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalBroker]:
    """A broker only this module uses, with a SASL_SSL listener next to its PLAINTEXT one."""
    root = tmp_path_factory.mktemp("sasl-broker")
    broker = LocalBroker(
        free_port(),
        controller_port=free_port(),
        state_dir=root / "state",
        sasl_ssl_port=free_port(),
        jvm_options=QUICK_START_JVM,
    )
    broker.start()
    try:
        yield broker
    finally:
        broker.stop(purge=True)


@pytest.fixture(scope="module")
def client_settings(secured: LocalBroker) -> dict[str, str]:
    settings = secured.client_settings()
    assert settings[f"{P}KAFKA_BOOTSTRAP_SERVERS"] == f"127.0.0.1:{secured.sasl_ssl_port}"
    return settings


@pytest.fixture(scope="module")
def other_ca(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CA certificate that did not sign the broker's."""
    folder = tmp_path_factory.mktemp("other-ca")
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"),
            *("-nodes", "-days", "1", "-subj", "/CN=not the broker's CA"),
            *("-keyout", str(folder / "ca.key"), "-out", str(folder / "ca.crt")),
        ],
        check=True,
        capture_output=True,
    )
    return folder / "ca.crt"


def process_settings(kafka: dict[str, str], prefix: str, http_port: int) -> dict[str, str]:
    """Every setting of the three processes (each ignores the others'), Kafka's from ``kafka``."""
    own = {
        "TOPIC_PREFIX": prefix,
        "TOPIC_PARTITIONS": "1",
        "APP_ID": f"{prefix}-app",
        "WEBHOOKS": "sandbox",
        "WEBHOOK_SANDBOX_SECRETS": SECRET,
        "HTTP_PORT": str(http_port),
        "STORE": "memory",
        "WEB_ENABLED": "false",
        "LOG_FORMAT": "text",
    }
    return {**kafka, **{f"{P}{name}": value for name, value in own.items()}}


def test_webhook_flows_through_ingress_raw_worker_and_per_type_topic_over_sasl_ssl(
    client_settings: dict[str, str], topic_prefix: str, tmp_path: Path
) -> None:
    settings = process_settings(client_settings, topic_prefix, free_port())
    url = f"http://127.0.0.1:{settings[f'{P}HTTP_PORT']}"
    kafka = KafkaSettings.from_env(Env(client_settings))
    with running("ingress", settings, tmp_path / "ingress.log") as ingress:  # starts meanwhile
        created = run_command(["topics", "create"], settings, timeout=60)
        assert created.returncode == 0, created.stderr
        assert f"created  {topic_prefix}.raw (partitions=1, delete)" in created.stdout
        with running("worker", settings, tmp_path / "worker.log") as worker:
            asyncio.run(wait_http_ok(ingress, f"{url}/readyz", within=60))
            assert asyncio.run(post(f"{url}/webhooks/sandbox", BODY)) == 200
            raw = asyncio.run(first_record(kafka, f"{topic_prefix}.raw", worker, within=30))
            assert raw.value == BODY
            approved = f"{topic_prefix}.transaction.approved"
            emitted = asyncio.run(first_record(kafka, approved, worker, within=60))
            assert emitted.key == b"transaction:235879"
            dedup_key = dict(raw.headers)[headers.DEDUP_KEY]
            assert dict(emitted.headers)[headers.DEDUP_KEY] == dedup_key
            assert "Authenticated as bridge via SCRAM-SHA-512" in worker.log_text()
        assert "Authenticated as bridge via SCRAM-SHA-512" in ingress.log_text()


COMMANDS = {"topics create": ["topics", "create"], "worker": ["worker"], "ingress": ["ingress"]}
Refusals = dict[tuple[str, str], subprocess.CompletedProcess[str]]


@pytest.fixture(scope="module")
def refusals(client_settings: dict[str, str], other_ca: Path) -> Refusals:
    """Each process started with a wrong password, and with a CA that did not sign the broker's
    certificate: all six at once (they only start and stop), their outcomes by (case, command)."""
    password = {k: v for k, v in client_settings.items() if k != f"{P}KAFKA_SASL_PASSWORD_FILE"}
    cases = {
        "wrong password": {**password, f"{P}KAFKA_SASL_PASSWORD": "not-the-password"},
        "untrusted CA": {**client_settings, f"{P}KAFKA_SSL_CA_FILE": str(other_ca)},
    }
    started = {
        (case, name): subprocess.Popen(
            [sys.executable, "-m", "common", *command],
            cwd=REPO_ROOT,
            env=environment(process_settings(kafka, f"refused{index}", free_port())),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for index, ((case, kafka), (name, command)) in enumerate(
            itertools.product(cases.items(), COMMANDS.items())
        )
    }
    outcomes: Refusals = {}
    try:
        for key, process in started.items():
            stdout, stderr = process.communicate(timeout=60)
            code = process.returncode
            outcomes[key] = subprocess.CompletedProcess(process.args, code, stdout, stderr)
    finally:
        for process in started.values():  # none is left running, whatever failed
            process.kill()
            process.wait()
    return outcomes


@pytest.mark.parametrize("command", COMMANDS)
def test_a_wrong_password_stops_the_process_naming_the_setting(
    refusals: Refusals, client_settings: dict[str, str], command: str
) -> None:
    result = refusals["wrong password", command]
    server = client_settings[f"{P}KAFKA_BOOTSTRAP_SERVERS"]
    assert (result.returncode, last_line(result.stderr)) == (
        2,
        f"{CONFIG_ERROR}{P}KAFKA_SASL_PASSWORD: the broker at {server} refused user 'bridge' "
        f"with SCRAM-SHA-512 ({SCRAM_REFUSED}): check the password (or "
        f"{P}KAFKA_SASL_PASSWORD_FILE) and {P}KAFKA_SASL_USERNAME",
    )
    assert "not-the-password" not in result.stdout + result.stderr


@pytest.mark.parametrize("command", COMMANDS)
def test_an_untrusted_ca_stops_the_process_naming_the_setting(
    refusals: Refusals, client_settings: dict[str, str], other_ca: Path, command: str
) -> None:
    result = refusals["untrusted CA", command]
    server = client_settings[f"{P}KAFKA_BOOTSTRAP_SERVERS"]
    assert (result.returncode, last_line(result.stderr)) == (
        2,
        f"{CONFIG_ERROR}{P}KAFKA_SSL_CA_FILE: the broker at {server} presented a certificate "
        f"the CA file {other_ca} does not trust (self-signed certificate in certificate chain): "
        "set it to the CA certificate that signed the broker's",
    )


def last_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[-1] if lines else ""


async def post(url: str, body: bytes) -> int:
    signed = {"X-FEDAPAY-SIGNATURE": sign(body, SECRET), "Content-Type": "application/json"}
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session,
        session.post(url, data=body, headers=signed) as response,
    ):
        return response.status


async def first_record(
    kafka: KafkaSettings, topic: str, worker: BridgeProcess, *, within: float
) -> ConsumerRecord[bytes, bytes]:
    """The first record of ``topic``, read over SASL_SSL with the bridge's settings."""
    consumer = AIOKafkaConsumer(
        topic, **kafka.aiokafka_options(), group_id=None, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            assert worker.alive(), f"the worker exited:\n{worker.log_tail()}"
            batches = await consumer.getmany(timeout_ms=500)
            for records in batches.values():
                return records[0]
        raise AssertionError(f"nothing in {topic} within {within} s:\n{worker.log_tail()}")
    finally:
        await consumer.stop()


def settings_of(client_settings: dict[str, str], **changes: str | None) -> KafkaSettings:
    """The listener's settings as the processes read them, with ``changes`` (None: removed)."""
    names = {f"{P}{name}": value for name, value in changes.items()}
    merged = {**client_settings, **names}
    return KafkaSettings.from_env(Env({k: v for k, v in merged.items() if v is not None}))


@pytest.mark.asyncio
async def test_the_access_check_passes_with_the_listeners_settings(
    client_settings: dict[str, str],
) -> None:
    await check_access(settings_of(client_settings))


@pytest.mark.asyncio
async def test_a_mechanism_the_listener_does_not_offer_names_the_mechanism(
    client_settings: dict[str, str],
) -> None:
    with pytest.raises(KafkaSettingsError) as caught:
        await check_access(settings_of(client_settings, KAFKA_SASL_MECHANISM="SCRAM-SHA-256"))
    server = client_settings[f"{P}KAFKA_BOOTSTRAP_SERVERS"]
    assert (caught.value.setting, caught.value.problem) == (
        f"{P}KAFKA_SASL_MECHANISM",
        f"the broker at {server} does not offer SCRAM-SHA-256 on this listener",
    )


@pytest.mark.asyncio
async def test_without_a_ca_file_the_system_cas_do_not_trust_the_throwaway_ca(
    client_settings: dict[str, str],
) -> None:
    with pytest.raises(KafkaSettingsError) as caught:
        await check_access(settings_of(client_settings, KAFKA_SSL_CA_FILE=None))
    assert caught.value.setting == f"{P}KAFKA_SSL_CA_FILE"
    assert "a certificate the system CAs do not trust" in caught.value.problem


def test_peek_reads_over_sasl_ssl_and_names_a_wrong_password(
    client_settings: dict[str, str],
    topic_prefix: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    topic = f"{topic_prefix}.nothing"
    for name, value in client_settings.items():
        monkeypatch.setenv(name, value)
    assert main(["peek", topic, "--timeout", "2"]) == 0
    assert capsys.readouterr().out.startswith(f"{topic}: 0 records")
    monkeypatch.delenv(f"{P}KAFKA_SASL_PASSWORD_FILE")
    monkeypatch.setenv(f"{P}KAFKA_SASL_PASSWORD", "not-the-password")
    assert main(["peek", topic]) == 2
    server = client_settings[f"{P}KAFKA_BOOTSTRAP_SERVERS"]
    assert capsys.readouterr().err.startswith(
        f"{CONFIG_ERROR}{P}KAFKA_SASL_PASSWORD: the broker at {server} refused user 'bridge'"
    )


@asynccontextmanager
async def forwarding(port: int, target: int) -> AsyncIterator[None]:
    """Listens on ``port`` from now on and passes every connection through to ``target``: a
    broker that comes up late, as seen by a client that was already retrying."""
    tasks: set[asyncio.Task[None]] = set()

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", target)
        await asyncio.gather(pipe(reader, upstream_writer), pipe(upstream_reader, writer))

    def track(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.create_task(handle(reader, writer))
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    server = await asyncio.start_server(track, "127.0.0.1", port)
    try:
        yield
    finally:
        server.close()
        for task in list(tasks):
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def logged(
    caplog: pytest.LogCaptureFixture, message: str, within: float
) -> logging.LogRecord:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        for record in caplog.records:
            if record.getMessage() == message:
                return record
        await asyncio.sleep(0.1)
    raise AssertionError(f"no {message!r} logged within {within} s: {caplog.messages}")


@pytest.mark.asyncio
async def test_a_broker_that_comes_up_after_the_ingress_and_refuses_it_is_named_in_its_log(
    secured: LocalBroker,
    client_settings: dict[str, str],
    topic_prefix: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The start-up check found no broker, so the ingress started; when the broker comes up and
    refuses the password, the ingress keeps retrying (503) and its log names the setting."""
    late = free_port()
    kafka = {k.removeprefix(P): v for k, v in client_settings.items()}
    del kafka["KAFKA_SASL_PASSWORD_FILE"], kafka["KAFKA_BOOTSTRAP_SERVERS"]
    kafka |= {"KAFKA_SASL_PASSWORD": "not-the-password", "PUBLISH_TIMEOUT_SECONDS": "2"}
    env = ingress_environ(f"127.0.0.1:{late}", topic_prefix, **kafka)
    caplog.set_level(logging.INFO, logger="ingress.publisher")
    async with running_ingress(env, wait_ready=False) as client:
        await logged(caplog, "kafka not reachable, retrying", within=10)
        assert secured.sasl_ssl_port is not None
        async with forwarding(late, secured.sasl_ssl_port):
            refused = await logged(caplog, "kafka refuses the settings, retrying", within=20)
            fields = vars(refused)
            assert (refused.levelno, fields["setting"]) == (
                logging.ERROR,
                f"{P}KAFKA_SASL_PASSWORD",
            )
            assert fields["problem"].startswith(f"the broker at 127.0.0.1:{late} refused user")
            assert (await client.get("/readyz")).status == 503
