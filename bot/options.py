"""The `cf502 bot` options. Kept apart from `bot.run` so the CLI can offer them without importing
Slack's libraries for every command."""

from __future__ import annotations

import argparse
import textwrap

from bot.settings import SETTINGS, Mode

__all__ = ["add_bot_options", "environment_help"]

_MODE_FLAG = {Mode.SOCKET: "Socket Mode, the default", Mode.HTTP: "HTTP mode, --http"}


def environment_help(width: int = 79) -> str:
    """The variables the bot reads, from their declarations: the required ones with what they
    are, then the names of the others (`.env.example` documents each one)."""
    lines = ["environment (or .env in the working directory, or --env-file FILE):", "  required:"]
    for spec in SETTINGS:
        if spec.default is not None:
            continue
        when = "; ".join(_MODE_FLAG[Mode(m)] for m in spec.required_in) or "always"
        lines += textwrap.wrap(
            f"{spec.name} ({when}): {spec.help}",
            width,
            initial_indent="    ",
            subsequent_indent="      ",
        )
    optional = ", ".join(spec.name for spec in SETTINGS if spec.default is not None)
    lines.append("  optional (each one with its default: python -m bot.envdoc):")
    lines += textwrap.wrap(optional, width, initial_indent="    ", subsequent_indent="    ")
    return "\n".join(lines)


def add_bot_options(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = environment_help()
    parser.add_argument(
        "--http", action="store_true", help="serve POST /slack/events instead of Socket Mode"
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="HTTP mode: address to listen on (127.0.0.1)"
    )
    parser.add_argument("--port", type=int, default=3000, help="HTTP mode: port (3000)")
    parser.add_argument(
        "--env-file",
        metavar="FILE",
        help="read settings from FILE, which must exist (default: .env, when present)",
    )
