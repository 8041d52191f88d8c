"""Fails when the suite skipped anything or ran no broker test (a skipped suite is a failure)."""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET

BROKER_SUITES = ("tests.integration.", "tests.reliability.")


def main(path: str) -> int:
    cases = ET.parse(path).getroot().iter("testcase")  # noqa: S314
    ran = skipped = broker = 0
    for case in cases:
        ran += 1
        if case.find("skipped") is not None:
            skipped += 1
            sys.stderr.write(f"skipped: {case.get('classname')}::{case.get('name')}\n")
        elif case.get("classname", "").startswith(BROKER_SUITES):
            broker += 1
    sys.stdout.write(f"check: {ran} tests, {broker} against the broker, {skipped} skipped\n")
    if ran == 0 or broker == 0 or skipped:
        sys.stderr.write("check: FAILED (no tests, no broker tests, or skipped tests)\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
