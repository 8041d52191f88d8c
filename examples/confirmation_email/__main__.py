"""``python -m examples.confirmation_email``: run until SIGTERM or SIGINT."""

from __future__ import annotations

import asyncio
import os
import signal
import sys

from common.logs import configure
from examples.confirmation_email.service import run
from examples.confirmation_email.settings import SettingError, Settings


async def _main(settings: Settings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for number in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(number, stop.set)
    await run(settings, stop)


def main() -> int:
    configure("INFO", "json")  # one JSON object per line, extras included
    try:
        settings = Settings.from_env(os.environ)
    except SettingError as exc:
        sys.stderr.write(f"{exc}\n")
        return 2
    asyncio.run(_main(settings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
