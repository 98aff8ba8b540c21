"""How a long-running cf502 process (the worker, the bot) reaches its job queue, logs and metrics.

Declared here, below both, so `cf502 worker` and the bot read these variables alike.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from cf502.settings.spec import Setting, from_environ, one_of, optional, port, redis_url

__all__ = ["LOG_FORMAT", "LOG_LEVEL", "METRICS_PORT", "REDIS_URL", "SERVICE", "ServiceSettings"]

REDIS_URL = Setting(
    "redis_url",
    "Redis for the shared job queue; empty: the bot runs checks in-process.",
    redis_url,
    name="REDIS_URL",
    flag="--redis-url",
    metavar="URL",
    secret=True,
    operator_only=True,
)
LOG_LEVEL = Setting(
    "log_level",
    "Log level: DEBUG, INFO, WARNING or ERROR.",
    one_of("DEBUG", "INFO", "WARNING", "ERROR", normal=str.upper),
    "INFO",
    name="CF502_LOG_LEVEL",
)
LOG_FORMAT = Setting(
    "log_format",
    "Log lines: json, text or auto (text on a terminal).",
    one_of("json", "text", "auto"),
    "auto",
    name="CF502_LOG_FORMAT",
    flag="--log-format",
    choices=("json", "text", "auto"),
    operator_only=True,
)
METRICS_PORT = Setting(
    "metrics_port",
    "Serve /metrics, /healthz, /readyz on this port; empty: no metrics server.",
    optional(port),
    name="CF502_METRICS_PORT",
    flag="--metrics-port",
    metavar="N",
    operator_only=True,
)
SERVICE = (REDIS_URL, LOG_LEVEL, LOG_FORMAT, METRICS_PORT)


@dataclass(frozen=True)
class ServiceSettings:
    """The queue, log and metrics settings of one process. The Redis URL stays out of `repr`."""

    redis_url: str = field(default=REDIS_URL.initial, repr=False)
    log_level: str = LOG_LEVEL.initial
    log_format: str = LOG_FORMAT.initial
    metrics_port: int | None = METRICS_PORT.initial

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> ServiceSettings:
        """From the variables the bot reads too; ConfigError names the first malformed one."""
        return cls(**from_environ(SERVICE, environ))
