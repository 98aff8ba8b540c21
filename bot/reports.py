"""Reports in Slack: queue a diagnosis, then keep its messages up to date as results arrive.

A complete report costs at most `CALL_BUDGET` Web API calls: the root message, at most
`MAX_LIVE_UPDATES` live redraws (coalesced: no more often than every `update_interval` seconds),
the thread replies for failing/warning checks (grouped when there are more than the budget
leaves room for) and the final redraw. Everything here runs after the request was acknowledged;
Slack is written to only through `bot.poster`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import weakref
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from typing import Any

from bot.blocks import (
    Block,
    commands_blocks,
    reply_blocks,
    reply_text,
    report_blocks,
    report_text,
    standalone_blocks,
    user,
)
from bot.command import Request
from bot.mrkdwn import escape, truncate
from bot.poster import NOT_POSTABLE, Poster, PostError
from bot.settings import Settings
from bot.state import Note, ReportState, StateStore, Watch, new_report_id
from cf502.config import OriginSettings
from cf502.deadlines import Deadlines
from cf502.errors import Cf502Error, QueueError
from cf502.jobs import EventKind, Job, JobEvent, JobKind, Pool, RateLimited
from cf502.model import CheckResult, Report, Status

__all__ = ["APOLOGY", "CALL_BUDGET", "MAX_LIVE_UPDATES", "Reports", "Requester", "plan_replies"]

log = logging.getLogger(__name__)

CALL_BUDGET = 6
MAX_LIVE_UPDATES = 2
_DETAIL = (Status.FAIL, Status.WARN)  # statuses that get a thread reply
ACK_PRIORITY = 1.0  # longest a report waits for a burst of acks to be answered first
QUEUE_WAIT = 300.0  # how long a job may wait for a free worker before we give up following it

EXPIRED = (
    ":hourglass: This report has expired (cf502 keeps reports for {ttl}), so its buttons no "
    "longer work. Run `/cf502 <origin>` again for a fresh one."
)
APOLOGY = (
    ":warning: Sorry, something went wrong inside cf502. It has been logged; please try again."
)
RUNNING = ":hourglass_flowing_sand: This report is still running; try again when it has finished."


@dataclass(frozen=True, slots=True)
class Requester:
    """Who asked, where, and how to answer them privately."""

    user: str
    channel: str
    thread_ts: str | None = None
    response_url: str | None = None


@dataclass(frozen=True, slots=True)
class Rerun:
    """A rerun of a whole report: who asked, and the statuses it replaces."""

    by: str
    previous: dict[str, Status]
    verdict: Status


def plan_replies(results: list[CheckResult], slots: int) -> list[list[CheckResult]]:
    """One reply per result while the budget allows; the rest share the last reply."""
    if not results:
        return []
    slots = max(1, slots)
    if len(results) <= slots:
        return [[r] for r in results]
    return [[r] for r in results[: slots - 1]] + [results[slots - 1 :]]


def _ttl_text(seconds: int) -> str:
    if seconds >= 86400 and seconds % 86400 == 0:
        days = seconds // 86400
        return f"{days} day{'s' if days > 1 else ''}"
    if seconds >= 3600:
        return f"{seconds // 3600} h"
    return f"{max(1, seconds // 60)} min"


class Reports:
    """Queues diagnoses for Slack requests and writes their reports (implements the buttons)."""

    def __init__(
        self,
        pool: Pool,
        store: StateStore,
        poster: Poster,
        settings: Settings,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.pool = pool
        self.store = store
        self.poster = poster
        self.settings = settings
        self._clock = clock
        self._tasks: set[asyncio.Task[None]] = set()
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()
        self._watches: dict[str, asyncio.Task[None]] = {}
        self._stopped_by: dict[str, str] = {}
        self._acking = 0  # requests being acknowledged right now
        self._acks_done = asyncio.Event()
        self._acks_done.set()

    # -- plumbing ---------------------------------------------------------------------------

    def _lock(self, report_id: str) -> asyncio.Lock:
        lock = self._locks.get(report_id)
        if lock is None:
            lock = asyncio.Lock()
            self._locks[report_id] = lock
        return lock

    def spawn(
        self, coro: Coroutine[Any, Any, None], who: Requester | None = None
    ) -> asyncio.Task[None]:
        """Run `coro` after the ack; an unexpected error is logged and apologised for."""

        async def guarded() -> None:
            try:
                await self._after_acks()
                await coro
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("background Slack work failed")
                if who is not None:
                    await self.apologise(who)

        task = asyncio.create_task(guarded())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    @contextlib.contextmanager
    def acknowledging(self) -> Iterator[None]:
        """Mark a request as being acknowledged: background Slack work waits until no request is
        (at most `ACK_PRIORITY` s), so a burst of commands is acked before their reports start."""
        self._acking += 1
        self._acks_done.clear()
        try:
            yield
        finally:
            self._acking -= 1
            if not self._acking:
                self._acks_done.set()

    async def _after_acks(self) -> None:
        if self._acking:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(ACK_PRIORITY):
                    await self._acks_done.wait()

    async def apologise(self, who: Requester) -> None:
        if who.response_url and await self.poster.respond(who.response_url, APOLOGY):
            return
        if who.user and who.channel:
            await self.poster.ephemeral(who.channel, who.user, APOLOGY, thread_ts=who.thread_ts)

    async def tell(self, who: Requester, text: str) -> None:
        """A private note to the requester: via the response URL, else an ephemeral message."""
        if who.response_url and await self.poster.respond(who.response_url, text):
            return
        await self.poster.ephemeral(who.channel, who.user, text, thread_ts=who.thread_ts)

    async def drain(self, timeout: float = 30.0) -> None:
        """Wait for the background work started so far (tests, shutdown)."""
        pending = [t for t in self._tasks if not t.done()]
        if pending:
            await asyncio.wait(pending, timeout=timeout)

    async def close(self) -> None:
        for task in list(self._watches.values()):
            task.cancel()
        await self.drain(timeout=5.0)
        for task in [t for t in self._tasks if not t.done()]:
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def _deadline(self, state: ReportState) -> float:
        origin = OriginSettings.from_dict(state.origin)
        return QUEUE_WAIT + Deadlines.of(origin, self.settings.engine).check * 2

    def _job(self, state: ReportState, kind: JobKind, only: tuple[str, ...], user: str) -> Job:
        # Reruns name their checks explicitly (RERUN): they never coalesce with the original
        # DIAGNOSE job, so "Rerun all" a few seconds after a report still connects afresh.
        return Job(
            kind=kind,
            target=state.target,
            origin=state.origin,
            only=only,
            requested_by={"user": user, "channel": state.channel, "report": state.report_id},
            parent_job=state.job_id,
        )

    # -- a new report -----------------------------------------------------------------------

    async def submit(self, req: Request, who: Requester) -> ReportState:
        """Queue the diagnosis of `req`: no Slack call and no origin I/O, so it is fast enough to
        happen before the ack. Raises RateLimited or QueueError."""
        if req.target is None or req.origin is None:
            raise ValueError("submit() needs a check request, not help")
        report_id = new_report_id()
        job = Job(
            kind=JobKind.DIAGNOSE,
            target=req.target.to_dict(),
            origin=req.origin.to_dict(),
            only=req.only,
            requested_by={"user": who.user, "channel": who.channel, "report": report_id},
        )
        job_id = await self.pool.submit(job)
        return ReportState(
            report_id=report_id,
            channel=who.channel,
            requested_by=who.user,
            requested_at=self._clock(),
            target=req.target.to_dict(),
            origin=req.origin.to_dict(),
            only=req.only,
            check_ids=req.check_ids,
            titles=dict(req.titles),
            job_id=job_id,
            thread_ts=who.thread_ts,
            response_url=who.response_url,
        )

    def launch(self, state: ReportState) -> asyncio.Task[None]:
        """Post the root message and follow the job to the end, in the background."""
        who = Requester(state.requested_by, state.channel, state.thread_ts, state.response_url)
        return self.spawn(self._run_new(state), who)

    async def _run_new(self, state: ReportState) -> None:
        ttl = self.settings.report_ttl
        try:
            ts = await self.poster.post(
                state.channel,
                report_blocks(state, ttl=ttl),
                report_text(state),
                thread_ts=state.thread_ts,
                compact=report_blocks(state, ttl=ttl, compact=True),
            )
        except PostError as exc:
            if exc.code not in NOT_POSTABLE:
                raise
            await self._without_channel(state, exc.code)
            return
        state.root_ts = ts
        state.thread_ts = state.thread_ts or ts
        await self.store.put(state)
        await self._follow(state, state.job_id or "", budget=CALL_BUDGET - 1)

    async def _without_channel(self, state: ReportState, code: str) -> None:
        """The bot can't post here: hint how to fix it, and still deliver the report privately."""
        who = Requester(state.requested_by, state.channel, None, state.response_url)
        hint = (
            f":wave: I can't post in this conversation (`{escape(code)}`). Invite me with "
            "`/invite @cf502` to get the live threaded report with Rerun and Watch buttons. "
            "Meanwhile I'm checking, and I'll send you the report here."
        )
        await self.tell(who, hint)
        if not state.response_url or state.job_id is None:
            return
        event = await self._final_event(state.job_id, self._deadline(state))
        if event is not None and event.kind is EventKind.DONE and event.report is not None:
            self._apply(state, event.report)
        else:
            state.phase = "failed"
            state.error = event.error if event is not None else "no result in time"
        await self.poster.respond(
            state.response_url,
            report_text(state),
            blocks=standalone_blocks(state),
        )

    async def _final_event(self, job_id: str, timeout: float) -> JobEvent | None:
        try:
            return await self.pool.result(job_id, timeout=timeout)
        except QueueError as exc:
            return JobEvent(job_id, EventKind.FAILED, error=str(exc))

    # -- following a job --------------------------------------------------------------------

    def _apply(self, state: ReportState, report: Report) -> None:
        for res in report.checks:
            state.results[res.id] = res
            if res.id not in state.check_ids:  # a worker with a newer registry
                state.check_ids = (*state.check_ids, res.id)
                state.titles[res.id] = res.title
        state.duration_ms = report.duration_ms
        state.addresses = report.addresses
        state.phase = "done"
        state.error = None

    async def _redraw(self, state: ReportState) -> bool:
        if state.root_ts is None:
            return False
        ttl = self.settings.report_ttl
        try:
            await self.poster.update(
                state.channel,
                state.root_ts,
                report_blocks(state, ttl=ttl),
                report_text(state),
                compact=report_blocks(state, ttl=ttl, compact=True),
            )
        except PostError as exc:
            log.warning("could not update report %s: %s", state.report_id, exc.code)
            return False
        return True

    async def _follow(
        self,
        state: ReportState,
        job_id: str,
        *,
        budget: int,
        rerun: Rerun | None = None,
    ) -> None:
        """Fill the report in as the job's checks finish, then post the details and the end.

        For a rerun of the whole report, `rerun` says who asked and what the results were, so the
        changes are noted in place."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[JobEvent | Exception] = asyncio.Queue()

        async def pump() -> None:
            try:
                async for event in self.pool.events(job_id):
                    await queue.put(event)
                    if event.kind is not EventKind.CHECK:
                        return
            except Exception as exc:  # QueueError and the like end the report as failed
                await queue.put(exc)

        pumper = asyncio.create_task(pump())
        live_left = max(0, min(MAX_LIVE_UPDATES, budget - 2))  # keep the final redraw + 1 reply
        used, dirty = 0, False
        last = loop.time()
        interval = self.settings.update_interval
        try:
            async with asyncio.timeout(self._deadline(state)):
                while True:
                    wait = None
                    if dirty and live_left > 0:
                        wait = max(0.0, last + interval - loop.time())
                    try:
                        item = await asyncio.wait_for(queue.get(), wait)
                    except TimeoutError:
                        # Coalesced: one redraw for everything that finished since the last one.
                        await self._redraw(state)
                        used, live_left, dirty, last = used + 1, live_left - 1, False, loop.time()
                        continue
                    if isinstance(item, Exception):
                        state.phase, state.error = "failed", _one_line(item)
                        break
                    if item.kind is EventKind.CHECK and item.check is not None:
                        state.results[item.check.id] = item.check
                        dirty = True
                        continue
                    if item.kind is EventKind.DONE and item.report is not None:
                        self._apply(state, item.report)
                    else:
                        state.phase = "failed"
                        state.error = item.error or "the diagnosis could not run"
                    break
        except TimeoutError:
            state.phase, state.error = "failed", "no result in time; the job queue may be stuck"
        finally:
            pumper.cancel()
            await asyncio.gather(pumper, return_exceptions=True)
        if rerun is not None and state.phase == "done":
            self._note_changes(state, rerun.previous, rerun.by)
            state.rerun_all = Note(rerun.by, self._clock(), rerun.verdict, _verdict_status(state))
        await self._finish(state, slots=budget - used - 1)

    def _note_changes(self, state: ReportState, previous: dict[str, Status], by: str) -> None:
        now = self._clock()
        for cid, res in state.results.items():
            before = previous.get(cid)
            if before is not None and before is not res.status:
                state.notes[cid] = Note(by, now, before, res.status)

    async def _finish(self, state: ReportState, *, slots: int) -> None:
        """Thread replies for failing/warning checks (new ones within `slots` messages, existing
        ones updated in place), then the final redraw of the root."""
        if state.phase == "done":
            earlier = dict.fromkeys(state.replies.values())  # replies of an earlier run: redraw
            fresh = [
                r
                for r in state.ordered_results
                if r.status in _DETAIL and r.id not in state.replies
            ]
            for group in plan_replies(fresh, slots):
                await self._post_reply(state, group)
            for ts in earlier:
                await self._update_reply(state, ts)
        await self._redraw(state)
        await self.store.put(state)

    async def _post_reply(self, state: ReportState, group: list[CheckResult]) -> None:
        try:
            ts = await self.poster.post(
                state.channel,
                reply_blocks(state, group),
                reply_text(group),
                thread_ts=state.thread_ts,
            )
        except PostError as exc:
            log.warning("could not post the details of %s: %s", state.report_id, exc.code)
            return
        for res in group:
            state.replies[res.id] = ts

    async def _update_reply(self, state: ReportState, ts: str) -> None:
        group = [
            state.results[c]
            for c in state.check_ids
            if state.replies.get(c) == ts and c in state.results
        ]
        if not group:
            return
        try:
            await self.poster.update(
                state.channel, ts, reply_blocks(state, group), reply_text(group)
            )
        except PostError as exc:
            log.warning("could not update a reply of %s: %s", state.report_id, exc.code)

    # -- buttons ----------------------------------------------------------------------------

    async def _load(self, report_id: str, who: Requester) -> ReportState | None:
        state = await self.store.get(report_id)
        if state is None:
            await self.tell(who, EXPIRED.format(ttl=_ttl_text(self.settings.report_ttl)))
            return None
        if state.channel != who.channel:  # a value copied into another conversation
            await self.tell(who, "That button belongs to a report in another conversation.")
            return None
        return state

    async def _submit(self, job: Job, who: Requester) -> str | None:
        try:
            return await self.pool.submit(job)
        except RateLimited as exc:
            await self.tell(who, f":hourglass: {escape(exc)}")
        except Cf502Error as exc:
            await self.tell(who, f":warning: Could not start the check: {escape(exc)}")
        return None

    async def rerun_check(self, report_id: str, check_id: str, who: Requester) -> None:
        """Rerun one check with the report's settings and update it in place, noting the change."""
        state = await self._load(report_id, who)
        if state is None:
            return
        if state.phase == "running":
            await self.tell(who, RUNNING)
            return
        job_id = await self._submit(self._job(state, JobKind.RERUN, (check_id,), who.user), who)
        if job_id is None:
            return
        title = state.titles.get(check_id, check_id)
        await self.tell(who, f"↻ Rerunning *{escape(title)}*; the report will update in place.")
        event = await self._final_event(job_id, self._deadline(state))
        result = event.report.check(check_id) if event and event.report else None
        if result is None:
            why = (event.error if event else None) or "no result in time"
            await self.tell(
                who, f":warning: The rerun of {escape(title)} could not run: {escape(why)}"
            )
            return
        async with self._lock(report_id):
            state = await self.store.get(report_id) or state
            before = state.results.get(check_id)
            state.results[check_id] = result
            state.notes[check_id] = Note(
                who.user, self._clock(), before.status if before else None, result.status
            )
            if check_id in state.replies:
                await self._update_reply(state, state.replies[check_id])
            elif result.status in _DETAIL:
                await self._post_reply(state, [result])
            await self._redraw(state)
            await self.store.put(state)

    async def rerun_all(self, report_id: str, who: Requester) -> None:
        """Rerun every check of the report in place (live), noting what changed."""
        state = await self._load(report_id, who)
        if state is None:
            return
        if state.phase == "running":
            await self.tell(who, RUNNING)
            return
        job_id = await self._submit(self._job(state, JobKind.RERUN, state.check_ids, who.user), who)
        if job_id is None:
            return
        async with self._lock(report_id):
            state = await self.store.get(report_id) or state
            rerun = Rerun(
                who.user,
                {cid: r.status for cid, r in state.results.items()},
                _verdict_status(state),
            )
            state.results = {}
            state.phase, state.job_id = "running", job_id
            await self._redraw(state)
            await self.store.put(state)
            await self._follow(state, job_id, budget=CALL_BUDGET, rerun=rerun)

    async def show_commands(self, report_id: str, check_id: str, who: Requester) -> None:
        """Post the check's equivalent commands in the report's thread, for everyone."""
        state = await self._load(report_id, who)
        if state is None:
            return
        result = state.results.get(check_id)
        if result is None:
            await self.tell(who, RUNNING)
            return
        blocks = commands_blocks(state, result, who.user)
        try:
            await self.poster.post(
                state.channel,
                blocks,
                f"Equivalent commands for {escape(result.title)}",
                thread_ts=state.thread_ts,
            )
        except PostError as exc:
            if exc.code not in NOT_POSTABLE or not who.response_url:
                raise
            await self.poster.respond(who.response_url, "Equivalent commands", blocks=blocks)

    # -- watching ---------------------------------------------------------------------------

    async def start_watch(self, report_id: str, who: Requester) -> None:
        """Recheck every `watch_interval` s until nothing fails or `watch_limit` s have passed."""
        state = await self._load(report_id, who)
        if state is None:
            return
        if state.phase == "running":
            await self.tell(who, RUNNING)
            return
        if not any(r.status in (Status.FAIL, Status.ERROR) for r in state.results.values()):
            await self.tell(
                who, ":white_check_mark: Nothing fails right now, so there is nothing to watch."
            )
            return
        limit = self.settings.watch_limit
        # The claim, not the state's flag, decides: a flag left "watching" by a bot process that
        # stopped must not block a new watch once its claim has expired.
        if not await self.store.claim(f"watch:{report_id}", limit + 60):
            by = f" (started by {user(state.watch.by)})" if state.watch else ""
            await self.tell(who, f":eyes: Already being watched{by}.")
            return
        async with self._lock(report_id):
            state = await self.store.get(report_id) or state
            now = self._clock()
            state.watch = Watch(who.user, now, now + limit, self.settings.watch_interval)
            await self._redraw(state)
            await self.store.put(state)
        task = self.spawn(self._watch(report_id), who)
        self._watches[report_id] = task

    async def stop_watch(self, report_id: str, who: Requester) -> None:
        state = await self._load(report_id, who)
        if state is None:
            return
        task = self._watches.get(report_id)
        if task is not None:
            self._stopped_by[report_id] = who.user
            task.cancel()
            return
        # Watched by another bot process (or one that restarted): mark it stopped; the watcher
        # sees the mark before its next recheck.
        async with self._lock(report_id):
            state = await self.store.get(report_id) or state
            if state.watch is None or not state.watch.active:
                await self.tell(who, "This report is not being watched.")
                return
            state.watch.outcome, state.watch.stopped_by = "stopped", who.user
            await self._redraw(state)
            await self.store.put(state)
        await self.store.release(f"watch:{report_id}")

    async def _watch(self, report_id: str) -> None:
        outcome, detail = "gave-up", ""
        try:
            outcome, detail = await self._watch_rounds(report_id)
        except asyncio.CancelledError:
            stopper = self._stopped_by.pop(report_id, None)
            if stopper is None:  # shutdown, not a Stop button: leave the state as it is
                raise
            outcome, detail = "stopped", stopper
        finally:
            self._watches.pop(report_id, None)
        await self._end_watch(report_id, outcome, detail)

    async def _watch_rounds(self, report_id: str) -> tuple[str, str]:
        while True:
            state = await self.store.get(report_id)
            if state is None or state.watch is None or not state.watch.active:
                return "gone", ""
            watch = state.watch
            if self._clock() + watch.interval > watch.until:
                return "gave-up", ""
            await asyncio.sleep(watch.interval)  # the recheck interval itself
            job = self._job(state, JobKind.RERUN, state.check_ids, watch.by)
            job.requested_by["watch"] = "1"
            try:
                job_id = await self.pool.submit(job)
            except RateLimited:
                continue  # skip this round; the next one will try again
            event = await self._final_event(job_id, self._deadline(state))
            if event is None:
                continue
            if event.kind is not EventKind.DONE or event.report is None:
                return "failed", event.error or "the recheck could not run"
            async with self._lock(report_id):
                state = await self.store.get(report_id)
                if state is None or state.watch is None or not state.watch.active:
                    return "gone", ""
                previous = {cid: r.status for cid, r in state.results.items()}
                self._apply(state, event.report)
                self._note_changes(state, previous, state.watch.by)
                state.watch.runs += 1
                fixed = not event.report.failed
                if fixed:
                    state.watch.outcome = "fixed"
                for cid in state.results:
                    if cid in state.replies and previous.get(cid) is not state.results[cid].status:
                        await self._update_reply(state, state.replies[cid])
                await self._redraw(state)
                await self.store.put(state)
            if fixed:
                return "fixed", ""

    async def _end_watch(self, report_id: str, outcome: str, detail: str) -> None:
        await self.store.release(f"watch:{report_id}")
        if outcome == "gone":
            return
        async with self._lock(report_id):
            state = await self.store.get(report_id)
            if state is None or state.watch is None:
                return
            watch = state.watch
            watch.outcome = outcome
            if outcome == "stopped":
                watch.stopped_by = detail
            minutes = max(1, round((self._clock() - watch.started) / 60))
            text = _watch_message(state, watch, outcome, detail, minutes)
            if state.thread_ts:
                try:
                    await self.poster.post(
                        state.channel, [_plain(text)], text, thread_ts=state.thread_ts
                    )
                except PostError as exc:
                    log.warning("could not post the end of a watch: %s", exc.code)
            await self._redraw(state)
            await self.store.put(state)


def _verdict_status(state: ReportState) -> Status:
    from cf502.verdict import decide

    return decide(state.ordered_results).status


def _plain(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": truncate(text, 3000)}}


def _watch_message(
    state: ReportState, watch: Watch, outcome: str, detail: str, minutes: int
) -> str:
    runs = f"{watch.runs} recheck{'s' if watch.runs != 1 else ''}"
    if outcome == "fixed":
        return (
            f":white_check_mark: {user(watch.by)} Fixed: no check fails any more "
            f"(after {runs}, {minutes} min). The report above shows what changed."
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


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:500]
