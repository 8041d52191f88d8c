"""The chart's Kafka TLS/SASL values set the settings that were proven against a real broker.

tests/integration/test_kafka_sasl_ssl.py runs the three processes against a real SASL_SSL
listener with exactly the variables ``scripts/kafka.sh client-env`` prints. A chart configured for
the same kind of cluster (SASL_SSL, SCRAM-SHA-512, a password Secret, a CA Secret) must hand each
of its processes the same variables, no more and no fewer, and they must load.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from common.config import Env
from common.kafka import KafkaSettings
from tests.helm.chart import containers
from tests.helm.conftest import Renderer
from tests.helm.test_chart_settings import container_environ
from tests.kafka_broker import SCRIPT

pytestmark = pytest.mark.helm

SASL_SSL_VALUES = (
    "kafka.bootstrapServers=kafka-0.kafka:9093",
    "kafka.securityProtocol=SASL_SSL",
    "kafka.sasl.mechanism=SCRAM-SHA-512",
    "kafka.sasl.username=bridge",
    "kafka.sasl.existingSecret=kafka-user",
    "kafka.tls.caSecret=kafka-ca",
)
WORKLOADS = {"receiver": "Deployment", "worker": "StatefulSet", "topics": "Job"}


def client_env_settings() -> set[str]:
    """The variables ``scripts/kafka.sh client-env`` prints (read from the script)."""
    function = re.search(r"cmd_client_env\(\) \{(.*?)\n\}", SCRIPT.read_text(), re.DOTALL)
    assert function is not None, "scripts/kafka.sh has no cmd_client_env"
    return set(re.findall(r"^(FEDAPAY_BRIDGE_KAFKA_[A-Z_]+)=", function.group(1), re.MULTILINE))


def test_the_script_prints_the_listeners_settings() -> None:
    assert client_env_settings() == {
        "FEDAPAY_BRIDGE_KAFKA_BOOTSTRAP_SERVERS",
        "FEDAPAY_BRIDGE_KAFKA_SECURITY_PROTOCOL",
        "FEDAPAY_BRIDGE_KAFKA_SASL_MECHANISM",
        "FEDAPAY_BRIDGE_KAFKA_SASL_USERNAME",
        "FEDAPAY_BRIDGE_KAFKA_SASL_PASSWORD_FILE",
        "FEDAPAY_BRIDGE_KAFKA_SSL_CA_FILE",
    }


@pytest.mark.parametrize("component", sorted(WORKLOADS))
def test_sasl_ssl_values_set_the_variables_tested_against_the_real_broker(
    renderer: Renderer, tmp_path: Path, component: str
) -> None:
    rendered = renderer(sets=SASL_SSL_VALUES)
    (container,) = containers(rendered.one(WORKLOADS[component], component))
    environ = container_environ(rendered, container, tmp_path)
    kafka = {name for name in environ if name.startswith("FEDAPAY_BRIDGE_KAFKA_")}
    assert kafka == client_env_settings()
    settings = KafkaSettings.from_env(Env(environ))
    assert (settings.security_protocol, settings.sasl_mechanism) == ("SASL_SSL", "SCRAM-SHA-512")
    assert settings.ssl_cafile is not None
    assert settings.ssl_cafile.endswith("ca.crt")
