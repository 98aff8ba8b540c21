"""What the command line needs to know about the terminal it writes to."""

from __future__ import annotations

import argparse
import os
import sys

__all__ = ["log_to_stderr", "report_width", "use_color"]

# Reports read best at most this wide, however wide the terminal.
MAX_WIDTH = 100
MIN_WIDTH = 40


def use_color(args: argparse.Namespace) -> bool:
    """Colours only on a terminal, unless --no-color, NO_COLOR or TERM=dumb say otherwise."""
    return (
        not args.no_color
        and sys.stdout.isatty()
        and "NO_COLOR" not in os.environ
        and os.environ.get("TERM") != "dumb"
    )


def report_width() -> int:
    """The width to wrap reports to: the terminal's (or $COLUMNS), 80 when unknown, capped."""
    import shutil  # only for a report on a terminal (not before a --json check's first packet)

    columns = shutil.get_terminal_size((80, 24)).columns
    return max(MIN_WIDTH, min(columns, MAX_WIDTH))


def log_to_stderr() -> None:
    """cf502's log lines (warnings and worse) on stderr as `cf502: WARNING: ...`. `cf502 check`
    calls this after its first packet: logging costs ~4 ms to import, and asyncio imports it
    then anyway."""
    import logging

    logging.basicConfig(level=logging.WARNING, format="cf502: %(levelname)s: %(message)s")
