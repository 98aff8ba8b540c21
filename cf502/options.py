"""Command-line options shared by `cf502 check`, `cf502 worker` and the Slack `/cf502` command.

The options are derived from the settings' declarations (`cf502.settings`): the CloudFront origin
options (`add_origin_options`) are accepted everywhere; the operator's options
(`add_engine_options`) only where the operator runs cf502 (CLI, worker), never from Slack.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import replace
from typing import NoReturn

from cf502.errors import Cf502Error
from cf502.settings import (
    ENGINE,
    ORIGIN,
    SAFETY,
    EngineSettings,
    OriginSettings,
    Setting,
    add_options,
    given,
)
from cf502.target import Target

__all__ = [
    "OptionParser",
    "UsageError",
    "add_engine_options",
    "add_origin_options",
    "engine_from_args",
    "origin_from_args",
]


class UsageError(Cf502Error):
    """Raised instead of argparse's exit: bad options get one line, not a usage dump."""


class OptionParser(argparse.ArgumentParser):
    """An ArgumentParser that raises UsageError rather than printing and exiting."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(message[0].upper() + message[1:] + ".")


def add_origin_options(parser: argparse.ArgumentParser) -> None:
    """The CloudFront origin settings (defaults are CloudFront's), and the check selection."""
    g = parser.add_argument_group("CloudFront origin settings")
    add_options(g, ORIGIN)
    g.add_argument(
        "--only",
        action="append",
        metavar="CHECK_ID",
        help="run only this check (repeatable); prerequisites run too",
    )


def add_engine_options(
    parser: argparse.ArgumentParser, settings: Sequence[Setting] = SAFETY
) -> None:
    """The operator's settings: never offered to Slack users."""
    add_options(parser.add_argument_group("safety and environment (operator only)"), settings)


def origin_from_args(target: Target, args: argparse.Namespace) -> OriginSettings:
    """OriginSettings from parsed options; a typed URL fills ports/policy/path not given."""
    return OriginSettings.for_target(target, **given(args, ORIGIN))


def engine_from_args(
    args: argparse.Namespace, base: EngineSettings | None = None
) -> EngineSettings:
    """EngineSettings from the operator's options over `base` (defaults, or the environment's).

    The options were parsed and checked by their declarations: nothing is left to validate.
    """
    return replace(base or EngineSettings(), **given(args, ENGINE))
