"""Admission rules for jobs: per-user and per-channel rate limits, and coalescing of duplicates.

`Limits` is the configuration shared by both pools. The Redis pool enforces it atomically in a Lua
script (`cf502.pool.queue.scripts`); the in-process pool uses `LocalAdmission` below. Both refuse with the same
one-line message (`refusal`). Memory is bounded: a sliding window keeps at most `limit` timestamps
per key and forgets keys whose window has passed.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from cf502.errors import InvalidSetting
from cf502.pool.jobs import Job, RateLimited

__all__ = ["Limits", "LocalAdmission", "SlidingWindow", "rate_limited", "refusal"]


@dataclass(frozen=True)
class Limits:
    """How many jobs one user or one channel may start, and how duplicates are coalesced.

    Attributes:
        per_user: jobs per `window` for one `requested_by["user"]` (0: unlimited).
        per_channel: jobs per `window` for one `requested_by["channel"]` (0: unlimited).
        window: the sliding window, in seconds.
        coalesce: identical requests (same `Job.dedupe_key`) within this many seconds share one
            job (0: never coalesce); each still counts for the rate limits.
        running_per_user: fair admission: most diagnoses of one `requested_by["user"]` running
            (in the Redis pool: queued or running) at once; the user's further jobs wait for one
            of those to finish, holding no worker slot (0: no cap). Jobs without a user (the
            CLI's) are not capped.
    """

    per_user: int = 20
    per_channel: int = 60
    window: float = 60.0
    coalesce: float = 10.0
    running_per_user: int = 2

    def __post_init__(self) -> None:
        if self.per_user < 0 or self.per_channel < 0:
            raise InvalidSetting("rate limits must be 0 (unlimited) or more jobs per window.")
        if not 0 <= self.running_per_user <= 10_000:
            raise InvalidSetting("the per-user cap on running diagnoses must be 0 to 10,000.")
        if not 0 < self.window <= 86_400:
            raise InvalidSetting("the rate-limit window must be between 0 and 86,400 seconds.")
        if not 0 <= self.coalesce <= 3_600:
            raise InvalidSetting("the coalescing window must be between 0 and 3,600 seconds.")


def refusal(scope: str, who: str, limit: int, window: float, retry_after: float) -> str:
    """The one-line message a rate-limited requester sees."""
    wait = max(1, math.ceil(retry_after))
    return (
        f"Rate limit reached: {scope} {who} may start {limit} diagnoses per {window:g} s; "
        f"try again in {wait} s."
    )


def rate_limited(
    scope: str, who: str, limit: int, window: float, retry_after: float
) -> RateLimited:
    """The error for `who` over its limit: `refusal`'s words, and the facts for other wordings."""
    return RateLimited(
        refusal(scope, who, limit, window, retry_after),
        scope=scope,
        who=who,
        limit=limit,
        window=window,
        retry_after=retry_after,
    )


class SlidingWindow:
    """At most `limit` events per `window` seconds per key, in memory."""

    def __init__(
        self, limit: int, window: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._events: dict[str, deque[float]] = {}

    def retry_after(self, key: str) -> float:
        """0 when `key` may go now, else the seconds until its oldest event leaves the window."""
        if self.limit <= 0:
            return 0.0
        now = self._clock()
        q = self._events.get(key)
        if q is None:
            return 0.0
        while q and q[0] <= now - self.window:
            q.popleft()
        if not q:
            del self._events[key]
            return 0.0
        if len(q) < self.limit:
            return 0.0
        return q[0] + self.window - now

    def record(self, key: str) -> None:
        if self.limit <= 0:
            return
        self._events.setdefault(key, deque(maxlen=self.limit)).append(self._clock())

    def prune(self) -> None:
        """Forget keys whose events have all left the window."""
        horizon = self._clock() - self.window
        for key in [k for k, q in self._events.items() if not q or q[-1] <= horizon]:
            del self._events[key]

    def __len__(self) -> int:
        return len(self._events)


class LocalAdmission:
    """Coalescing and rate limits for the in-process pool (one process: no Redis needed)."""

    def __init__(self, limits: Limits, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self._clock = clock
        self._users = SlidingWindow(limits.per_user, limits.window, clock)
        self._channels = SlidingWindow(limits.per_channel, limits.window, clock)
        self._recent: dict[str, tuple[str, float]] = {}  # dedupe key -> (job id, expiry)

    def admit(self, job: Job) -> str | None:
        """The id of an identical job submitted within the coalescing window, or None when `job`
        is admitted as new. Raises RateLimited when its user or channel is over the limit: a
        duplicate counts too (seven identical commands are seven requests, sharing one job)."""
        now = self._clock()
        self._forget(now)
        key = job.dedupe_key() if self.limits.coalesce > 0 else None
        user = job.requested_by.get("user")
        channel = job.requested_by.get("channel")
        checks = (
            ("user", user, self._users, self.limits.per_user),
            ("channel", channel, self._channels, self.limits.per_channel),
        )
        for scope, who, window, limit in checks:
            if who:
                wait = window.retry_after(who)
                if wait > 0:
                    raise rate_limited(scope, who, limit, self.limits.window, wait)
        for _, who, window, _ in checks:
            if who:
                window.record(who)
        if key is not None and key in self._recent:
            return self._recent[key][0]
        if key is not None:
            self._recent[key] = (job.job_id, now + self.limits.coalesce)
        return None

    def _forget(self, now: float) -> None:
        # Insertion order is expiry order (one coalescing window for all), so stop at the first
        # live entry.
        while self._recent:
            key, (_, expiry) = next(iter(self._recent.items()))
            if expiry > now:
                break
            del self._recent[key]
        if len(self._users) + len(self._channels) > 1024:
            self._users.prune()
            self._channels.prune()
