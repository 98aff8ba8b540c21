"""The operator's allowlists."""

from __future__ import annotations

from bot.policy import refusal
from bot.settings import Settings

BASE = Settings(bot_token="xoxb-1")


def test_empty_allowlists_allow_everyone() -> None:
    assert refusal(BASE, "U1", "C1") is None


def test_channel_and_user_allowlists() -> None:
    from dataclasses import replace

    s = replace(BASE, channel_allowlist=frozenset({"C1"}), user_allowlist=frozenset({"U1"}))
    assert refusal(s, "U1", "C1") is None
    assert "channel" in (refusal(s, "U1", "C2") or "")
    assert "user allowlist" in (refusal(s, "U2", "C1") or "")
