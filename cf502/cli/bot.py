"""`cf502 bot`: run the Slack app (`bot.run`), in Socket Mode or HTTP mode.

This is the Slack app's process entry (`python -m bot` runs it too): the one place that joins `bot`
to its listeners in `handlers/`, which `bot` itself never imports.
"""

from __future__ import annotations

import argparse

__all__ = ["add_options", "run"]


def add_options(parser: argparse.ArgumentParser) -> None:
    from bot.options import add_bot_options

    add_bot_options(parser)


def run(args: argparse.Namespace) -> int:
    import handlers
    from bot.run import start

    return start(handlers.register, args.http, args.host, args.port, args.env_file)
