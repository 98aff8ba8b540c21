"""`cf502 decode TEXT|-`: explain a pasted CloudFront log line, result-type or `X-Cache` value, or
error page, and print the `cf502 check …` that confirms it. Exit 0 decoded, 2 not recognised."""

from __future__ import annotations

import argparse
import json
import sys

__all__ = ["add_options", "read_input", "run"]

EXIT_DECODED = 0


def add_options(decode: argparse.ArgumentParser) -> None:
    decode.add_argument(
        "text",
        nargs="+",
        metavar="TEXT",
        help="a log line (W3C or JSON), a result type, an X-Cache value or the error page; "
        "- reads standard input",
    )
    decode.add_argument("--json", action="store_true", help="print one JSON object on stdout")


def read_input(args: argparse.Namespace) -> tuple[str, bool]:
    """The text to decode and whether it was cut at the size limit."""
    from cf502.decode import MAX_INPUT

    if args.text == ["-"]:
        data = sys.stdin.buffer.read(MAX_INPUT + 1)
        # Undecodable bytes become U+FFFD: a log line with a stray byte is still read.
        return data[:MAX_INPUT].decode("utf-8", "replace"), len(data) > MAX_INPUT
    # Unquoted words (a log line pasted into the shell) arrive split: W3C fields are
    # separated by any white space, so joining them with spaces keeps the line readable.
    return " ".join(args.text), False


def run(args: argparse.Namespace) -> int:
    from cf502.decode import decode
    from cf502.render.decode_text import decoding_text

    text, truncated = read_input(args)
    decoding = decode(text, truncated=truncated)  # NotRecognised: one line, exit 2 (cf502.cli)
    if args.json:
        sys.stdout.write(json.dumps(decoding.to_json()) + "\n")
    else:
        sys.stdout.write(decoding_text(decoding))
    return EXIT_DECODED
