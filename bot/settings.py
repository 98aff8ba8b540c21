"""The Slack app's settings, from the environment and an optional `.env` file.

`SETTINGS` is the single list of every environment variable the app reads (name, default, secret,
help); `.env.example` is generated from it and checked against it. A missing or malformed setting
stops start-up with one line naming it (`ConfigError`); secrets never appear in `repr` or logs.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cf502.config import EngineSettings, parse_resolver
from cf502.errors import Cf502Error, ConfigError

__all__ = ["SETTINGS", "Mode", "SettingSpec", "Settings", "load_settings", "read_dotenv"]


class Mode(StrEnum):
    SOCKET = "socket"  # Socket Mode: needs SLACK_APP_TOKEN, no public URL
    HTTP = "http"  # POST /slack/events: needs SLACK_SIGNING_SECRET


@dataclass(frozen=True, slots=True)
class SettingSpec:
    """One environment variable.

    Attributes:
        name: the variable, e.g. "SLACK_BOT_TOKEN".
        default: the value used when unset; None means required (see `required_in`).
        secret: never printed, logged or echoed in errors.
        help: one line for `.env.example` and the README.
        required_in: the modes that need it when it has no default (empty: all modes).
        attr: the `Settings` field it fills.
        parse: text -> value; raises ValueError with a message that never echoes a secret.
    """

    name: str
    default: str | None
    secret: bool
    help: str
    required_in: tuple[Mode, ...]
    attr: str
    parse: Callable[[str], Any] = field(repr=False, compare=False)


_ID = re.compile(r"^[A-Z0-9]{2,30}$")
_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _str(v: str) -> str:
    return v


def _bool(v: str) -> bool:
    low = v.strip().lower()
    if low in ("1", "true", "yes", "on"):
        return True
    if low in ("0", "false", "no", "off", ""):
        return False
    raise ValueError("must be true or false")


def _number(lo: float, hi: float) -> Callable[[str], float]:
    def parse(v: str) -> float:
        try:
            value = float(v)
        except ValueError:
            raise ValueError("must be a number") from None
        if not lo <= value <= hi:
            raise ValueError(f"must be between {lo:g} and {hi:g}")
        return value

    return parse


def _int(lo: int, hi: int) -> Callable[[str], int]:
    def parse(v: str) -> int:
        if not v.strip().isdigit():
            raise ValueError("must be a whole number")
        value = int(v)
        if not lo <= value <= hi:
            raise ValueError(f"must be between {lo} and {hi}")
        return value

    return parse


def _ids(v: str) -> frozenset[str]:
    items = frozenset(i.strip() for i in v.split(",") if i.strip())
    for item in items:
        if not _ID.match(item):
            raise ValueError(f"{item[:40]!r} is not a Slack id (like C0123ABCD or U0123ABCD)")
    return items


def _token(prefix: str) -> Callable[[str], str]:
    def parse(v: str) -> str:
        if not v.startswith(prefix) or any(c.isspace() for c in v):
            raise ValueError(f"must be a token starting with {prefix}")  # never echo the value
        return v

    return parse


def _api_url(v: str) -> str:
    try:
        parts = urlsplit(v)
        has_credentials = parts.username is not None or parts.password is not None
        _ = parts.port  # raises ValueError for a port that is not a number
    except ValueError:
        raise ValueError("must be an http(s) URL ending with /") from None
    if has_credentials:
        # Never echo the value: it holds a password. The bot token is the only credential.
        raise ValueError("must not contain credentials (user:password@): remove them")
    if parts.scheme not in ("http", "https") or not parts.hostname or not v.endswith("/"):
        raise ValueError("must be an http(s) URL ending with /")
    return v


def _response_url_base(v: str) -> str:
    return _api_url(v) if v else ""


def _redis_url(v: str) -> str:
    if v and urlsplit(v).scheme not in ("redis", "rediss", "unix"):
        raise ValueError("must be a redis://, rediss:// or unix:// URL")  # may hold a password
    return v


def _resolver(v: str) -> str | None:
    if not v:
        return None
    try:
        parse_resolver(v)
    except Cf502Error as exc:
        raise ValueError(str(exc)) from None
    return v


def _ca_file(v: str) -> str | None:
    if not v:
        return None
    if not os.path.isfile(v):
        raise ValueError(f"{v!r} is not a readable file")
    return v


def _log_format(v: str) -> str:
    if v.lower() not in ("json", "text", "auto"):
        raise ValueError("must be json, text or auto")
    return v.lower()


def _optional_port(v: str) -> int | None:
    if not v:
        return None
    if not v.isdigit() or not 1 <= int(v) <= 65535:
        raise ValueError("must be a port number (1-65535)")
    return int(v)


def _log_level(v: str) -> str:
    if v.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ValueError("must be DEBUG, INFO, WARNING or ERROR")
    return v.upper()


def _spec(
    name: str,
    attr: str,
    default: str | None,
    parse: Callable[[str], Any],
    help: str,
    *,
    secret: bool = False,
    required_in: tuple[Mode, ...] = (),
) -> SettingSpec:
    return SettingSpec(name, default, secret, help, required_in, attr, parse)


SETTINGS: tuple[SettingSpec, ...] = (
    _spec(
        "SLACK_BOT_TOKEN",
        "bot_token",
        None,
        _token("xoxb-"),
        "Bot User OAuth Token (xoxb-...).",
        secret=True,
    ),
    _spec(
        "SLACK_SIGNING_SECRET",
        "signing_secret",
        None,
        _str,
        "Signing Secret (Basic Information page); verifies HTTP-mode requests.",
        secret=True,
        required_in=(Mode.HTTP,),
    ),
    _spec(
        "SLACK_APP_TOKEN",
        "app_token",
        None,
        _token("xapp-"),
        "App-level token (xapp-...) with connections:write; needed for Socket Mode.",
        secret=True,
        required_in=(Mode.SOCKET,),
    ),
    _spec(
        "SLACK_API_URL",
        "api_url",
        "https://slack.com/api/",
        _api_url,
        "Slack Web API base URL (ends with /).",
    ),
    _spec(
        "SLACK_RESPONSE_URL_BASE",
        "response_url_base",
        "",
        _response_url_base,
        "Extra base URL (ends with /) whose response_urls the bot may answer, besides"
        " https://hooks.slack.com/ (tests, a Slack proxy); empty: Slack's only.",
    ),
    _spec(
        "REDIS_URL",
        "redis_url",
        "",
        _redis_url,
        "Redis for the shared job queue; empty: run checks in-process.",
        secret=True,
    ),
    _spec(
        "CF502_RESOLVER", "resolver", "", _resolver, "DNS resolver IP[:PORT]; empty: the system's."
    ),
    _spec(
        "CF502_CA_FILE", "ca_file", "", _ca_file, "Extra trust anchors (PEM) added to Mozilla's."
    ),
    _spec(
        "CF502_ALLOW_PRIVATE",
        "allow_private",
        "false",
        _bool,
        "Allow loopback/private targets (on-prem, tests).",
    ),
    _spec(
        "CF502_DNS_PORT",
        "dns_port",
        "53",
        _int(1, 65535),
        "Port for direct authoritative DNS queries.",
    ),
    _spec("CF502_DNS_TIMEOUT", "dns_timeout", "5", _number(0.1, 60), "Seconds per DNS query."),
    _spec(
        "CF502_MAX_CONNECT_TIMEOUT",
        "max_connect_timeout",
        "10",
        _number(1, 10),
        "Upper bound on a request's connection timeout (s).",
    ),
    _spec(
        "CF502_MAX_READ_TIMEOUT",
        "max_read_timeout",
        "180",
        _number(1, 180),
        "Upper bound on a request's response timeout (s).",
    ),
    _spec(
        "CF502_USER_RATE",
        "user_rate",
        "10",
        _int(1, 10_000),
        "Diagnoses one user may start per minute.",
    ),
    _spec(
        "CF502_CHANNEL_RATE",
        "channel_rate",
        "30",
        _int(1, 10_000),
        "Diagnoses one channel may start per minute.",
    ),
    _spec(
        "CF502_CHANNEL_ALLOWLIST",
        "channel_allowlist",
        "",
        _ids,
        "Comma-separated channel ids allowed to use cf502; empty: all.",
    ),
    _spec(
        "CF502_USER_ALLOWLIST",
        "user_allowlist",
        "",
        _ids,
        "Comma-separated user ids allowed to use cf502; empty: all.",
    ),
    _spec(
        "CF502_REPORT_TTL",
        "report_ttl",
        "86400",
        _int(60, 30 * 86400),
        "Seconds a report's buttons keep working (1 day).",
    ),
    _spec(
        "CF502_UPDATE_INTERVAL",
        "update_interval",
        "2",
        _number(0, 60),
        "Least seconds between live updates of a report message.",
    ),
    _spec(
        "CF502_WATCH_INTERVAL",
        "watch_interval",
        "60",
        _number(0.05, 3600),
        "Seconds between rechecks while watching until fixed.",
    ),
    _spec(
        "CF502_WATCH_LIMIT",
        "watch_limit",
        "3600",
        _number(0.1, 86400),
        "Seconds a watch runs before it gives up.",
    ),
    _spec(
        "CF502_CONCURRENCY",
        "concurrency",
        "8",
        _int(1, 256),
        "Diagnoses run at once by the in-process pool (no REDIS_URL).",
    ),
    _spec(
        "CF502_USER_CONCURRENCY",
        "user_concurrency",
        "2",
        _int(1, 256),
        "Diagnoses one user may have running at once (with REDIS_URL: queued or running); "
        "their further ones wait their turn without taking a slot from other users.",
    ),
    _spec("CF502_LOG_LEVEL", "log_level", "INFO", _log_level, "DEBUG, INFO, WARNING or ERROR."),
    _spec(
        "CF502_LOG_FORMAT",
        "log_format",
        "auto",
        _log_format,
        "json, text or auto (text on a terminal).",
    ),
    _spec(
        "CF502_METRICS_PORT",
        "metrics_port",
        "",
        _optional_port,
        "Serve /metrics, /healthz, /readyz on this port; empty: no metrics server.",
    ),
    _spec(
        "CF502_METRICS_ON_SLACK_PORT",
        "metrics_on_slack_port",
        "false",
        _bool,
        "Also serve /metrics, unauthenticated, on the HTTP-mode Slack port (--port);"
        " default: only on CF502_METRICS_PORT, which should stay private.",
    ),
)


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything the Slack app is configured with. Secrets are left out of `repr`."""

    bot_token: str = field(repr=False)
    signing_secret: str | None = field(default=None, repr=False)
    app_token: str | None = field(default=None, repr=False)
    api_url: str = "https://slack.com/api/"
    response_url_base: str = ""
    redis_url: str = field(default="", repr=False)
    resolver: str | None = None
    ca_file: str | None = None
    allow_private: bool = False
    dns_port: int = 53
    dns_timeout: float = 5.0
    max_connect_timeout: float = 10.0
    max_read_timeout: float = 180.0
    user_rate: int = 10
    channel_rate: int = 30
    channel_allowlist: frozenset[str] = frozenset()
    user_allowlist: frozenset[str] = frozenset()
    report_ttl: int = 86400
    update_interval: float = 2.0
    watch_interval: float = 60.0
    watch_limit: float = 3600.0
    concurrency: int = 8
    user_concurrency: int = 2
    log_level: str = "INFO"
    log_format: str = "auto"
    metrics_port: int | None = None
    metrics_on_slack_port: bool = False

    @property
    def engine(self) -> EngineSettings:
        """The operator's engine settings for diagnoses run on behalf of Slack users."""
        return EngineSettings(
            allow_private=self.allow_private,
            resolver=self.resolver,
            ca_file=self.ca_file,
            dns_port=self.dns_port,
            dns_timeout=self.dns_timeout,
            max_connect_timeout=self.max_connect_timeout,
            max_read_timeout=self.max_read_timeout,
        )

    @property
    def secrets(self) -> tuple[str, ...]:
        """The secret values, for the log redaction filter."""
        values = (self.bot_token, self.signing_secret, self.app_token, self.redis_url)
        return tuple(v for v in values if v)


def read_dotenv(path: Path) -> dict[str, str]:
    """`KEY=VALUE` lines (optional `export`, quotes, `#` comments). A malformed line is an error."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read {str(path)!r}: {exc.strerror or exc}.") from None
    values: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export ") :].lstrip()
        key, sep, value = line.partition("=")
        key = key.strip()
        if not sep or not _KEY.match(key):
            raise ConfigError(f"{path.name} line {number} is not KEY=VALUE.")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        elif " #" in value:
            value = value.split(" #", 1)[0].rstrip()
        values[key] = value
    return values


def load_settings(
    mode: Mode,
    environ: Mapping[str, str] | None = None,
    dotenv: Path | None = Path(".env"),
) -> Settings:
    """Settings for `mode` from `environ` (default os.environ) over the `.env` file, if present.

    Raises ConfigError naming the first missing or malformed setting (never its secret value).
    """
    source: dict[str, str] = {}
    if dotenv is not None and dotenv.is_file():
        source.update(read_dotenv(dotenv))
    source.update(os.environ if environ is None else environ)
    kwargs: dict[str, Any] = {}
    for spec in SETTINGS:
        raw = source.get(spec.name, "").strip()
        if not raw and spec.default is None:
            if not spec.required_in or mode in spec.required_in:
                where = f" (needed in {mode.value} mode)" if spec.required_in else ""
                raise ConfigError(f"{spec.name} is not set{where}: {spec.help}")
            continue
        try:
            kwargs[spec.attr] = spec.parse(raw if raw else (spec.default or ""))
        except ValueError as exc:
            raise ConfigError(f"{spec.name} {exc}.") from None
    if kwargs["watch_limit"] < kwargs["watch_interval"]:
        raise ConfigError("CF502_WATCH_LIMIT must not be shorter than CF502_WATCH_INTERVAL.")
    return Settings(**kwargs)
