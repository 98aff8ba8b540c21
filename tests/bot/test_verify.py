"""bot/verify.py: the signature check's edge cases and the replay memory's bounds."""

from __future__ import annotations

import pytest
from slack_sdk.signature import SignatureVerifier

from bot.verify import WINDOW, MemoryReplays, RequestVerifier, Unverified

SECRET = "0123456789abcdef0123456789abcdef"
NOW = 1_700_000_000.0


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _headers(body: str, ts: str) -> dict[str, str]:
    sig = SignatureVerifier(SECRET).generate_signature(timestamp=ts, body=body) or ""
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": sig}


def test_a_signed_request_is_verified_within_the_window_only() -> None:
    body = "command=%2Fcf502&text=help"
    verifier = RequestVerifier(SECRET, clock=Clock(NOW))
    ok = verifier.verify(_headers(body, str(int(NOW) - WINDOW)), body.encode())
    assert ok.body == body and ok.timestamp == int(NOW) - WINDOW
    # It could be replayed until its timestamp leaves the window (plus a second of slack)
    assert verifier.seconds_left(ok) == 1
    with pytest.raises(Unverified, match="stale"):
        verifier.verify(_headers(body, str(int(NOW) - WINDOW - 1)), body.encode())
    with pytest.raises(Unverified, match="wrong signature"):
        verifier.verify(_headers(body, str(int(NOW))), b"command=%2Fcf502&text=other")


async def test_memory_replays_refuse_a_signature_until_it_expires() -> None:
    clock = Clock(0.0)
    seen = MemoryReplays(clock=clock)
    assert await seen.first_time("v0=a", 10)
    assert not await seen.first_time("v0=a", 10)
    clock.now = 10.5
    assert await seen.first_time("v0=a", 10)


async def test_memory_replays_stay_bounded() -> None:
    clock = Clock(0.0)
    seen = MemoryReplays(limit=3, clock=clock)
    # Given far more distinct signatures than the limit, all within their window
    for i in range(1000):
        assert await seen.first_time(f"v0={i}", 600)
    # Then only the newest are kept
    assert len(seen) == 3
    assert not await seen.first_time("v0=999", 600)
    # And expired ones are dropped as time passes
    clock.now = 601
    await seen.first_time("v0=new", 600)
    assert len(seen) == 1
