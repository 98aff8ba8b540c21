"""How one deployment's queue behaves (`QueueConfig`), and the Redis connection its client and its
workers open with it (`connect`)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import AuthenticationError, RedisError, ResponseError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from cf502.errors import ConfigError, InvalidSetting, QueueError
from cf502.logcontext import redact
from cf502.net import os_error_words
from cf502.pool.limits import Limits

__all__ = ["QueueConfig", "connect", "redacted_url", "unavailable"]


@dataclass(frozen=True)
class QueueConfig:
    """How the queue behaves; clients and workers of one deployment must agree on it.

    Attributes:
        prefix: key prefix (several deployments can share one Redis).
        group: the workers' consumer group.
        result_ttl: seconds results and event streams are kept.
        min_idle: seconds without a heartbeat after which a job's worker is presumed dead and the
            job is taken over by another worker.
        max_deliveries: a job delivered more often than this is dead-lettered, not run again.
        max_backlog: queued + running jobs beyond which submissions are refused (0: no bound).
        dead_maxlen: dead-letter entries kept.
        events_maxlen: events kept per job (checks x deliveries, plus the end).
        limits: rate limits and coalescing.
        connect_timeout / socket_timeout: seconds; short, so an unreachable Redis is an error at
            once rather than a hang.
        block: seconds one blocking read waits before it loops (must stay below socket_timeout).
        max_job_bytes: the largest job payload accepted.
        max_connections: Redis connections per process; more requests wait for a free one.
        reconnect_for: seconds a watcher of job events keeps retrying while Redis is unreachable.
        events_idle_timeout: seconds a watcher waits without any event of its job before giving
            up (a last resort: a lost job is normally noticed within `vanished_check`).
        vanished_check: seconds of silence after which a watcher checks that its job still
            exists (queued, waiting, running or finished), and how often it checks again; a job
            Redis lost (restarted without persistence, flushed) fails its watchers then.
        events_batch: job event streams per read when a client follows many jobs at once (more
            are read in several reads, pipelined).
    """

    prefix: str = "cf502"
    group: str = "workers"
    result_ttl: float = 3600.0
    min_idle: float = 30.0
    max_deliveries: int = 3
    max_backlog: int = 10_000
    dead_maxlen: int = 10_000
    events_maxlen: int = 256
    limits: Limits = field(default_factory=Limits)
    connect_timeout: float = 1.0
    socket_timeout: float = 2.0
    block: float = 1.0
    max_job_bytes: int = 64 * 1024
    max_connections: int = 64
    reconnect_for: float = 30.0
    events_idle_timeout: float = 900.0
    vanished_check: float = 2.0
    events_batch: int = 256

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[A-Za-z0-9_.:-]{1,64}", self.prefix):
            raise InvalidSetting(f"queue prefix {self.prefix!r} must be 1-64 letters/digits/_.:-.")
        if not 0.1 <= self.min_idle <= 86_400:
            raise InvalidSetting("min-idle must be between 0.1 and 86,400 seconds.")
        if not 1 <= self.max_deliveries <= 100:
            raise InvalidSetting("max deliveries must be between 1 and 100.")
        if self.result_ttl < 1:
            raise InvalidSetting("the result TTL must be at least 1 second.")
        if not 0 < self.block < self.socket_timeout:
            raise InvalidSetting("the blocking read time must be shorter than the socket timeout.")
        if not 1 <= self.events_batch <= 10_000:
            raise InvalidSetting("the events batch must be between 1 and 10,000 streams.")
        if not 0.05 <= self.vanished_check <= 3_600:
            raise InvalidSetting("the vanished-job check must be between 0.05 and 3,600 seconds.")


def connect(url: str, config: QueueConfig) -> Redis:
    """A client for the Redis at `url`; raises ConfigError when the URL is malformed."""
    try:
        # A blocking pool: a burst waits briefly for a free connection instead of failing.
        connections = BlockingConnectionPool.from_url(
            url,
            max_connections=config.max_connections,
            timeout=config.socket_timeout,
            decode_responses=True,
            socket_connect_timeout=config.connect_timeout,
            socket_timeout=config.socket_timeout,
            # Bytes that are not UTF-8 (a hand-written job entry) must not make a read
            # raise: they decode to lone surrogates, which the job parser refuses.
            encoding_errors="surrogateescape",
            # One quick retry re-opens a pooled connection that a Redis restart closed;
            # more would turn "Redis is down" into a hang.
            retry=Retry(ExponentialBackoff(cap=0.05, base=0.01), 1),
        )
    except ValueError as exc:
        # As typed (password masked): the parsed form of a broken URL is misleading.
        raise ConfigError(f"invalid Redis URL {redact(url)!r}: {exc}.") from None
    return Redis.from_pool(connections)


def unavailable(where: str, exc: RedisError, what: str) -> QueueError:
    """The one line a client's caller sees when Redis (at `where`, redacted) fails."""
    return QueueError(
        f"the job queue (Redis at {where}) is unavailable: {what} ({redis_error_words(exc)})."
    )


def redis_error_words(exc: RedisError) -> str:
    """Plain words for a Redis failure. redis-py's own text repeats the address and asyncio's
    "Connect call failed (...)", which reads like a crash; Redis's own error replies are kept."""
    if isinstance(exc, AuthenticationError):
        return "Redis refused the credentials in the URL"
    if isinstance(exc, RedisTimeoutError):
        return "Redis did not answer in time"
    if isinstance(exc, ResponseError):
        return "Redis answered: " + " ".join(str(exc).split())[:120]
    cause: BaseException | None = exc
    while cause is not None:  # the OS error under redis-py's ConnectionError, if any
        if isinstance(cause, OSError) and cause.errno is not None:
            return os_error_words(cause)
        cause = cause.__cause__ or cause.__context__
    if isinstance(exc, RedisConnectionError):
        return "the connection to Redis failed or was lost"
    return type(exc).__name__


def redacted_url(url: str) -> str:
    """`redis://host:port/db` with any password removed, for logs and error messages."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or "localhost"
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "(unparsable Redis URL)"
    return f"{parts.scheme}://{host}{port}{parts.path}"
