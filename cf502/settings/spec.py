"""The declaration of a setting, and the parsers settings share. Standard library only.

A `Setting` is declared once, next to the dataclass it fills, and says everything about it: the
field, the command-line flag, the environment variable, the parser (with its range), the default,
whether it is secret and whether only the operator may set it. The command-line options
(`add_options`), the environment loading of the bot and the worker (`from_environ`), the bot's
`.env.example`, the `--help` text and the lists of options a request may not carry are all derived
from these declarations, so a rule is written in one place.

A parser turns text into a value or raises ValueError with the reason, written to follow the
setting's name (`CF502_DNS_PORT must be a port number (1-65535).`) and never echoing a secret.
"""

from __future__ import annotations

import argparse
import ipaddress
import math
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from cf502.errors import ConfigError, InvalidSetting

__all__ = [
    "Setting",
    "add_options",
    "boolean",
    "ca_file",
    "from_environ",
    "given",
    "one_of",
    "optional",
    "parse_resolver",
    "port",
    "redis_url",
    "resolver",
    "seconds",
    "text",
    "whole",
]

Parse = Callable[[str], Any]


@dataclass(frozen=True)
class Setting:
    """One setting: how it is named, parsed, defaulted and documented everywhere.

    Attributes:
        attr: the dataclass field it fills, e.g. "dns_port".
        help: one sentence for `--help`, `.env.example` and the README.
        parse: text -> value; raises ValueError with the reason (see the module docstring).
        default: the text used when it is not given ("": unset); None means required.
        name: the environment variable, e.g. "CF502_DNS_PORT"; "" when it is only a flag.
        flag: the command-line option, e.g. "--dns-port"; None when it is only a variable.
        metavar: the flag's value in `--help`.
        choices: the flag's allowed values, when they are a fixed list (argparse checks them).
        secret: never printed, logged or echoed in errors.
        operator_only: only whoever runs cf502 sets it; a Slack request may not name it.
        job_request: a job may ask for it (a remote check sends it), but the operator's value
            decides; without it an operator-only flag is refused with --redis-url.
        required_in: the bot's modes that need it when it has no default (empty: all modes).
    """

    attr: str
    help: str
    parse: Parse = field(repr=False, compare=False)
    default: str | None = ""
    name: str = ""
    flag: str | None = None
    metavar: str | None = None
    choices: tuple[str, ...] | None = None
    secret: bool = False
    operator_only: bool = False
    job_request: bool = False
    required_in: tuple[str, ...] = ()

    @property
    def initial(self) -> Any:
        """The value of the default text: what a dataclass field defaults to."""
        if self.default is None:
            raise TypeError(f"{self.attr} is required: it has no default value.")
        return self.parse(self.default)


# -- parsers --------------------------------------------------------------------------------------


def text(v: str) -> str:
    return v


def optional(parse: Parse) -> Parse:
    """`parse`, except that empty text means "not set" (None)."""

    def parse_optional(v: str) -> Any:
        return parse(v) if v else None

    return parse_optional


def boolean(v: str) -> bool:
    low = v.strip().lower()
    if low in ("1", "true", "yes", "on"):
        return True
    if low in ("0", "false", "no", "off", ""):
        return False
    raise ValueError("must be true or false")


def _digits(v: str) -> int | None:
    # str.isdigit alone also takes "²" and "٣", which int() then refuses; "+53" is not a number.
    v = v.strip()
    return int(v) if v.isascii() and v.isdigit() else None


def whole(lo: int | None = None, hi: int | None = None) -> Parse:
    """A whole number, within [lo, hi] when bounds are given."""

    def parse_whole(v: str) -> int:
        value = _digits(v)
        if value is None:
            raise ValueError("must be a whole number")
        if lo is not None and hi is not None and not lo <= value <= hi:
            raise ValueError(f"must be between {lo} and {hi}")
        return value

    return parse_whole


def port(v: str) -> int:
    value = _digits(v)
    if value is None or not 1 <= value <= 65535:
        raise ValueError("must be a port number (1-65535)")
    return value


def seconds(lo: float | None = None, hi: float | None = None) -> Parse:
    """A finite number of seconds, within [lo, hi] when bounds are given."""

    def parse_seconds(v: str) -> float:
        try:
            value = float(v)
        except ValueError:
            raise ValueError("must be a number of seconds") from None
        if not math.isfinite(value):
            raise ValueError("must be a number of seconds")
        if lo is not None and hi is not None and not lo <= value <= hi:
            raise ValueError(f"must be between {lo:g} and {hi:g}")
        return value

    return parse_seconds


def one_of(*choices: str, normal: Callable[[str], str] = str.lower) -> Parse:
    def parse_choice(v: str) -> str:
        value = normal(v.strip())
        if value not in choices:
            raise ValueError(f"must be {', '.join(choices[:-1])} or {choices[-1]}")
        return value

    return parse_choice


def parse_resolver(raw_text: str) -> tuple[str, int]:
    """`IP`, `IP:PORT` or `[IPv6]:PORT` -> (ip, port); InvalidSetting when it is none of them."""
    raw = raw_text.strip()
    host, port_text = raw, "53"
    if raw.startswith("["):
        host, _, rest = raw[1:].partition("]")
        if rest:
            if not rest.startswith(":"):
                raise InvalidSetting(f"resolver {raw!r} is not IP or IP:PORT.")
            port_text = rest[1:]
    elif raw.count(":") == 1:
        host, _, port_text = raw.partition(":")
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        raise InvalidSetting(
            f"resolver {raw!r} must be an IP address (optionally :PORT)."
        ) from None
    try:
        return str(ip), port(port_text)
    except ValueError:
        raise InvalidSetting(f"resolver {raw!r} has a port that is not 1-65535.") from None


def resolver(v: str) -> str:
    try:
        parse_resolver(v)
    except InvalidSetting as exc:
        raise ValueError(str(exc).removesuffix(".")) from None
    return v.strip()


def ca_file(v: str) -> str:
    if not os.path.isfile(v):
        why = "" if os.path.exists(v) else " (it does not exist)"
        raise ValueError(f"{v!r} is not a readable file{why}")
    return v


def redis_url(v: str) -> str:
    if v and urlsplit(v).scheme not in ("redis", "rediss", "unix"):
        raise ValueError("must be a redis://, rediss:// or unix:// URL")  # may hold a password
    return v


# -- what is derived ------------------------------------------------------------------------------


def _flag_type(setting: Setting) -> Parse:
    def convert(v: str) -> Any:
        try:
            return setting.parse(v)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    convert.__name__ = setting.attr  # argparse names the type in some messages
    return convert


def _flag_help(setting: Setting) -> str:
    """ "Origin HTTPS port." -> "Origin HTTPS port (443)"."""
    shown = setting.default and not setting.secret and setting.parse is not boolean
    return setting.help.removesuffix(".") + (f" ({setting.default})" if shown else "")


def add_options(group: argparse._ActionsContainer, settings: Iterable[Setting]) -> None:
    """An option for every setting with a flag. Not given, its value is None (the caller's
    default, or the environment's, applies)."""
    for s in settings:
        if s.flag is None:
            continue
        if s.parse is boolean:
            group.add_argument(
                s.flag, dest=s.attr, action="store_true", default=None, help=_flag_help(s)
            )
        elif s.choices is not None:
            group.add_argument(s.flag, dest=s.attr, choices=s.choices, help=_flag_help(s))
        else:
            group.add_argument(
                s.flag, dest=s.attr, type=_flag_type(s), metavar=s.metavar, help=_flag_help(s)
            )


def given(args: argparse.Namespace, settings: Iterable[Setting]) -> dict[str, Any]:
    """attr -> value of the settings' options that were given on the command line."""
    values = ((s.attr, getattr(args, s.attr, None)) for s in settings if s.flag is not None)
    return {attr: value for attr, value in values if value is not None}


def from_environ(
    settings: Iterable[Setting], source: Mapping[str, str], mode: str | None = None
) -> dict[str, Any]:
    """attr -> value of the settings set in `source`; unset ones are left out (their default
    applies). Raises ConfigError naming the first missing or malformed one in one line."""
    values: dict[str, Any] = {}
    for s in settings:
        if not s.name:
            continue
        raw = source.get(s.name, "").strip()
        if not raw:
            if s.default is None and (not s.required_in or mode in s.required_in):
                where = f" (needed in {mode} mode)" if s.required_in else ""
                raise ConfigError(f"{s.name} is not set{where}: {s.help}")
            continue
        try:
            values[s.attr] = s.parse(raw)
        except ValueError as exc:
            raise ConfigError(f"{s.name} {exc}.") from None
    return values
