"""The Slack app's settings, from the environment and an optional `.env` file.

`SETTINGS` is the single list of every environment variable the app reads. The Slack app's own
settings are declared here; the operator's engine and service settings are cf502's declarations
(`cf502.settings`), which `cf502 worker` reads the same way. `.env.example` is generated from the
list and checked against it. A missing or malformed setting stops start-up with one line naming it
(`ConfigError`); secrets never appear in `repr` or logs.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from urllib.parse import urlsplit

from cf502.errors import ConfigError
from cf502.settings import AWS, ENGINE, AwsSettings, EngineSettings, Setting, from_environ
from cf502.settings.service import LOG_FORMAT, LOG_LEVEL, METRICS_PORT, REDIS_URL
from cf502.settings.spec import boolean, seconds, text, whole

__all__ = ["SETTINGS", "Mode", "Setting", "Settings", "load_settings", "read_dotenv"]


class Mode(StrEnum):
    SOCKET = "socket"  # Socket Mode: needs SLACK_APP_TOKEN, no public URL
    HTTP = "http"  # POST /slack/events: needs SLACK_SIGNING_SECRET


_ID = re.compile(r"^[A-Z0-9]{2,30}$")
_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


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


BOT_TOKEN = Setting(
    "bot_token",
    "Bot User OAuth Token (xoxb-...).",
    _token("xoxb-"),
    None,
    name="SLACK_BOT_TOKEN",
    secret=True,
)
SIGNING_SECRET = Setting(
    "signing_secret",
    "Signing Secret (Basic Information page); verifies HTTP-mode requests.",
    text,
    None,
    name="SLACK_SIGNING_SECRET",
    secret=True,
    required_in=(Mode.HTTP,),
)
APP_TOKEN = Setting(
    "app_token",
    "App-level token (xapp-...) with connections:write; needed for Socket Mode.",
    _token("xapp-"),
    None,
    name="SLACK_APP_TOKEN",
    secret=True,
    required_in=(Mode.SOCKET,),
)
API_URL = Setting(
    "api_url",
    "Slack Web API base URL (ends with /).",
    _api_url,
    "https://slack.com/api/",
    name="SLACK_API_URL",
)
RESPONSE_URL_BASE = Setting(
    "response_url_base",
    "Extra base URL (ends with /) whose response_urls the bot may answer, besides"
    " https://hooks.slack.com/ (tests, a Slack proxy); empty: Slack's only.",
    _response_url_base,
    name="SLACK_RESPONSE_URL_BASE",
)
USER_RATE = Setting(
    "user_rate",
    "Diagnoses one user may start per minute.",
    whole(1, 10_000),
    "10",
    name="CF502_USER_RATE",
)
CHANNEL_RATE = Setting(
    "channel_rate",
    "Diagnoses one channel may start per minute.",
    whole(1, 10_000),
    "30",
    name="CF502_CHANNEL_RATE",
)
CHANNEL_ALLOWLIST = Setting(
    "channel_allowlist",
    "Comma-separated channel ids allowed to use cf502; empty: all.",
    _ids,
    name="CF502_CHANNEL_ALLOWLIST",
)
USER_ALLOWLIST = Setting(
    "user_allowlist",
    "Comma-separated user ids allowed to use cf502; empty: all.",
    _ids,
    name="CF502_USER_ALLOWLIST",
)
REPORT_TTL = Setting(
    "report_ttl",
    "Seconds a report's buttons keep working (1 day).",
    whole(60, 30 * 86400),
    "86400",
    name="CF502_REPORT_TTL",
)
UPDATE_INTERVAL = Setting(
    "update_interval",
    "Least seconds between live updates of a report message.",
    seconds(0, 60),
    "2",
    name="CF502_UPDATE_INTERVAL",
)
WATCH_INTERVAL = Setting(
    "watch_interval",
    "Seconds between rechecks while watching until fixed.",
    seconds(0.05, 3600),
    "60",
    name="CF502_WATCH_INTERVAL",
)
WATCH_LIMIT = Setting(
    "watch_limit",
    "Seconds a watch runs before it gives up.",
    seconds(0.1, 86400),
    "3600",
    name="CF502_WATCH_LIMIT",
)
CONCURRENCY = Setting(
    "concurrency",
    "Diagnoses run at once by the in-process pool (no REDIS_URL).",
    whole(1, 256),
    "8",
    name="CF502_CONCURRENCY",
)
USER_CONCURRENCY = Setting(
    "user_concurrency",
    "Diagnoses one user may have running at once (with REDIS_URL: queued or running); "
    "their further ones wait their turn without taking a slot from other users.",
    whole(1, 256),
    "2",
    name="CF502_USER_CONCURRENCY",
)
METRICS_ON_SLACK_PORT = Setting(
    "metrics_on_slack_port",
    "Also serve /metrics, unauthenticated, on the HTTP-mode Slack port (--port);"
    " default: only on CF502_METRICS_PORT, which should stay private.",
    boolean,
    "false",
    name="CF502_METRICS_ON_SLACK_PORT",
)

# In `.env.example` order.
SETTINGS: tuple[Setting, ...] = (
    BOT_TOKEN,
    SIGNING_SECRET,
    APP_TOKEN,
    API_URL,
    RESPONSE_URL_BASE,
    REDIS_URL,
    *(s for s in ENGINE if s.name),
    *AWS,
    USER_RATE,
    CHANNEL_RATE,
    CHANNEL_ALLOWLIST,
    USER_ALLOWLIST,
    REPORT_TTL,
    UPDATE_INTERVAL,
    WATCH_INTERVAL,
    WATCH_LIMIT,
    CONCURRENCY,
    USER_CONCURRENCY,
    LOG_LEVEL,
    LOG_FORMAT,
    METRICS_PORT,
    METRICS_ON_SLACK_PORT,
)


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything the Slack app is configured with. Secrets are left out of `repr`.

    The defaults are the declarations' (`SETTINGS`); the operator's engine settings are one
    typed `EngineSettings` (`engine`), read from the same declarations as the worker's.
    """

    bot_token: str = field(repr=False)
    signing_secret: str | None = field(default=None, repr=False)
    app_token: str | None = field(default=None, repr=False)
    api_url: str = API_URL.initial
    response_url_base: str = RESPONSE_URL_BASE.initial
    redis_url: str = field(default=REDIS_URL.initial, repr=False)
    # The operator's engine settings, declared and parsed once in cf502.settings (as the worker
    # reads them), for the diagnoses run on behalf of Slack users.
    engine: EngineSettings = field(default_factory=EngineSettings)
    # The operator's read-only AWS access (cf502.settings.aws); Slack users never set it.
    aws: AwsSettings = field(default_factory=AwsSettings)
    user_rate: int = USER_RATE.initial
    channel_rate: int = CHANNEL_RATE.initial
    channel_allowlist: frozenset[str] = CHANNEL_ALLOWLIST.initial
    user_allowlist: frozenset[str] = USER_ALLOWLIST.initial
    report_ttl: int = REPORT_TTL.initial
    update_interval: float = UPDATE_INTERVAL.initial
    watch_interval: float = WATCH_INTERVAL.initial
    watch_limit: float = WATCH_LIMIT.initial
    concurrency: int = CONCURRENCY.initial
    user_concurrency: int = USER_CONCURRENCY.initial
    log_level: str = LOG_LEVEL.initial
    log_format: str = LOG_FORMAT.initial
    metrics_port: int | None = METRICS_PORT.initial
    metrics_on_slack_port: bool = METRICS_ON_SLACK_PORT.initial

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
    kwargs = from_environ(SETTINGS, source, mode)
    engine = EngineSettings(**{s.attr: kwargs.pop(s.attr) for s in ENGINE if s.attr in kwargs})
    aws = AwsSettings(**{s.attr: kwargs.pop(s.attr) for s in AWS if s.attr in kwargs})
    interval = kwargs.get("watch_interval", WATCH_INTERVAL.initial)
    if kwargs.get("watch_limit", WATCH_LIMIT.initial) < interval:
        raise ConfigError("CF502_WATCH_LIMIT must not be shorter than CF502_WATCH_INTERVAL.")
    return Settings(**kwargs, engine=engine, aws=aws)
