"""The Rerun buttons: one check again (the report updated in place, the change noted on the check
and told to the clicker), or the whole report again, live, noting what changed (in the thread)."""

from __future__ import annotations

import time
from collections.abc import Callable

from bot.changes import what_changed
from bot.distribution import ONLY_RERUN_ALL
from bot.kit import rate_limited
from bot.messenger import Messenger, Requester
from bot.mrkdwn import escape
from bot.reports import (
    CALL_BUDGET,
    DETAIL,
    Reports,
    Rerun,
    drop_stale_notes,
    recheck_job,
    verdict_status,
)
from bot.state import Note
from bot.store import ReportStore
from cf502.errors import Cf502Error
from cf502.pool.jobs import Job, Pool, RateLimited

__all__ = ["Reruns"]


class Reruns:
    """Reruns a report's checks on request and writes the results into the report."""

    def __init__(
        self,
        reports: Reports,
        pool: Pool,
        store: ReportStore,
        messenger: Messenger,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.reports = reports
        self.pool = pool
        self.store = store
        self.messenger = messenger
        self._clock = clock

    async def _submit(self, job: Job, who: Requester) -> str | None:
        try:
            return await self.pool.submit(job)
        except RateLimited as exc:
            await self.messenger.tell(who, rate_limited(exc, who.user))
        except Cf502Error as exc:
            await self.messenger.tell(who, f":warning: Could not start the check: {escape(exc)}")
        return None

    async def rerun_check(self, report_id: str, check_id: str, who: Requester) -> None:
        """Rerun one check with the report's settings and update it in place, noting the change."""
        state = await self.store.load(report_id, who, finished=True)
        if state is None:
            return
        if state.distribution is not None:  # its origins share check ids: only Rerun all
            await self.messenger.tell(who, ONLY_RERUN_ALL)
            return
        job_id = await self._submit(recheck_job(state, (check_id,), who.user), who)
        if job_id is None:
            return
        title = state.titles.get(check_id, check_id)
        await self.messenger.tell(
            who, f"↻ Rerunning *{escape(title)}*; the report will update in place."
        )
        event = await self.reports.result(state, job_id)
        result = event.report.check(check_id) if event and event.report else None
        if result is None:
            why = (event.error if event else None) or "no result in time"
            await self.messenger.tell(
                who, f":warning: The rerun of {escape(title)} could not run: {escape(why)}"
            )
            return
        async with self.store.lock(report_id):
            state = await self.store.get(report_id) or state
            before = state.results.get(check_id)
            previous = {check_id: before.status} if before else {}
            since = state.ran_at
            state.results[check_id] = result
            state.notes[check_id] = Note(
                who.user, self._clock(), before.status if before else None, result.status
            )
            drop_stale_notes(state)
            if check_id in state.replies:
                await self.reports.update_reply(state, state.replies[check_id])
            elif result.status in DETAIL:
                await self.reports.post_reply(state, [result])
            await self.reports.redraw(state)
            await self.store.put(state)
        await self.messenger.tell(who, f"↻ {what_changed(previous, [result], since)}")

    async def rerun_all(self, report_id: str, who: Requester) -> None:
        """Rerun every check of the report in place (live), noting what changed."""
        state = await self.store.load(report_id, who, finished=True)
        if state is None:
            return
        job_id = await self._submit(recheck_job(state, state.check_ids, who.user), who)
        if job_id is None:
            return
        async with self.store.lock(report_id):
            state = await self.store.get(report_id) or state
            rerun = Rerun(
                who.user,
                {cid: r.status for cid, r in state.results.items()},
                verdict_status(state),
                started=self._clock(),
                by_name=who.name,
                since=state.ran_at,
            )
            state.results = {}
            state.phase, state.job_id = "running", job_id
            await self.reports.redraw(state)
            await self.store.put(state)
            await self.reports.follow(state, job_id, budget=CALL_BUDGET, rerun=rerun)
