"""The one place where errors become HTTP answers, and where outcomes are counted."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import orjson
from aiohttp import web

from ingress.context import CONTEXT
from ingress.errors import IngressError, PayloadTooLarge

#: Refusals log under ``ingress.refused.<code>``: common.logs lets each through once per 10 s.
REFUSED_LOGGER = "ingress.refused"
#: Characters of a refused request's path that reach the log (the path is the client's text).
LOGGED_PATH_CHARS = 64

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

#: aiohttp's own refusals that have a code of ours. Unknown paths and methods never reach
#: aiohttp's 404 and 405: the routes end in catch-alls that raise ours
#: (``ingress.app._routes``).
_AIOHTTP_ERRORS: dict[int, type[IngressError]] = {
    413: PayloadTooLarge,
}

#: Request key where the webhook handler leaves its outcome for the counter.
OUTCOME = web.RequestKey("outcome", str)

_ACCEPTED_BODY = orjson.dumps({"status": "accepted"})
_JSON_HEADERS = {"Content-Type": "application/json"}


def json_response(status: int, document: dict[str, str], **headers: str) -> web.Response:
    return web.Response(
        status=status, body=orjson.dumps(document), content_type="application/json", headers=headers
    )


def accepted_response() -> web.Response:
    """``json_response(200, {"status": "accepted"})``, from prebuilt parts."""
    return web.Response(body=_ACCEPTED_BODY, headers=_JSON_HEADERS)


def error_response(error: IngressError) -> web.Response:
    document = {"error": error.code}
    if error.reason is not None:
        document["reason"] = error.reason
    return json_response(error.status, document, **error.headers)


def _from_aiohttp(exc: web.HTTPException) -> IngressError:
    kind = _AIOHTTP_ERRORS.get(exc.status)
    if kind is not None:
        return kind(exc.reason)
    error = IngressError(exc.reason)
    error.status = exc.status
    error.code = f"http_{exc.status}"
    return error


@web.middleware
async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        response = await handler(request)
    except IngressError as exc:
        _record(request, exc.code)
        logging.getLogger(f"{REFUSED_LOGGER}.{exc.code}").info(
            "request refused",
            extra={"path": logged_path(request.path), "code": exc.code, "reason": exc.reason},
        )
        return error_response(exc)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        error = _from_aiohttp(exc)
        _record(request, error.code)
        return error_response(error)
    outcome = request.get(OUTCOME)
    if outcome is not None:
        _record(request, outcome)
    return response


def logged_path(path: str) -> str:
    """The path cut to ``LOGGED_PATH_CHARS`` characters, an ellipsis marking a cut."""
    return path if len(path) <= LOGGED_PATH_CHARS else path[:LOGGED_PATH_CHARS] + "…"


def _record(request: web.Request, outcome: str) -> None:
    """Count webhook requests; other routes are not counted."""
    endpoint = request.match_info.get("endpoint")
    if endpoint is None:
        return
    context = request.app[CONTEXT]
    label = endpoint if endpoint in context.settings.endpoints else "unknown"
    context.metrics.count_request(label, outcome)
