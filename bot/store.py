"""Reports as their buttons reach them: `ReportStore` loads a report's state for the person who
clicked (telling them when it expired or belongs to another conversation) and keeps one lock per
report, so a rerun and a watch never overwrite each other's changes.

The state itself and the stores that keep it (memory, Redis) are in `bot.state`.
"""

from __future__ import annotations

import asyncio
import weakref

from bot.messenger import Messenger, Requester
from bot.state import ReportState, StateStore

__all__ = ["ELSEWHERE", "EXPIRED", "RUNNING", "ReportStore"]

EXPIRED = (
    ":hourglass: This report has expired (cf502 keeps reports for {ttl}), so its buttons no "
    "longer work. Run `/cf502 <origin>` again for a fresh one."
)
ELSEWHERE = "That button belongs to a report in another conversation."
RUNNING = ":hourglass_flowing_sand: This report is still running; try again when it has finished."


def _ttl_text(seconds: int) -> str:
    if seconds >= 86400 and seconds % 86400 == 0:
        days = seconds // 86400
        return f"{days} day{'s' if days > 1 else ''}"
    if seconds >= 3600:
        return f"{seconds // 3600} h"
    return f"{max(1, seconds // 60)} min"


class ReportStore:
    """The reports' state (in `states`, which keeps it for `ttl` s), one lock per report, and
    the store's claims (a watch, a Slack event handled once)."""

    def __init__(self, states: StateStore, messenger: Messenger, ttl: int) -> None:
        self.states = states
        self.messenger = messenger
        self.ttl = ttl
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    def lock(self, report_id: str) -> asyncio.Lock:
        """Hold it around a read-modify-write of the report's state."""
        lock = self._locks.get(report_id)
        if lock is None:
            lock = asyncio.Lock()
            self._locks[report_id] = lock
        return lock

    async def get(self, report_id: str) -> ReportState | None:
        return await self.states.get(report_id)

    async def put(self, state: ReportState) -> None:
        await self.states.put(state)

    async def load(
        self, report_id: str, who: Requester, *, finished: bool = False
    ) -> ReportState | None:
        """The report a button of `who` belongs to; None (and `who` is told why) when it has
        expired or belongs to another conversation, or, with `finished`, is still running."""
        state = await self.states.get(report_id)
        if state is None:
            await self.messenger.tell(who, EXPIRED.format(ttl=_ttl_text(self.ttl)))
            return None
        if state.channel != who.channel:  # a value copied into another conversation
            await self.messenger.tell(who, ELSEWHERE)
            return None
        if finished and state.phase == "running":
            await self.messenger.tell(who, RUNNING)
            return None
        return state

    async def claim(self, key: str, ttl: float) -> bool:
        """True for the first claim of `key` until it expires or is released."""
        return await self.states.claim(key, ttl)

    async def release(self, key: str) -> None:
        await self.states.release(key)

    async def remember(self, key: str, value: str, ttl: float) -> str:
        """Keep `value` under `key` unless one is kept already; returns the value kept."""
        return await self.states.remember(key, value, ttl)

    async def add_recent(self, team: str, report_id: str) -> None:
        await self.states.add_recent(team, report_id)

    async def recent(self, team: str) -> list[ReportState]:
        """`team`'s recent reports that have not expired, the newest first."""
        found: list[ReportState] = []
        for report_id in await self.states.recent(team):
            state = await self.states.get(report_id)
            if state is not None:
                found.append(state)
        return found
