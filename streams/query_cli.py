"""``fedapay-bridge query``: the workers' query API from the command line.

Talks HTTP to any worker (``--url``, default ``http://127.0.0.1:6066``) and
prints readable tables (``--json``: the response as is). The rendering
functions are pure.

The workers' bearer token comes from ``--token-file``, else from
``FEDAPAY_BRIDGE_QUERY_TOKEN`` or the file named by ``FEDAPAY_BRIDGE_QUERY_TOKEN_FILE``
(the workers' own settings); never from the command line, where other users' ``ps``
would see it.
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from typing import Any

from common.config import Env
from common.errors import ConfigError
from streams.counters import FILTERS, READINGS

DEFAULT_URL = "http://127.0.0.1:6066"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("query", help="query a stream worker's metrics and transactions")
    parser.add_argument(
        "--url", default=DEFAULT_URL, help=f"a worker's URL (default {DEFAULT_URL})"
    )
    parser.add_argument(
        "--token-file",
        help="file holding the workers' query token (default: FEDAPAY_BRIDGE_QUERY_TOKEN, "
        "or the file named by FEDAPAY_BRIDGE_QUERY_TOKEN_FILE)",
    )
    parser.add_argument("--json", action="store_true", help="print the JSON response")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds (default 10)")
    actions = parser.add_subparsers(dest="query_command", required=True)

    summary = actions.add_parser("summary", help="metrics of the last N minutes")
    summary.add_argument("--minutes", type=int, default=5, help="default 5")
    _filters(summary)
    summary.set_defaults(run=run_summary)

    window = actions.add_parser("range", help="metrics per window over a time range")
    window.add_argument("--from", dest="from_", required=True, help="ISO 8601 or epoch ms")
    window.add_argument("--to", required=True, help="ISO 8601 or epoch ms")
    window.add_argument("--resolution", help="window size, e.g. 1m or 1h (default: smallest)")
    _filters(window)
    window.set_defaults(run=run_range)

    transaction = actions.add_parser("transaction", help="a transaction's status and history")
    transaction.add_argument("id", help="FedaPay transaction id")
    transaction.add_argument(
        "--endpoint",
        help="the webhook endpoint of the transaction, e.g. live or sandbox (needed when the "
        "id exists on several)",
    )
    transaction.set_defaults(run=run_transaction)


def _filters(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--endpoint", help="only this webhook endpoint, e.g. live or sandbox (default: all)"
    )
    for name in FILTERS:
        parser.add_argument(f"--{name}", help=f"only counters of this {name}")


def _params(args: argparse.Namespace) -> dict[str, str]:
    names = ("endpoint", *FILTERS)
    return {name: getattr(args, name) for name in names if getattr(args, name, None)}


def token(args: argparse.Namespace, environ: Mapping[str, str]) -> str | None:
    """The query token: ``--token-file``, else the workers' setting (value or ``_FILE``)."""
    if getattr(args, "token_file", None):
        environ = {"FEDAPAY_BRIDGE_QUERY_TOKEN_FILE": args.token_file}
    return Env(environ).secret("QUERY_TOKEN")


def fetch(
    url: str,
    path: str,
    params: Mapping[str, str],
    timeout: float,
    bearer: str | None = None,
) -> tuple[int, Any]:
    """GET a worker's JSON answer: (status, document)."""
    query = f"?{urllib.parse.urlencode(params)}" if params else ""
    target = f"{url.rstrip('/')}{path}{query}"
    if not target.startswith(("http://", "https://")):
        raise ValueError("--url must be an http(s) URL")
    headers = {} if bearer is None else {"Authorization": f"Bearer {bearer}"}
    request = urllib.request.Request(target, headers=headers)  # noqa: S310 - checked above
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - checked
            return int(response.status), json.loads(response.read())
    except urllib.error.HTTPError as exc:
        try:
            return exc.code, json.loads(exc.read())
        except ValueError:
            return exc.code, {"error": "http", "reason": str(exc.reason)}


def _answer(
    args: argparse.Namespace,
    environ: Mapping[str, str],
    path: str,
    params: Mapping[str, str],
    render: Any,
) -> int:
    try:
        status, document = fetch(args.url, path, params, args.timeout, token(args, environ))
    except ConfigError as exc:
        sys.stderr.write(f"fedapay-bridge query: {exc}\n")
        return 1
    except (OSError, ValueError) as exc:
        sys.stderr.write(f"fedapay-bridge query: {args.url}: {exc}\n")
        return 1
    if args.json:
        sys.stdout.write(json.dumps(document, indent=2) + "\n")
    elif status == 200:
        sys.stdout.write(render(document))
    else:
        sys.stderr.write(f"{status} {document.get('error')}: {document.get('reason')}\n")
        if document.get("endpoints"):
            sys.stderr.write(f"endpoints: {', '.join(document['endpoints'])} (use --endpoint)\n")
    return 0 if status == 200 else 1


def run_summary(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    params = {"minutes": str(args.minutes), **_params(args)}
    return _answer(args, environ, "/query/summary", params, render_summary)


def run_range(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    params = {"from": args.from_, "to": args.to, **_params(args)}
    if args.resolution:
        params["resolution"] = args.resolution
    return _answer(args, environ, "/query/range", params, render_range)


def run_transaction(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    path = f"/transactions/{urllib.parse.quote(args.id, safe='')}"
    params = {"endpoint": args.endpoint} if args.endpoint else {}
    return _answer(args, environ, path, params, render_transaction)


# ------------------------------------------------------------------ rendering (pure)


def table(headers: Sequence[str], rows: Sequence[Sequence[object]], *, left: int = 1) -> str:
    """Columns aligned: the first ``left`` ones to the left, the others to the right."""
    cells = [[_cell(v) for v in row] for row in [headers, *rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = []
    for row in cells:
        parts = [
            cell.ljust(width) if i < left else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(parts).rstrip())
    return "\n".join(lines) + "\n"


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.1%}"
    return str(value)


def _latency(reading: Mapping[str, Any]) -> str:
    if not reading.get("count"):
        return "-"
    return f"p50 {_cell(reading['p50'])}  p90 {_cell(reading['p90'])}  p99 {_cell(reading['p99'])}"


def _frame_filters(doc: Mapping[str, Any]) -> str:
    chosen = {"endpoint": doc["endpoint"]} if doc.get("endpoint") else {}
    return ", ".join(f"{k}={v}" for k, v in {**chosen, **doc.get("filters", {})}.items())


def render_summary(doc: Mapping[str, Any]) -> str:
    filters = _frame_filters(doc)
    head = f"Last {doc['minutes']} minutes ({doc['from']} .. {doc['to']})"
    head += f", {filters}\n" if filters else "\n"
    return head + "\n" + render_reading(doc)


def _total(value: Any) -> object:
    """A total's cell: a count, or a latency reading (its percentiles)."""
    return _latency(value) if isinstance(value, Mapping) else value


def render_reading(doc: Mapping[str, Any]) -> str:
    rows = [[r.label, _total(doc[r.name])] for r in READINGS if r.label and r.name in doc]
    parts = [table(["metric", "value"], rows)]
    names = sorted(set(doc["events"]) | set(doc["duplicates"]))
    if names:
        rows = [[n, doc["events"].get(n, 0), doc["duplicates"].get(n, 0)] for n in names]
        parts.append(table(["event", "events", "duplicates"], rows))
    if doc["entered_status"]:
        currencies = sorted(doc["amount"])
        rows = [
            [status, count, *(doc["amount"][c].get(status) for c in currencies)]
            for status, count in doc["entered_status"].items()
        ]
        parts.append(
            table(["status entered", "transactions", *(f"amount {c}" for c in currencies)], rows)
        )
    if doc["approval"]:
        rows = [
            [mode, a["approved"], a["decided"], a["rate"]] for mode, a in doc["approval"].items()
        ]
        parts.append(table(["operator", "approved", "decided", "approval rate"], rows))
    return "\n".join(parts)


def render_range(doc: Mapping[str, Any]) -> str:
    rows = [
        [
            w["start"],
            w["deliveries"],
            w["events_total"],
            w["duplicates_total"],
            w["entered_status"].get("approved", 0),
            w["anomalies_total"],
            w["latency_ms"]["p90"],
        ]
        for w in doc["windows"]
    ]
    total = doc["total"]
    rows.append(
        [
            "total",
            total["deliveries"],
            total["events_total"],
            total["duplicates_total"],
            total["entered_status"].get("approved", 0),
            total["anomalies_total"],
            total["latency_ms"]["p90"],
        ]
    )
    filters = _frame_filters(doc)
    head = f"{doc['resolution']} windows from {doc['from']} to {doc['to']}"
    head += f", {filters}\n\n" if filters else "\n\n"
    headers = [
        "window start",
        "deliveries",
        "events",
        "duplicates",
        "approved",
        "anomalies",
        "p90 ms",
    ]
    return head + table(headers, rows)


def render_transaction(doc: Mapping[str, Any]) -> str:
    details = table(
        ["transaction", doc["transaction_id"]],
        [
            ["endpoint", doc.get("endpoint")],
            ["status", doc["status"]],
            ["updated at", doc["updated_at"]],
            ["by event", doc["event"]],
            ["reference", doc["reference"]],
            ["amount", f"{_cell(doc['amount'])} {doc['currency'] or ''}".strip()],
            ["stale deliveries", doc["stale_deliveries"]],
            ["anomalies", doc["anomalies"]],
        ],
        left=2,
    )
    rows = [[h["status"], h["updated_at"]] for h in doc["history"]]
    history = table(["status", "updated at"], rows, left=2)
    return details + "\n" + history
