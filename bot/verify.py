"""HTTP mode: Slack's request signature, checked before anything reads the body, and replays.

`RequestVerifier.verify` takes the raw bytes and headers of a POST to /slack/events and either
returns the verified text or raises `Unverified` (the caller answers 401 and does nothing else):
a missing, malformed, stale or wrong signature or timestamp, or a body that is not UTF-8. Only
then is the body parsed, so nothing an unverified sender wrote is ever looked at.

A correctly signed request stays valid for Slack's 5-minute window, so whoever captures one could
send it again; `ReplayGuard`s remember the signatures seen within the window (in Redis, shared by
every bot replica, when it is configured; in memory, bounded, otherwise).
"""

from __future__ import annotations

import logging
import re
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from slack_sdk.signature import Clock, SignatureVerifier

from bot.state import StateStore

__all__ = [
    "WINDOW",
    "MemoryReplays",
    "ReplayGuard",
    "RequestVerifier",
    "StoreReplays",
    "Unverified",
    "Verified",
]

log = logging.getLogger(__name__)

WINDOW = 300  # seconds: Slack's documented tolerance between its timestamp and our clock
_TIMESTAMP = re.compile(r"[0-9]{1,12}", re.ASCII)
_SIGNATURE = re.compile(r"v0=[0-9a-f]{64}", re.ASCII)


class Unverified(Exception):
    """The request is not provably from Slack; `reason` is short and safe to log."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Verified:
    body: str
    timestamp: int
    signature: str


class _FuncClock(Clock):
    def __init__(self, now: Callable[[], float]) -> None:
        self._now = now

    def now(self) -> float:
        return self._now()


class RequestVerifier:
    """Checks `X-Slack-Signature` / `X-Slack-Request-Timestamp` with slack_sdk's verifier."""

    def __init__(self, signing_secret: str, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._verifier = SignatureVerifier(signing_secret, clock=_FuncClock(clock))

    def verify(self, headers: Mapping[str, str], raw: bytes) -> Verified:
        timestamp = headers.get("X-Slack-Request-Timestamp")
        signature = headers.get("X-Slack-Signature")
        if not timestamp or not signature:
            raise Unverified("no signature")
        # slack_sdk's verifier raises on a non-integer timestamp: vet the shapes first.
        if not _TIMESTAMP.fullmatch(timestamp):
            raise Unverified("malformed timestamp")
        if not _SIGNATURE.fullmatch(signature):
            raise Unverified("malformed signature")
        if abs(self._clock() - int(timestamp)) > WINDOW:
            raise Unverified("stale timestamp")
        try:
            body = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise Unverified("body is not UTF-8") from None
        if not self._verifier.is_valid(body, timestamp, signature):
            raise Unverified("wrong signature")
        return Verified(body, int(timestamp), signature)

    def seconds_left(self, verified: Verified) -> float:
        """How long `verified` could still be replayed (at least 1 s)."""
        return max(1.0, verified.timestamp + WINDOW - self._clock() + 1)


class ReplayGuard(Protocol):
    async def first_time(self, signature: str, ttl: float) -> bool:
        """True the first time `signature` is seen within `ttl` seconds, False afterwards."""
        ...


class MemoryReplays:
    """Signatures seen in this process, each kept `ttl` seconds; at most `limit` of them.

    Only verified requests are remembered, so the set grows with Slack's own traffic; past
    `limit` the oldest are forgotten first (a replay of those is still refused by the window)."""

    def __init__(self, limit: int = 50_000, clock: Callable[[], float] = time.monotonic) -> None:
        self._limit = limit
        self._clock = clock
        self._seen: OrderedDict[str, float] = OrderedDict()

    def __len__(self) -> int:
        return len(self._seen)

    async def first_time(self, signature: str, ttl: float) -> bool:
        now = self._clock()
        # Oldest first: drop the expired ones at the front (entries further back expire later).
        while self._seen:
            key, expires = next(iter(self._seen.items()))
            if expires > now:
                break
            del self._seen[key]
        seen_until = self._seen.get(signature)
        if seen_until is not None and seen_until > now:
            return False
        while len(self._seen) >= self._limit:
            self._seen.popitem(last=False)
        self._seen[signature] = now + ttl
        return True


class StoreReplays:
    """Signatures in the state store (Redis: SET NX EX), so every bot replica sees them.

    If the store fails, the process's own memory answers (Slack's requests keep being served
    while Redis is away)."""

    def __init__(self, store: StateStore, fallback: MemoryReplays | None = None) -> None:
        self._store = store
        self._fallback = fallback or MemoryReplays()

    async def first_time(self, signature: str, ttl: float) -> bool:
        # Always remembered locally too, so an outage does not forget what was seen before it.
        local = await self._fallback.first_time(signature, ttl)
        try:
            shared = await self._store.claim(f"signature:{signature}", ttl)
        except Exception as exc:  # Redis down or slow: this process's memory still answers
            log.warning("replay check fell back to memory: %s", type(exc).__name__)
            return local
        return local and shared
