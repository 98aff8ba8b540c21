"""The `cf502` command: argv -> diagnose -> render; exit 0/1/2; one-line errors, never a traceback.

Exit status (the command-line contract): 0 no check failed; 1 at least one check failed (or could
not run: `error`); 2 bad input or usage; 3 an unexpected internal error (reported in one line).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Sequence

from cf502 import __version__
from cf502.config import EngineSettings
from cf502.engine import diagnose, selection
from cf502.errors import Cf502Error
from cf502.model import CheckResult, Report
from cf502.options import (
    OptionParser,
    UsageError,
    add_engine_options,
    add_origin_options,
    engine_from_args,
    origin_from_args,
)
from cf502.render.json_output import report_json
from cf502.render.text import progress_line, report_text
from cf502.target import parse_target
from cf502.worker import add_worker_options

__all__ = ["build_parser", "main"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3

log = logging.getLogger("cf502")


def build_parser() -> OptionParser:
    parser = OptionParser(
        prog="cf502",
        description="Find out why CloudFront answers 502/504 for an origin.",
    )
    parser.add_argument("--version", action="version", version=f"cf502 {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=OptionParser)
    check = sub.add_parser(
        "check",
        help="diagnose an origin the way CloudFront connects to it",
        description="Diagnose an origin the way CloudFront connects to it.",
    )
    check.add_argument("target", help="origin host, host:port or URL (https://host:8443/path)")
    check.add_argument("--json", action="store_true", help="print one JSON report on stdout")
    check.add_argument("-v", "--verbose", action="store_true", help="show evidence for every check")
    check.add_argument("--no-color", action="store_true", help="no colours in the human report")
    check.add_argument(
        "--redis-url",
        metavar="URL",
        help="run the diagnosis on the worker pool at URL (the workers' safety settings apply)",
    )
    add_origin_options(check)
    add_engine_options(check)
    worker = sub.add_parser(
        "worker",
        help="run diagnoses from the Redis job queue",
        description="Run CloudFront origin diagnoses from the Redis job queue.",
    )
    add_worker_options(worker)
    add_engine_options(worker)
    from bot.options import add_bot_options

    bot = sub.add_parser(
        "bot",
        help="run the Slack app (Socket Mode; --http for POST /slack/events)",
        description="Run the cf502 Slack app; settings come from the environment or .env.",
    )
    add_bot_options(bot)
    return parser


def _use_color(args: argparse.Namespace) -> bool:
    return (
        not args.no_color
        and sys.stdout.isatty()
        and "NO_COLOR" not in os.environ
        and os.environ.get("TERM") != "dumb"
    )


async def _run_check(args: argparse.Namespace) -> Report:
    target = parse_target(args.target)
    origin = origin_from_args(target, args)
    engine = engine_from_args(args, EngineSettings())
    _, to_report = selection(args.only, origin)
    show_progress = sys.stderr.isatty() and not args.json
    done = 0

    def progress(res: CheckResult) -> None:
        nonlocal done
        done += 1
        if show_progress:
            line = progress_line(done, len(to_report), res)
            sys.stderr.write(f"\r\x1b[2K{line}")
            sys.stderr.flush()

    try:
        if args.redis_url:
            from cf502.remote import job_from_args, remote_check

            job = job_from_args(args, target, origin)
            return await remote_check(args.redis_url, job, progress)
        return await diagnose(target, origin, engine, only=args.only, on_result=progress)
    finally:
        if show_progress:
            sys.stderr.write("\r\x1b[2K")
            sys.stderr.flush()


def _check(args: argparse.Namespace) -> int:
    report = asyncio.run(_run_check(args))
    if args.json:
        sys.stdout.write(report_json(report) + "\n")
    else:
        sys.stdout.write(report_text(report, color=_use_color(args), verbose=args.verbose))
    return EXIT_FAILED if report.failed else EXIT_OK


def _one_line(message: str) -> str:
    return " ".join(str(message).split())


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="cf502: %(levelname)s: %(message)s")
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if args.command is None:
            raise UsageError("Give a command, e.g. `cf502 check origin.example.com` (see --help).")
        handler = COMMANDS[args.command]
        return handler(args)
    except Cf502Error as exc:
        sys.stderr.write(f"cf502: error: {_one_line(str(exc))}\n")
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


def _worker(args: argparse.Namespace) -> int:
    from cf502.worker import run_worker

    return run_worker(args)


def _bot(args: argparse.Namespace) -> int:
    from bot.run import start

    return start(args.http, args.host, args.port, args.env_file)


COMMANDS = {"check": _check, "worker": _worker, "bot": _bot}


if __name__ == "__main__":
    raise SystemExit(main())
