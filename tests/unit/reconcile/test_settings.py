"""Settings of reconcile: per-endpoint API base and key, bounds, and clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from common.config import Env
from common.errors import ConfigError
from reconcile.settings import ReconcileSettings

BASE = {
    "FEDAPAY_BRIDGE_WEBHOOK_LIVE_API_BASE": "https://api.example.test",
    "FEDAPAY_BRIDGE_WEBHOOK_LIVE_API_KEY": "sk_live_x",
}


def test_defaults() -> None:
    settings = ReconcileSettings.from_env(Env(BASE), "live")
    assert (settings.api_base, settings.api_key) == ("https://api.example.test", "sk_live_x")
    assert settings.drift_statuses == ("pending",)
    assert (settings.overlap_seconds, settings.lookback_seconds) == (900, 86_400)
    assert settings.retry.max_attempts == 6
    assert "sk_live_x" not in repr(settings)


def test_key_from_file(tmp_path: Path) -> None:
    path = tmp_path / "key"
    path.write_text("sk_from_file\n")
    env = {
        "FEDAPAY_BRIDGE_WEBHOOK_MY_SHOP_API_BASE": "https://api.example.test",
        "FEDAPAY_BRIDGE_WEBHOOK_MY_SHOP_API_KEY_FILE": str(path),
    }
    assert ReconcileSettings.from_env(Env(env), "my-shop").api_key == "sk_from_file"


@pytest.mark.parametrize(
    ("changes", "endpoint", "setting"),
    [
        ({"FEDAPAY_BRIDGE_WEBHOOK_LIVE_API_KEY": ""}, "live", "WEBHOOK_LIVE_API_KEY"),
        ({"FEDAPAY_BRIDGE_WEBHOOK_LIVE_API_BASE": ""}, "live", "WEBHOOK_LIVE_API_BASE"),
        ({"FEDAPAY_BRIDGE_WEBHOOK_LIVE_API_BASE": "ftp://x"}, "live", "WEBHOOK_LIVE_API_BASE"),
        ({"FEDAPAY_BRIDGE_RECONCILE_DRIFT_STATUSES": "stuck"}, "live", "DRIFT_STATUSES"),
        ({"FEDAPAY_BRIDGE_RECONCILE_PER_PAGE": "0"}, "live", "RECONCILE_PER_PAGE"),
        ({}, "Live!", "--endpoint"),
    ],
)
def test_errors_name_the_setting(changes: dict[str, str], endpoint: str, setting: str) -> None:
    with pytest.raises(ConfigError, match=setting):
        ReconcileSettings.from_env(Env({**BASE, **changes}), endpoint)
