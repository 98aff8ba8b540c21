"""Bolt listeners: thin on purpose. Each one parses, acknowledges, and hands the work to
`bot.reports.Reports` (which queues jobs and writes to Slack). No check logic, no Block Kit."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.reports import Reports
from bot.settings import Settings
from handlers import actions, commands, mentions

__all__ = ["register"]


def register(app: AsyncApp, reports: Reports, settings: Settings) -> None:
    commands.register(app, reports, settings)
    mentions.register(app, reports, settings)
    actions.register(app, reports, settings)
