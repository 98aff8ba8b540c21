"""The `cf502` command: argv -> diagnose -> render; exit 0/1/2; one-line errors, never a traceback.

Exit status (the command-line contract): 0 no check failed; 1 at least one check failed (or could
not run: `error`); 2 bad input or usage; 3 an unexpected internal error (reported in one line).

One module per subcommand (`check`, `demo`, `decode`, `worker`, `bot`), each with its options and
its `run`, imported when its command is built or run. They import the heavy parts they run (Redis,
Slack, aiohttp, prometheus_client, the demo's servers) inside their functions, not at the top:
`cf502 check` must not pay for the worker's or the bot's libraries, nor build their options
(tests/test_layers.py holds them to it).
"""

from __future__ import annotations

import argparse
import gc
import importlib
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from types import ModuleType

from cf502 import __version__
from cf502.cli.terminal import log_to_stderr
from cf502.errors import Cf502Error, error_line
from cf502.options import OptionParser, UsageError

__all__ = ["COMMANDS", "build_parser", "entry", "main"]

EXIT_USAGE, EXIT_INTERNAL = 2, 3  # 0 and 1 are the report's (`cf502.cli.check`)


@dataclass(frozen=True)
class Subcommand:
    """One `cf502 COMMAND`: its help line, its description and the module (`cf502.cli.NAME`)
    with its options and what runs it, imported only when that command is built or run."""

    help: str
    description: str
    module: str
    runner: str = "run"

    def _loaded(self) -> ModuleType:
        return importlib.import_module(f"cf502.cli.{self.module}")

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        self._loaded().add_options(parser)

    def run(self, args: argparse.Namespace) -> int:
        code: int = getattr(self._loaded(), self.runner)(args)
        return code


COMMANDS: dict[str, Subcommand] = {
    "check": Subcommand(
        help="diagnose an origin the way CloudFront connects to it",
        description="Diagnose an origin the way CloudFront connects to it.",
        module="check",
    ),
    "demo": Subcommand(
        help="diagnose broken origins on loopback: see a report with nothing to set up",
        description=(
            "Start a few broken origins on loopback (expired certificate, wrong name, missing "
            "intermediate, closed port, slow answer, oversized headers, a CloudFront site) with "
            "their own DNS and CA, diagnose each one, and print the verdicts. No network needed."
        ),
        module="demo",
    ),
    "decode": Subcommand(
        help="explain a pasted CloudFront log line, X-Cache value or error page",
        description=(
            "Explain what CloudFront logged or answered: a standard-log line (W3C or JSON), an "
            "x-edge-detailed-result-type or X-Cache value, or its error page; print the cause and "
            "the cf502 check command that confirms it."
        ),
        module="decode",
    ),
    "worker": Subcommand(
        help="run diagnoses from the Redis job queue",
        description="Run CloudFront origin diagnoses from the Redis job queue.",
        module="worker",
        runner="run_worker",
    ),
    "bot": Subcommand(
        help="run the Slack app (Socket Mode; --http for POST /slack/events)",
        description="Run the cf502 Slack app; settings come from the environment or .env.",
        module="bot",
    ),
}


def build_parser(command: str | None = None) -> OptionParser:
    """The command line's parser; with `command`, only that subcommand's (`cf502 check ...`
    need not import and build the worker's and the bot's options)."""
    parser = OptionParser(
        prog="cf502",
        description="Find out why CloudFront answers 502/504 for an origin.",
    )
    parser.add_argument("--version", action="version", version=f"cf502 {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=OptionParser)
    for name, subcommand in COMMANDS.items():
        if command is None or name == command:
            subcommand.add_options(
                sub.add_parser(name, help=subcommand.help, description=subcommand.description)
            )
    return parser


def _one_line(message: str) -> str:
    return " ".join(str(message).split())


def main(argv: Sequence[str] | None = None) -> int:
    given = list(sys.argv[1:] if argv is None else argv)
    collecting = gc.isenabled()
    # Start-up is mostly imports, and the cyclic collector would walk every module's objects
    # again and again meanwhile (~15% of that CPU; for `check`, on the way to its first
    # handshake). Back on before a command runs, or for `check` once its checks have loaded.
    gc.disable()
    try:
        parser = build_parser(given[0] if given and given[0] in COMMANDS else None)
        args = parser.parse_args(given)
        if args.command is None:
            raise UsageError("Give a command, e.g. `cf502 check origin.example.com` (see --help).")
        if args.command != "check":  # (check sets up its logging after its first packet)
            log_to_stderr()
            if collecting:
                gc.enable()  # the long-running ones (worker, bot) and the rest: as usual
        return COMMANDS[args.command].run(args)
    except Cf502Error as exc:
        sys.stderr.write(error_line(str(exc)))
        return EXIT_USAGE
    except KeyboardInterrupt:
        sys.stderr.write("cf502: interrupted\n")
        return 130
    except Exception as exc:  # the last line of defence: no traceback reaches the user
        import logging  # (imported after a check's first packet, see `log_to_stderr`)

        logging.getLogger("cf502").debug("internal error", exc_info=True)
        sys.stderr.write(
            f"cf502: internal error: {type(exc).__name__}: {_one_line(str(exc))[:300]}\n"
        )
        return EXIT_INTERNAL
    finally:
        if collecting:
            gc.enable()


def entry() -> None:
    """The `cf502` command (and `python -m cf502`): `main`, then leave without the interpreter's
    teardown. Unwinding every module of a process that loaded cryptography, pyOpenSSL and asyncio
    costs ~30 ms of the engineer's wait for nothing: by now the event loop, its threads and its
    sockets are closed, so only the output is left to flush."""
    code = main()
    import logging  # loaded by the command by now

    logging.shutdown()  # (its handlers flushed)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a reader that left (`| head`): nothing more to say
            pass
    os._exit(code)


if __name__ == "__main__":
    entry()
