"""Write (or check) the published JSON Schemas from the record models.

python -m schemas.generate          rewrite schemas/json/*.schema.json
python -m schemas.generate --check  exit 1 if a file differs from its model
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from schemas.jsonschema import all_schemas, file_name, render

JSON_DIR = Path(__file__).resolve().parent / "json"


def stale_files(directory: Path = JSON_DIR) -> list[str]:
    """Names of the schema files that are missing or differ from their model."""
    stale = []
    for name, schema in all_schemas().items():
        path = directory / file_name(name)
        if not path.is_file() or path.read_bytes() != render(schema):
            stale.append(path.name)
    return stale


def write_all(directory: Path = JSON_DIR) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for name, schema in all_schemas().items():
        (directory / file_name(name)).write_bytes(render(schema))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m schemas.generate", description=__doc__)
    parser.add_argument("--check", action="store_true", help="only compare, write nothing")
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_files()
        for name in stale:
            sys.stderr.write(f"out of date: schemas/json/{name}\n")
        return 1 if stale else 0
    write_all()
    return 0


if __name__ == "__main__":
    sys.exit(main())
