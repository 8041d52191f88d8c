"""The service's settings, read once at start from ``CONFIRMATION_EMAIL_*`` variables.

=========================  ==============================  ====================================
variable                   default                         meaning
=========================  ==============================  ====================================
KAFKA_BOOTSTRAP_SERVERS    ``127.0.0.1:9092``              brokers, comma-separated
TOPIC_PREFIX               ``fedapay``                     the bridge's topic prefix
GROUP_ID                   ``confirmation-email``          the consumer group
DB_PATH                    ``confirmation-email.sqlite3``  the SQLite store of what was sent
SMTP_HOST                  ``127.0.0.1``                   SMTP server (plain SMTP, no login)
SMTP_PORT                  ``25``                          its port
SMTP_TIMEOUT_SECONDS       ``10``                          how long one SMTP exchange may take
MAIL_FROM                  ``payments@example.com``        the sender address
=========================  ==============================  ====================================
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from schemas.topics import DEFAULT_PREFIX, Topics

PREFIX: Final = "CONFIRMATION_EMAIL_"


class SettingError(ValueError):
    """A setting is missing or malformed; the message names the variable."""


@dataclass(frozen=True)
class Settings:
    bootstrap_servers: str = "127.0.0.1:9092"
    topics: Topics = field(default_factory=Topics)
    group_id: str = "confirmation-email"
    db_path: Path = Path("confirmation-email.sqlite3")
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    smtp_timeout_seconds: float = 10.0
    mail_from: str = "payments@example.com"

    @property
    def topic(self) -> str:
        return self.topics.for_event("transaction.approved")

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        def text(name: str, default: str) -> str:
            value = environ.get(PREFIX + name, "").strip()
            return value or default

        def number(name: str, default: float) -> float:
            raw = text(name, str(default))
            try:
                value = float(raw)
            except ValueError:
                raise SettingError(f"{PREFIX}{name} must be a number, not {raw!r}") from None
            if value <= 0:
                raise SettingError(f"{PREFIX}{name} must be positive")
            return value

        return cls(
            bootstrap_servers=text("KAFKA_BOOTSTRAP_SERVERS", cls.bootstrap_servers),
            topics=Topics(text("TOPIC_PREFIX", DEFAULT_PREFIX)),
            group_id=text("GROUP_ID", cls.group_id),
            db_path=Path(text("DB_PATH", str(cls.db_path))),
            smtp_host=text("SMTP_HOST", cls.smtp_host),
            smtp_port=int(number("SMTP_PORT", cls.smtp_port)),
            smtp_timeout_seconds=number("SMTP_TIMEOUT_SECONDS", cls.smtp_timeout_seconds),
            mail_from=text("MAIL_FROM", cls.mail_from),
        )
