"""Schemathesis against a live worker on loopback: no 5xx, responses match the document.

The schema is the one :mod:`streams.openapi` builds; the test first checks the
worker serves exactly that document at ``/openapi.json``. Bounded: at most 50
examples per operation.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import checks

from streams import openapi
from streams.settings import WorkerSettings
from tests.integration.query_harness import web_worker
from tests.integration.streams_harness import AUTHORIZATION, provision_topics

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

DOCUMENT = openapi.document(WorkerSettings().metrics_windows)
schema = schemathesis.openapi.from_dict(DOCUMENT)
# Valid and invalid requests (wrong types, missing required parameters, odd characters).
schema.config.generation.update(
    modes=[schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE],
    max_examples=50,
    database="none",
)
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
    # Requests without the token and with a wrong one get 401 where the document asks for it.
    checks.ignored_auth,
]


@pytest.fixture(scope="module")
def worker_url(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    prefix = f"t{time.time_ns() % 10**12:012d}"
    tmp: Path = tmp_path_factory.mktemp("openapi")
    asyncio.run(provision_topics(kafka_bootstrap, prefix))
    worker = web_worker(kafka_bootstrap, prefix, tmp, 0)
    worker.process.start()
    try:
        asyncio.run(worker.process.wait_ready())
        deadline = time.monotonic() + 60
        while requests.get(f"{worker.url}/readyz", timeout=5).status_code != 200:
            assert time.monotonic() < deadline, "worker not ready"
            time.sleep(0.3)
        yield worker.url
    finally:
        worker.process.stop()


def test_the_served_document_is_the_tested_one(worker_url: str) -> None:
    served = requests.get(f"{worker_url}/openapi.json", headers=AUTHORIZATION, timeout=5)

    assert served.status_code == 200
    assert served.json() == DOCUMENT


@pytest.mark.timeout(120)
@schema.parametrize()
@settings(max_examples=50, deadline=None, suppress_health_check=list(HealthCheck))
def test_api(case: schemathesis.Case[Any], worker_url: str) -> None:
    response = case.call(base_url=worker_url, headers=AUTHORIZATION, timeout=10)
    assert response.status_code < 500, (case.path, case.query, response.text[:300])
    # Documented status codes, content types and response schemas. Not positive-data
    # acceptance: a schema cannot say that `to` must be after `from`.
    case.validate_response(response, checks=CHECKS)
