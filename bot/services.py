"""What the listeners work with: one object per job, built from the settings.

`handlers/` receive a `Services` in their `register(app, services)`; nothing here knows them.

    messenger   private notes and apologies to the requester (bot.messenger)
    background  the slow part of each request, after the ack (bot.background)
    store       reports' state for the buttons: load, lock, claims (bot.store)
    reports     queue a diagnosis, post and follow its report, redraw it (bot.reports)
    reruns      the Rerun / Rerun all buttons (bot.reruns)
    watches     Watch until fixed / Stop (bot.watches)
    origins     Diagnose origin… on a CloudFront site's report (bot.origins)
    homes       the App Home tab (bot.homes)
    poster      what writes to Slack, for the answers that are one message (bot.poster)
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from bot.background import Background
from bot.homes import Homes
from bot.messenger import Messenger
from bot.origins import Origins
from bot.poster import Poster
from bot.reports import Reports
from bot.reruns import Reruns
from bot.settings import Settings
from bot.state import StateStore
from bot.store import ReportStore
from bot.watches import Watches
from cf502.pool.jobs import Pool

__all__ = ["Services"]


@dataclass(frozen=True)
class Services:
    """The Slack app's services, sharing one pool, one state store and one poster."""

    settings: Settings
    messenger: Messenger
    background: Background
    store: ReportStore
    reports: Reports
    reruns: Reruns
    watches: Watches
    origins: Origins
    homes: Homes
    poster: Poster

    @classmethod
    def build(
        cls,
        settings: Settings,
        pool: Pool,
        states: StateStore,
        poster: Poster,
        *,
        clock: Callable[[], float] = time.time,
    ) -> Services:
        messenger = Messenger(poster)
        background = Background(messenger)
        store = ReportStore(states, messenger, settings.report_ttl)
        reports = Reports(pool, store, poster, messenger, background, settings, clock=clock)
        reruns = Reruns(reports, pool, store, messenger, clock=clock)
        watches = Watches(reports, pool, store, messenger, background, settings, clock=clock)
        origins = Origins(reports, store, poster, messenger)
        homes = Homes(reports, store, poster)
        return cls(
            settings, messenger, background, store, reports, reruns, watches, origins, homes, poster
        )

    async def close(self) -> None:
        """Stop the watches, let the rest of the background work finish (briefly), then stop."""
        self.watches.close()
        await self.background.close()
