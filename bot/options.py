"""The `cf502 bot` options. Kept apart from `bot.run` so the CLI can offer them without importing
Slack's libraries for every command."""

from __future__ import annotations

import argparse

__all__ = ["add_bot_options"]


def add_bot_options(parser: argparse.ArgumentParser) -> None:
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
