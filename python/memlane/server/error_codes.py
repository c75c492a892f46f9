"""How each memlane error is reported outside Python: an HTTP status for the REST server,
an exit code for the command line.

One table for both, so the server and the command line never disagree about what an error
means. Plain Python (no FastAPI import): the command line works without the server extra.
"""

from __future__ import annotations

from dataclasses import dataclass
from http import HTTPStatus

from memlane.errors import (
    EmbeddingError,
    LLMError,
    MemlaneError,
    MemoryNotFoundError,
    StoreError,
    ValidationError,
)

__all__ = [
    "EXIT_OK",
    "EXIT_SERVE_FAILED",
    "EXIT_USAGE",
    "ErrorCode",
    "code_for",
    "exit_codes_help",
    "one_line",
]

#: The command succeeded.
EXIT_OK = 0
#: Bad command-line usage: unknown option, missing argument, malformed JSON argument
#: (argparse's own convention).
EXIT_USAGE = 2
#: ``memlane serve`` could not start: the address cannot be bound, or the server extra
#: (FastAPI, uvicorn) is not installed.
EXIT_SERVE_FAILED = 9


@dataclass(frozen=True)
class ErrorCode:
    """What one exception class means outside Python."""

    http_status: HTTPStatus
    exit_code: int
    meaning: str


# code_for() walks the exception's MRO, so the nearest class listed here wins whatever
# the order below (a MemoryNotFoundError is a ValueError but not a ValidationError).
_CODES: dict[type[MemlaneError], ErrorCode] = {
    # 422, not 400: FastAPI answers 422 for a body it cannot decode, so every rejected
    # input gets the same status whichever layer caught it.
    ValidationError: ErrorCode(HTTPStatus.UNPROCESSABLE_ENTITY, 3, "bad arguments or config"),
    MemoryNotFoundError: ErrorCode(HTTPStatus.NOT_FOUND, 4, "no memory has that id"),
    # 502: the server is fine; the LLM or embedding server behind it failed.
    LLMError: ErrorCode(HTTPStatus.BAD_GATEWAY, 5, "the LLM failed or its answer was unusable"),
    EmbeddingError: ErrorCode(HTTPStatus.BAD_GATEWAY, 6, "the embedder failed"),
    # 503: disk full, store locked or unreachable; retrying later may succeed.
    StoreError: ErrorCode(
        HTTPStatus.SERVICE_UNAVAILABLE, 7, "the store failed (in use, disk full)"
    ),
    # Any other memlane error (a call after close, a future subclass): reported, not a
    # traceback, but it is the server's fault rather than the caller's.
    MemlaneError: ErrorCode(HTTPStatus.INTERNAL_SERVER_ERROR, 8, "any other memlane error"),
}


def code_for(error: MemlaneError) -> ErrorCode:
    """The status and exit code of ``error``: those of the nearest class in its MRO.

    Example:
        >>> code_for(MemoryNotFoundError("no memory with id 'x'")).exit_code
        4
    """
    for cls in type(error).__mro__:
        code = _CODES.get(cls)
        if code is not None:
            return code
    raise TypeError(f"not a memlane error: {type(error).__name__}")  # unreachable for MemlaneError


def one_line(error: BaseException) -> str:
    """``error``'s message on a single line (messages may quote multi-line input)."""
    lines = [line.strip() for line in str(error).splitlines()]
    return " ".join(line for line in lines if line) or type(error).__name__


def exit_codes_help() -> str:
    """The exit-code table, as the command line's ``--help`` shows it."""
    rows = [(EXIT_OK, "success"), (EXIT_USAGE, "bad command-line usage")]
    rows += [(code.exit_code, f"{cls.__name__}: {code.meaning}") for cls, code in _CODES.items()]
    rows.append((EXIT_SERVE_FAILED, "serve could not start (address in use, server extra missing)"))
    return "exit codes:\n" + "\n".join(f"  {code}  {meaning}" for code, meaning in rows)
