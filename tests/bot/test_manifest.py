"""deploy/slack-manifest.yml creates exactly the app the code expects, with the fewest scopes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from bot.actions import ActionId
from bot.shortcut import SHORTCUT
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
    assert m["oauth_config"]["scopes"]["bot"] == [
        "commands",
        "chat:write",
        "chat:write.public",
        "files:write",
        "app_mentions:read",
        "im:history",
    ]
    assert "user" not in m["oauth_config"]["scopes"]
    assert m["settings"]["event_subscriptions"]["bot_events"] == [
        "app_mention",
        "app_home_opened",
        "message.im",
    ]
    assert m["settings"]["interactivity"]["is_enabled"] is True
    assert m["settings"]["socket_mode_enabled"] is True
    assert m["features"]["bot_user"]["display_name"] == "cf502"
    # Buttons need interactivity; every action id the blocks use is namespaced for this app
    assert all(a.value.startswith("cf502-") for a in ActionId)


def test_every_scope_says_why_it_is_needed() -> None:
    text = MANIFEST.read_text(encoding="utf-8")
    header = text[: text.index("_metadata:")]
    for scope in manifest()["oauth_config"]["scopes"]["bot"]:
        assert f"#   {scope} " in header, scope


def test_the_message_shortcut_and_app_home_match_the_handlers() -> None:
    m = manifest()
    shortcuts = m["features"]["shortcuts"]
    assert [(s["type"], s["callback_id"]) for s in shortcuts] == [("message", SHORTCUT)]
    assert len(shortcuts[0]["name"]) <= 24 and len(shortcuts[0]["description"]) <= 150
    home = m["features"]["app_home"]
    assert home["home_tab_enabled"] and home["messages_tab_enabled"]
    assert home["messages_tab_read_only_enabled"] is False
