"""Watch until fixed: recheck a report every `watch_interval` s until no check fails or
`watch_limit` s have passed; Stop ends it early. The report shows each recheck's changes (credited
to the watch); when the origin changes state the watcher is named in the thread with the verdict
and what changed, and "Fixed" is also shown in the channel.

Only one watch per report, across bot processes: a claim in the state store decides who watches.
A watch started by another process is stopped through the report's state, which its watcher
reads before each recheck.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from bot.background import Background
from bot.blocks import report_text, user
from bot.changes import what_changed
from bot.messenger import Messenger, Requester
from bot.mrkdwn import escape, truncate
from bot.notify import watch_note
from bot.poster import PostError
from bot.reports import Reports, apply_report, drop_stale_notes, note_changes, recheck_job
from bot.settings import Settings
from bot.state import WATCH, ReportState, Watch
from bot.store import ReportStore
from cf502.model import Status
from cf502.pool.jobs import EventKind, Pool, RateLimited

__all__ = ["Watches"]

log = logging.getLogger(__name__)

CLAIM_MARGIN = 60.0  # a watch's claim outlives its limit by this much


def _claim(report_id: str) -> str:
    return f"watch:{report_id}"


class Watches:
    """Starts, runs and stops the watches of reports (the ones this process runs are in `_tasks`)."""

    def __init__(
        self,
        reports: Reports,
        pool: Pool,
        store: ReportStore,
        messenger: Messenger,
        background: Background,
        settings: Settings,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.reports = reports
        self.pool = pool
        self.store = store
        self.messenger = messenger
        self.background = background
        self.settings = settings
        self._clock = clock
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._stopped_by: dict[str, str] = {}

    async def start(self, report_id: str, who: Requester) -> None:
        """Recheck every `watch_interval` s until nothing fails or `watch_limit` s have passed."""
        state = await self.store.load(report_id, who, finished=True)
        if state is None:
            return
        if not any(r.status in (Status.FAIL, Status.ERROR) for r in state.results.values()):
            await self.messenger.tell(
                who, ":white_check_mark: Nothing fails right now, so there is nothing to watch."
            )
            return
        limit = self.settings.watch_limit
        # The claim, not the state's flag, decides: a flag left "watching" by a bot process that
        # stopped must not block a new watch once its claim has expired.
        if not await self.store.claim(_claim(report_id), limit + CLAIM_MARGIN):
            by = f" (started by {user(state.watch.by)})" if state.watch else ""
            await self.messenger.tell(who, f":eyes: Already being watched{by}.")
            return
        async with self.store.lock(report_id):
            state = await self.store.get(report_id) or state
            now = self._clock()
            state.watch = Watch(
                who.user, now, now + limit, self.settings.watch_interval, by_name=who.name
            )
            await self.reports.redraw(state)
            await self.store.put(state)
        task = self.background.spawn(self._watch(report_id), who)
        self._tasks[report_id] = task

    async def stop(self, report_id: str, who: Requester) -> None:
        """End the report's watch now (the Stop button), wherever it runs."""
        state = await self.store.load(report_id, who)
        if state is None:
            return
        task = self._tasks.get(report_id)
        if task is not None:
            self._stopped_by[report_id] = who.user
            task.cancel()
            return
        # Watched by another bot process (or one that restarted): mark it stopped; the watcher
        # sees the mark before its next recheck.
        async with self.store.lock(report_id):
            state = await self.store.get(report_id) or state
            if state.watch is None or not state.watch.active:
                await self.messenger.tell(who, "This report is not being watched.")
                return
            state.watch.outcome, state.watch.stopped_by = "stopped", who.user
            await self.reports.redraw(state)
            await self.store.put(state)
        await self.store.release(_claim(report_id))

    def close(self) -> None:
        """Stop watching (shutdown): the watch tasks are cancelled, their states left as they are."""
        for task in list(self._tasks.values()):
            task.cancel()

    async def _watch(self, report_id: str) -> None:
        outcome, detail = "gave-up", ""
        try:
            outcome, detail = await self._rounds(report_id)
        except asyncio.CancelledError:
            stopper = self._stopped_by.pop(report_id, None)
            if stopper is None:  # shutdown, not a Stop button: leave the state as it is
                raise
            outcome, detail = "stopped", stopper
        finally:
            self._tasks.pop(report_id, None)
        await self._end(report_id, outcome, detail)

    async def _rounds(self, report_id: str) -> tuple[str, str]:
        while True:
            state = await self.store.get(report_id)
            if state is None or state.watch is None or not state.watch.active:
                return "gone", ""
            watch = state.watch
            if self._clock() + watch.interval > watch.until:
                return "gave-up", ""
            await asyncio.sleep(watch.interval)  # the recheck interval itself
            job = recheck_job(state, state.check_ids, watch.by)
            job.requested_by["watch"] = "1"
            try:
                job_id = await self.pool.submit(job)
            except RateLimited:
                continue  # skip this round; the next one will try again
            event = await self.reports.result(state, job_id)
            if event is None:
                continue
            if event.kind is not EventKind.DONE or event.report is None:
                return "failed", event.error or "the recheck could not run"
            async with self.store.lock(report_id):
                state = await self.store.get(report_id)
                if state is None or state.watch is None or not state.watch.active:
                    return "gone", ""
                previous = {cid: r.status for cid, r in state.results.items()}
                since, now = state.ran_at, self._clock()
                apply_report(state, event.report)
                note_changes(state, previous, state.watch.by, now, via=WATCH)
                state.ran_at = now
                drop_stale_notes(state)
                state.watch.runs += 1
                fixed = not event.report.failed
                if fixed:
                    state.watch.outcome = "fixed"
                moved = [c for c, r in state.results.items() if previous.get(c) is not r.status]
                for cid in moved:
                    if cid in state.replies:
                        await self.reports.update_reply(state, state.replies[cid])
                await self.reports.redraw(state)
                await self.store.put(state)
            changed = what_changed(previous, state.ordered_results, since)
            if fixed:
                return "fixed", changed
            if moved:  # a new state, not yet fixed: tell the watcher what it is now
                note = watch_note(state.watch.by, report_text(state), changed)
                try:
                    await self.reports.post_note(state, note)
                except PostError as exc:
                    log.warning("could not post a watch's change: %s", exc.code)

    async def _end(self, report_id: str, outcome: str, detail: str) -> None:
        await self.store.release(_claim(report_id))
        if outcome == "gone":
            return
        async with self.store.lock(report_id):
            state = await self.store.get(report_id)
            if state is None or state.watch is None:
                return
            watch = state.watch
            watch.outcome = outcome
            if outcome == "stopped":
                watch.stopped_by = detail
            minutes = max(1, round((self._clock() - watch.started) / 60))
            text = _message(state, watch, outcome, detail, minutes)
            if state.thread_ts:
                try:
                    # "Fixed" is news for the whole channel, not only for the thread.
                    await self.reports.post_note(state, text, broadcast=outcome == "fixed")
                except PostError as exc:
                    log.warning("could not post the end of a watch: %s", exc.code)
            await self.reports.redraw(state)
            await self.store.put(state)


def _message(state: ReportState, watch: Watch, outcome: str, detail: str, minutes: int) -> str:
    runs = f"{watch.runs} recheck{'s' if watch.runs != 1 else ''}"
    if outcome == "fixed":
        changed = f"\n{detail}" if detail else ""
        return (
            f":white_check_mark: {user(watch.by)} Fixed: {escape(truncate(state.target_host, 200))}"
            f" — no check fails any more (after {runs}, {minutes} min).{changed}"
        )
    if outcome == "stopped":
        return f":octagonal_sign: Watch stopped by {user(detail)} after {runs}."
    if outcome == "failed":
        return f":x: {user(watch.by)} Watch ended: the recheck could not run: {escape(truncate(detail, 500))}"
    failing = [
        escape(r.title) for r in state.ordered_results if r.status in (Status.FAIL, Status.ERROR)
    ]
    still = f" Still failing: {', '.join(failing)}." if failing else ""
    return f":hourglass: {user(watch.by)} Stopped watching after {minutes} min ({runs}).{still}"
