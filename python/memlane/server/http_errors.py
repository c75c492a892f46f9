"""Every error the REST server answers, as ``{"error": "<name>", "detail": "<message>"}``.

memlane's exceptions get the status of :mod:`memlane.server.error_codes`; a request
FastAPI cannot decode gets 422 with ``"error": "ValidationError"``, like a request memlane
itself refuses, so a client handles one shape. Nothing answers with a traceback: an
unexpected exception is a 500 whose traceback goes to the server log only.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from memlane.errors import MemlaneError
from memlane.server.error_codes import code_for, one_line

__all__ = ["error_response", "install_error_handlers"]

logger = logging.getLogger("memlane.server")

_BAD_BODY = "the request body must be a JSON object, sent with Content-Type: application/json"


def error_response(status: int, error: str, detail: str) -> JSONResponse:
    """The server's one error shape."""
    return JSONResponse({"error": error, "detail": detail}, status_code=status)


def _describe(errors: Sequence[Any]) -> str:
    """pydantic's error list as one readable line: ``body.limit: Input should be ...``."""
    parts = []
    for err in errors:
        loc = tuple(err.get("loc", ()))
        kind = err.get("type")
        if loc == ("body",) and kind in ("missing", "model_attributes_type"):
            parts.append(_BAD_BODY)
            continue
        if kind == "json_invalid":
            # loc is ("body", <character offset>)
            reason = (err.get("ctx") or {}).get("error", "malformed")
            parts.append(f"the request body is not valid JSON: {reason} (at character {loc[-1]})")
            continue
        where = ""
        for item in loc:
            where += f"[{item}]" if isinstance(item, int) else (f".{item}" if where else str(item))
        message = err.get("msg", "invalid")
        parts.append(f"{where}: {message}" if where else message)
    return "; ".join(dict.fromkeys(parts))  # keeps order, drops repeats


async def _on_memlane_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, MemlaneError)
    status = code_for(exc).http_status
    if status >= 500:
        # The caller did nothing wrong: operators need to see these. One line, because
        # the cause (an LLM down, a full disk) is in the message, not the stack.
        logger.warning(
            "%s %s -> %d %s: %s",
            request.method,
            request.url.path,
            status,
            type(exc).__name__,
            one_line(exc),
        )
    return error_response(status, type(exc).__name__, one_line(exc))


async def _on_invalid_request(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return error_response(
        HTTPStatus.UNPROCESSABLE_ENTITY, "ValidationError", _describe(exc.errors())
    )


async def _on_http_error(request: Request, exc: Exception) -> JSONResponse:
    # Unknown routes (404) and wrong methods (405): same shape, named after the status.
    assert isinstance(exc, HTTPException)
    try:
        name = HTTPStatus(exc.status_code).phrase.title().replace(" ", "").replace("-", "")
    except ValueError:  # a status code the standard library does not name
        name = "HTTPError"
    response = error_response(exc.status_code, name, str(exc.detail))
    for header, value in (exc.headers or {}).items():
        response.headers[header] = value  # e.g. Allow on a 405
    return response


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    # Starlette re-raises once this answer is sent, so the ASGI server logs the
    # traceback; the client gets no internals, only where to look.
    return error_response(
        HTTPStatus.INTERNAL_SERVER_ERROR,
        "InternalServerError",
        f"unexpected {type(exc).__name__}; the server log has the details",
    )


def install_error_handlers(app: FastAPI) -> None:
    """Registers the handlers that give every error response the shape above."""
    app.add_exception_handler(MemlaneError, _on_memlane_error)
    app.add_exception_handler(RequestValidationError, _on_invalid_request)
    app.add_exception_handler(HTTPException, _on_http_error)
    app.add_exception_handler(Exception, _on_unexpected)
