"""`cf502 demo`: diagnose the demo's broken origins on loopback; no network, nothing to set up.

Exit status: 0 when every demo origin's diagnosis found the fault planted there, 1 otherwise.
"""

from __future__ import annotations

import argparse
import sys
import time

from cf502.cli.terminal import report_width, use_color
from cf502.options import UsageError

__all__ = ["add_options", "run"]


def add_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--show",
        metavar="NAME",
        help="print the full report of the demo origin NAME (e.g. expired-cert)",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="print JSON: every origin with its report, or NAME's report as `check --json`",
    )
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="show evidence for every check"
    )
    parser.add_argument("--no-color", action="store_true", help="no colours in the output")


def run(args: argparse.Namespace) -> int:
    # The demo's servers and the engine load only when the demo runs (see cf502.cli).
    import asyncio

    from cf502.demo.run import run_demo
    from cf502.demo.scenarios import SCENARIOS, by_name
    from cf502.demo.summary import summary_json, summary_text
    from cf502.render.json_output import report_json
    from cf502.render.text import report_text
    from cf502.render.wrap import wrap_text

    scenarios = SCENARIOS
    if args.show is not None:
        chosen = by_name(args.show)
        if chosen is None:
            names = ", ".join(s.name for s in SCENARIOS)
            raise UsageError(f"There is no demo origin {args.show!r}; choose from {names}.")
        scenarios = (chosen,)
    started = time.perf_counter()
    outcomes = asyncio.run(run_demo(scenarios))
    seconds = time.perf_counter() - started
    color = use_color(args)
    if args.show is not None:
        outcome = outcomes[0]
        if args.json:
            sys.stdout.write(report_json(outcome.report) + "\n")
        else:
            width = report_width()
            about = f"Demo origin {outcome.scenario.name}: {outcome.scenario.fault}."
            sys.stdout.write("\n".join(wrap_text(about, width, rest="  ")) + "\n\n")
            text = report_text(outcome.report, color=color, verbose=args.verbose, width=width)
            sys.stdout.write(text)
    elif args.json:
        sys.stdout.write(summary_json(outcomes) + "\n")
    else:
        sys.stdout.write(summary_text(outcomes, seconds, color=color, width=report_width()))
    return 0 if all(o.found for o in outcomes) else 1
