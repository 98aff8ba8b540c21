"""deploy/slack-manifest.yml creates exactly the app the code expects, with the fewest scopes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from bot.actions import ActionId
from handlers.commands import COMMAND

MANIFEST = Path(__file__).resolve().parents[2] / "deploy" / "slack-manifest.yml"


def manifest() -> dict[str, Any]:
    data = yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def test_slash_command_matches_the_handler() -> None:
    commands = manifest()["features"]["slash_commands"]
    assert [c["command"] for c in commands] == [COMMAND]
    # The app parses Slack's markup itself, so it does not ask Slack to escape
    assert commands[0]["should_escape"] is False
    assert len(commands[0]["usage_hint"]) <= 1000 and len(commands[0]["description"]) <= 2000


def test_minimal_bot_scopes_events_interactivity_and_socket_mode() -> None:
    m = manifest()
    assert m["oauth_config"]["scopes"]["bot"] == ["commands", "chat:write", "app_mentions:read"]
    assert "user" not in m["oauth_config"]["scopes"]
    assert m["settings"]["event_subscriptions"]["bot_events"] == ["app_mention"]
    assert m["settings"]["interactivity"]["is_enabled"] is True
    assert m["settings"]["socket_mode_enabled"] is True
    assert m["features"]["bot_user"]["display_name"] == "cf502"
    # Buttons need interactivity; every action id the blocks use is namespaced for this app
    assert all(a.value.startswith("cf502-") for a in ActionId)
