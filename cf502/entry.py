"""The `cf502` command's entry point (and `python -m cf502`).

For `cf502 check NAME`, the name's first DNS queries go out before the command line is even
imported (`cf502.firstargs`: ~40 ms earlier on a cold start); then `cf502.cli.entry` reads,
validates and runs the command line as always. Standard library only before the queries.
"""

from __future__ import annotations

import os
import sys

__all__ = ["main"]


def main() -> None:
    from cf502.firstargs import resolve_request

    request = resolve_request(sys.argv[1:], os.environ)
    if request is not None:
        from cf502.firstquery import send_early

        send_early(*request)
    from cf502.cli import entry

    entry()
