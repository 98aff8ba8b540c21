"""Bolt listeners: thin on purpose. Each one parses, acknowledges, and hands the work to one of
`bot`'s services (`bot.services.Services`: reports, reruns, watches, ...). No check logic, no
Block Kit.

Imports go downwards only: `handlers` import `bot` (and `cf502`); `bot` never imports `handlers`.
The process entry (`cf502 bot`) passes `register` to `bot.run.start`, which wires it into the app.
"""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.services import Services
from handlers import actions, commands, home, mentions, messages, shortcuts, views

__all__ = ["register"]


def register(app: AsyncApp, services: Services) -> None:
    """Add every listener to `app`; each kind's module has its own `register`."""
    commands.register(app, services)
    mentions.register(app, services)
    messages.register(app, services)
    actions.register(app, services)
    shortcuts.register(app, services)
    views.register(app, services)
    home.register(app, services)
