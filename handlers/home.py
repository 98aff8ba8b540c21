"""The App Home tab: drawn each time someone opens it (`app_home_opened`, tab "home")."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp

from bot.services import Services

__all__ = ["register"]


def register(app: AsyncApp, services: Services) -> None:
    @app.event("app_home_opened")
    async def on_home(event: dict[str, Any], body: dict[str, Any]) -> None:
        if event.get("tab") != "home" or not event.get("user"):
            return  # the Messages tab needs nothing drawn
        user, team = str(event["user"]), str(body.get("team_id") or "")
        services.background.spawn(services.homes.publish(user, team))
