"""The ``memlane`` command: the REST server and one-shot memory commands.

    memlane serve [--host 127.0.0.1] [--port 8000]
    memlane add "I'm vegetarian" --user-id alice [--no-infer] [--metadata JSON]
    memlane search "what do I eat?" --user-id alice [--limit N] [--filters JSON]
    memlane list --user-id alice
    memlane get ID | update ID TEXT | delete ID | history ID

Every command takes ``--config FILE`` (a JSON config, as AsyncMemory accepts), else
``$MEMLANE_CONFIG``, else AsyncMemory's defaults. Results are JSON on stdout (indented
when stdout is a terminal); an error is one line on stderr and an exit code naming its
class (see :func:`memlane.server.error_codes.exit_codes_help`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from memlane._native import __version__
from memlane.errors import MemlaneError
from memlane.inputs import MAX_LIMIT
from memlane.server import commands
from memlane.server.config_file import CONFIG_ENV, load_config
from memlane.server.error_codes import EXIT_OK, EXIT_USAGE, code_for, exit_codes_help, one_line

__all__ = ["build_parser", "main"]

# SIGINT's conventional exit status (128 + 2).
_EXIT_INTERRUPTED = 130
_FILTERS_HELP = """JSON filter ANDed with the scope, e.g. '{"topic": {"in": ["food", "travel"]}}'"""


class _Parser(argparse.ArgumentParser):
    """argparse with its usage errors on one line, like every other memlane error."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def _json_object(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        raise argparse.ArgumentTypeError(f"not JSON ({err})") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(
            f'must be a JSON object like \'{{"k": "v"}}\', got {text!r}'
        )
    return value


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if not 1 <= value <= MAX_LIMIT:
        raise argparse.ArgumentTypeError(f"must be a positive integer up to 2**63-1, got {value}")
    return value


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be 0 to 65535, got {value}")
    return value


def _common_options() -> _Parser:
    common = _Parser(add_help=False)
    # SUPPRESS, so that a --config given before the command is not reset by the
    # sub-command's own (absent) --config.
    common.add_argument(
        "--config",
        metavar="FILE",
        default=argparse.SUPPRESS,
        help=f"JSON config file (same shape as AsyncMemory's config dict); default ${CONFIG_ENV}",
    )
    return common


def _scope_options() -> _Parser:
    scope = _Parser(add_help=False)
    group = scope.add_argument_group("scope (at least one)")
    group.add_argument("--user-id", metavar="ID")
    group.add_argument("--agent-id", metavar="ID")
    group.add_argument("--run-id", metavar="ID")
    return scope


def build_parser() -> argparse.ArgumentParser:
    """The ``memlane`` argument parser (exposed for documentation and tests)."""
    common, scope = _common_options(), _scope_options()
    parser = _Parser(
        prog="memlane",
        description="Long-term memory for AI agents: a REST server and one-shot commands.",
        epilog=exit_codes_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=f"memlane {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(name: str, summary: str, *parents: _Parser) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=summary, description=summary, parents=[common, *parents])

    serve = command("serve", "run the REST server until Ctrl+C or SIGTERM")
    # Loopback by default: the server has no authentication, and all interfaces would
    # hand every user's memories (and POST /reset) to the network. Opt in explicitly.
    serve.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1: this machine only)",
    )
    serve.add_argument(
        "--port", type=_port, default=8000, help="TCP port (default 8000; 0: any free port)"
    )
    serve.add_argument(
        "--log-level",
        default="info",
        choices=["critical", "error", "warning", "info", "debug", "trace"],
    )

    add = command("add", "store a memory", scope)
    add.add_argument("text", metavar="TEXT", help="what the user said (one user message)")
    add.add_argument(
        "--no-infer",
        dest="infer",
        action="store_false",
        help="store TEXT verbatim instead of asking the LLM for facts",
    )
    add.add_argument(
        "--metadata", type=_json_object, metavar="JSON", help="JSON object stored with it"
    )
    add.set_defaults(run=commands.add)

    search = command("search", "the memories of a scope most relevant to QUERY", scope)
    search.add_argument("query", metavar="QUERY")
    search.add_argument("--limit", type=_count, metavar="N", help="at most N results (default 100)")
    search.add_argument("--filters", type=_json_object, metavar="JSON", help=_FILTERS_HELP)
    search.add_argument("--threshold", type=float, metavar="SCORE", help="minimum score, 0 to 1")
    search.set_defaults(run=commands.search)

    listing = command("list", "the memories of a scope, oldest first", scope)
    listing.add_argument(
        "--limit", type=_count, metavar="N", help="at most N memories (default 100)"
    )
    listing.add_argument("--filters", type=_json_object, metavar="JSON", help=_FILTERS_HELP)
    listing.set_defaults(run=commands.list_)

    for name, text in (
        ("get", "one memory"),
        ("delete", "delete one memory"),
        ("history", "what happened to a memory, oldest first"),
    ):
        one = command(name, text)
        one.add_argument("memory_id", metavar="ID")
        one.set_defaults(run=commands.COMMANDS[name])

    update = command("update", "replace a memory's text (re-embedded) and/or metadata")
    update.add_argument("memory_id", metavar="ID")
    update.add_argument("text", metavar="TEXT", nargs="?", help="the new text")
    update.add_argument(
        "--metadata", type=_json_object, metavar="JSON", help="replaces the metadata"
    )
    update.set_defaults(run=commands.update)
    return parser


def _print_json(value: Any) -> None:
    pretty = sys.stdout.isatty()
    text = json.dumps(value, ensure_ascii=False, indent=2 if pretty else None) + "\n"
    # JSON is UTF-8 whatever the locale says.
    buffer = getattr(sys.stdout, "buffer", None)
    if buffer is None:
        sys.stdout.write(text)
    else:
        sys.stdout.flush()
        buffer.write(text.encode("utf-8"))
    sys.stdout.flush()


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the ``memlane`` command line.

    Args:
        argv: the arguments after the program name; None reads ``sys.argv``.

    Returns:
        The exit code: 0 on success, 2 for bad usage, 3-8 for memlane's errors (one per
        exception class), 9 when ``serve`` cannot start. ``--help`` lists them.

    Example:
        >>> main(["list", "--user-id", "alice"])
        0
    """
    args = build_parser().parse_args(argv)
    try:
        config = load_config(getattr(args, "config", None))
        if args.command == "serve":
            from memlane.server.serve import serve

            return serve(config, host=args.host, port=args.port, log_level=args.log_level)
        result = asyncio.run(commands.run(args.run, args, config))
        _print_json(result)
    except MemlaneError as err:
        print(f"memlane: {type(err).__name__}: {one_line(err)}", file=sys.stderr)
        return code_for(err).exit_code
    except KeyboardInterrupt:
        return _EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`memlane list ... | head`): not an error worth a
        # traceback. Point stdout at /dev/null so the interpreter's final flush is quiet.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    return EXIT_OK
