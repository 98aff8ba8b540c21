"""The App Home tab, drawn when its viewer opens it (`app_home_opened`): the viewer's recent
reports and running watches, from the workspace's index of recent reports (`bot.state`)."""

from __future__ import annotations

from bot.home import MAX_LISTED, home_view, mine
from bot.poster import Poster
from bot.reports import Reports
from bot.store import ReportStore

__all__ = ["Homes"]


class Homes:
    """Publishes App Home views."""

    def __init__(self, reports: Reports, store: ReportStore, poster: Poster) -> None:
        self.reports = reports
        self.store = store
        self.poster = poster

    async def publish(self, user: str, team: str) -> None:
        """Draw `user`'s App Home in `team`. Raises PostError."""
        states = await self.store.recent(team) if team else []
        links: dict[str, str] = {}
        for state in mine(states, user)[:MAX_LISTED]:
            link = await self.reports.permalink(state)  # asked for once per report, then kept
            if link:
                links[state.report_id] = link
        await self.poster.publish_view(user, home_view(states, user, links))
