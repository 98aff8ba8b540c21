"""The `cf502` command: argv -> diagnose -> render; exit 0/1/2; one-line errors, never a traceback.

Exit status (the command-line contract): 0 no check failed; 1 at least one check failed (or could
not run: `error`); 2 bad input or usage; 3 an unexpected internal error (reported in one line).

One module per subcommand (`check`, `demo`, `decode`, `worker`, `bot`), each with its options and
its `run`. They import the heavy parts they run (Redis, Slack, aiohttp, prometheus_client, the
demo's servers) inside their functions, not at the top: building this parser, and `cf502 check`,
must not pay for the worker's or the bot's libraries (tests/test_layers.py holds them to it).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from cf502 import __version__
from cf502.cli import bot, check, decode, demo, worker
from cf502.errors import Cf502Error, error_line
from cf502.options import OptionParser, UsageError

__all__ = ["COMMANDS", "build_parser", "entry", "main"]

EXIT_USAGE, EXIT_INTERNAL = 2, 3  # 0 and 1 are the report's (`cf502.cli.check`)

log = logging.getLogger("cf502")


@dataclass(frozen=True, slots=True)
class Subcommand:
    """One `cf502 COMMAND`: its help line, its description, its options and what runs it."""

    help: str
    description: str
    add_options: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


COMMANDS: dict[str, Subcommand] = {
    "check": Subcommand(
        help="diagnose an origin the way CloudFront connects to it",
        description="Diagnose an origin the way CloudFront connects to it.",
        add_options=check.add_options,
        run=check.run,
    ),
    "demo": Subcommand(
        help="diagnose broken origins on loopback: see a report with nothing to set up",
        description=(
            "Start a few broken origins on loopback (expired certificate, wrong name, missing "
            "intermediate, closed port, slow answer, oversized headers, a CloudFront site) with "
            "their own DNS and CA, diagnose each one, and print the verdicts. No network needed."
        ),
        add_options=demo.add_options,
        run=demo.run,
    ),
    "decode": Subcommand(
        help="explain a pasted CloudFront log line, X-Cache value or error page",
        description=(
            "Explain what CloudFront logged or answered: a standard-log line (W3C or JSON), an "
            "x-edge-detailed-result-type or X-Cache value, or its error page; print the cause and "
            "the cf502 check command that confirms it."
        ),
        add_options=decode.add_options,
        run=decode.run,
    ),
    "worker": Subcommand(
        help="run diagnoses from the Redis job queue",
        description="Run CloudFront origin diagnoses from the Redis job queue.",
        add_options=worker.add_options,
        run=worker.run_worker,
    ),
    "bot": Subcommand(
        help="run the Slack app (Socket Mode; --http for POST /slack/events)",
        description="Run the cf502 Slack app; settings come from the environment or .env.",
        add_options=bot.add_options,
        run=bot.run,
    ),
}


def build_parser() -> OptionParser:
    parser = OptionParser(
        prog="cf502",
        description="Find out why CloudFront answers 502/504 for an origin.",
    )
    parser.add_argument("--version", action="version", version=f"cf502 {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=OptionParser)
    for name, command in COMMANDS.items():
        command.add_options(
            sub.add_parser(name, help=command.help, description=command.description)
        )
    return parser


def _one_line(message: str) -> str:
    return " ".join(str(message).split())


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="cf502: %(levelname)s: %(message)s")
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if args.command is None:
            raise UsageError("Give a command, e.g. `cf502 check origin.example.com` (see --help).")
        return COMMANDS[args.command].run(args)
    except Cf502Error as exc:
        sys.stderr.write(error_line(str(exc)))
        return EXIT_USAGE
    except KeyboardInterrupt:
        sys.stderr.write("cf502: interrupted\n")
        return 130
    except Exception as exc:  # the last line of defence: no traceback reaches the user
        log.debug("internal error", exc_info=True)
        sys.stderr.write(
            f"cf502: internal error: {type(exc).__name__}: {_one_line(str(exc))[:300]}\n"
        )
        return EXIT_INTERNAL


def entry() -> None:
    """The `cf502` command (and `python -m cf502`): `main`, then leave without the interpreter's
    teardown. Unwinding every module of a process that loaded cryptography, pyOpenSSL and asyncio
    costs ~30 ms of the engineer's wait for nothing: by now the event loop, its threads and its
    sockets are closed, so only the output is left to flush."""
    code = main()
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a reader that left (`| head`): nothing more to say
            pass
    os._exit(code)


if __name__ == "__main__":
    entry()
