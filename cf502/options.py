"""Command-line options shared by `cf502 check`, `cf502 worker` and the Slack `/cf502` command.

The options are derived from the settings' declarations (`cf502.settings`): the CloudFront origin
options (`add_origin_options`) are accepted everywhere; the operator's options
(`add_engine_options`) only where the operator runs cf502 (CLI, worker), never from Slack.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from dataclasses import replace
from typing import NoReturn

from cf502.errors import Cf502Error, InvalidTarget
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
from cf502.target import Target, parse_target

__all__ = [
    "OptionParser",
    "UsageError",
    "add_engine_options",
    "add_origin_options",
    "diagnosis_of",
    "engine_from_args",
    "origin_from_args",
]


class UsageError(Cf502Error):
    """Raised instead of argparse's exit: bad options get one line, not a usage dump."""


def _help_width() -> int:
    """What argparse's help is wrapped to: $COLUMNS, else the terminal's width, else 80 (as
    shutil.get_terminal_size finds it), less 2, as argparse takes it."""
    columns = 0
    try:
        columns = int(os.environ.get("COLUMNS", "0"))
    except ValueError:
        pass
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            columns = 80
    return max(columns, 11) - 2  # (argparse asks for at least 11 columns in all)


class OptionParser(argparse.ArgumentParser):
    """An ArgumentParser that raises UsageError rather than printing and exiting, in cf502's words:
    an unknown option is named as such before any missing argument is asked for."""

    _words: Sequence[str] = ()

    def _get_formatter(self) -> argparse.HelpFormatter:
        # argparse builds a formatter for every option it adds (to check its metavar), and the
        # default one imports shutil for the terminal's width: ~3 ms before the first packet.
        # The width only matters for --help, so it is found here, without shutil.
        return self.formatter_class(prog=self.prog, width=_help_width())  # type: ignore[call-arg]

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        self._words = list(sys.argv[1:] if args is None else args)
        return super().parse_known_args(args, namespace)

    def _hint(self) -> str:
        if not self.add_help:
            return ""
        # Extra words reach the top parser: point at the help of the command they were given to.
        command = next((w for w in self._words if w in self._subcommands()), None)
        return f" (see `{self.prog}{f' {command}' if command else ''} --help`)"

    def _known(self, word: str) -> bool:
        option = word.split("=", 1)[0]
        if option in self._option_string_actions:
            return True
        long = [o for o in self._option_string_actions if o.startswith("--")]
        return self.allow_abbrev and len([o for o in long if o.startswith(option)]) == 1

    def _unknown_options(self, words: Sequence[str]) -> list[str]:
        options = [w for w in words if w.startswith("-") and w != "-" and not _number(w)]
        return [w.split("=", 1)[0] for w in options if "--" not in words[: words.index(w)]]

    def error(self, message: str) -> NoReturn:
        raise UsageError(self._sentence(message))

    def _sentence(self, message: str) -> str:
        if message.startswith("the following arguments are required"):
            unknown = [w for w in self._unknown_options(self._words) if not self._known(w)]
            if unknown:
                return f"Unknown option {unknown[0]}{self._hint()}."
            missing = message.partition(": ")[2]
            return f"Missing {missing}{self._hint()}."
        if message.startswith("unrecognized arguments: "):
            extra = message.partition(": ")[2].split()
            unknown = self._unknown_options(extra)
            if unknown:
                more = f" (and {len(unknown) - 1} more)" if len(unknown) > 1 else ""
                return f"Unknown option {unknown[0]}{more}{self._hint()}."
            return f"Unexpected argument {extra[0]!r}{self._hint()}."
        if message.startswith("argument COMMAND: invalid choice: "):
            choices = ", ".join(self._subcommands())
            word = message.split("invalid choice: ", 1)[1].split(" (", 1)[0]
            return f"Unknown command {word}; choose from {choices}."
        return message[0].upper() + message[1:] + ("" if message.endswith(".") else ".")

    def _subcommands(self) -> list[str]:
        for action in self._actions:
            if isinstance(action, argparse._SubParsersAction):
                return list(action.choices)
        return []


def _number(word: str) -> bool:
    try:
        float(word)
    except ValueError:
        return False
    return True


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
    options = given(args, ORIGIN)
    options.pop("origin", None)  # which name is the origin: see diagnosis_of
    return OriginSettings.for_target(target, **options)


def diagnosis_of(target_text: str, args: argparse.Namespace) -> tuple[Target, OriginSettings]:
    """What to diagnose: TARGET with its origin settings; or, with `--origin NAME`, NAME as the
    origin of the CloudFront site TARGET (the same diagnosis as `NAME --cloudfront-domain TARGET`:
    the origin checks run on NAME, the viewer request goes to TARGET).

    Raises InvalidTarget, InvalidSetting or UsageError with one line.
    """
    site = parse_target(target_text)
    name = getattr(args, "origin", None)
    if name is None:
        return site, origin_from_args(site, args)
    if getattr(args, "cloudfront_domain", None) is not None:
        raise UsageError(
            "Give the CloudFront site once: `SITE --origin NAME`, or `NAME --cloudfront-domain "
            "SITE`, not both."
        )
    try:
        origin = parse_target(name)
    except InvalidTarget as exc:
        raise UsageError(f"--origin: {exc}") from None
    if origin.host == site.host:
        raise UsageError(f"--origin {name} is the site itself: give the origin behind it.")
    options = given(args, ORIGIN)
    options.pop("origin")
    if origin.path is None and site.path is not None:
        options.setdefault("path", site.path)  # the path asked through CloudFront
    options["cloudfront_domain"] = site.host
    return origin, OriginSettings.for_target(origin, **options)


def engine_from_args(
    args: argparse.Namespace, base: EngineSettings | None = None
) -> EngineSettings:
    """EngineSettings from the operator's options over `base` (defaults, or the environment's).

    The options were parsed and checked by their declarations: nothing is left to validate.
    """
    return replace(base or EngineSettings(), **given(args, ENGINE))
