"""Reports in Slack: queue a diagnosis, post its report, and keep the report's messages up to date
as results arrive (the root redrawn in place, thread replies for failing/warning checks).

A complete report costs at most `CALL_BUDGET` Web API calls: the root message, at most
`MAX_LIVE_UPDATES` live redraws (coalesced: no more often than every `update_interval` seconds),
the thread replies for failing/warning checks (grouped when there are more than the budget
leaves room for) and the final redraw, plus one thread message naming the requester when the
diagnosis was slow (`SLOW`). Everything here runs after the request was acknowledged; Slack is
written to only through `bot.poster`. `bot.reruns` and `bot.watches` update a report through
`Reports` too.

The same diagnosis asked for again in the same conversation while the first is fresh (the pool
coalesces it into the same job) posts no second report: the asker is told privately who started
it, when, with a link to it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from bot.attach import report_files
from bot.background import Background
from bot.blocks import (
    Block,
    commands_blocks,
    origin_reply_blocks,
    origin_reply_text,
    reply_blocks,
    reply_text,
    report_blocks,
    report_text,
    standalone_blocks,
    user,
)
from bot.changes import what_changed
from bot.distribution import origin_key, origin_problems, report_verdict
from bot.messenger import Messenger, Requester
from bot.mrkdwn import escape, truncate
from bot.notify import SLOW, done_note, quiet, rerun_note
from bot.poster import NOT_POSTABLE, Poster, PostError
from bot.request import Request
from bot.settings import Settings
from bot.state import Note, ReportState, new_report_id
from bot.store import RUNNING, ReportStore
from cf502.deadlines import Deadlines
from cf502.errors import QueueError
from cf502.model import CheckResult, OriginReport, Report, Status
from cf502.pool.jobs import EventKind, Job, JobEvent, JobKind, Pool
from cf502.settings.aws import JOB_REQUEST
from cf502.verdict import decide

__all__ = [
    "CALL_BUDGET",
    "DETAIL",
    "MAX_LIVE_UPDATES",
    "Reports",
    "Rerun",
    "age_text",
    "apply_report",
    "drop_stale_notes",
    "note_changes",
    "plan_replies",
    "recheck_job",
    "verdict_status",
]

log = logging.getLogger(__name__)
_T = TypeVar("_T")

CALL_BUDGET = 6
MAX_LIVE_UPDATES = 2
DETAIL = (Status.FAIL, Status.WARN)  # statuses that get a thread reply
QUEUE_WAIT = 300.0  # how long a job may wait for a free worker before we give up following it
ROOT_WAIT = 5.0  # how long a duplicate's answer waits for the first report's message to exist


@dataclass(frozen=True, slots=True)
class Rerun:
    """A rerun of a whole report: who asked, and the statuses it replaces."""

    by: str
    previous: dict[str, Status]
    verdict: Status
    started: float = 0.0  # when it was asked for (a slow one notifies `by` when it ends)
    by_name: str = ""
    since: float | None = None  # when the run it replaces finished


def plan_replies(results: list[_T], slots: int) -> list[list[_T]]:
    """One reply per result while the budget allows; the rest share the last reply."""
    if not results:
        return []
    slots = max(1, slots)
    if len(results) <= slots:
        return [[r] for r in results]
    return [[r] for r in results[: slots - 1]] + [results[slots - 1 :]]


def recheck_job(state: ReportState, only: tuple[str, ...], user: str) -> Job:
    """A rerun of `only` with the report's target and settings, asked for by `user`. A
    distribution's report is rerun whole, as it was asked for: through AWS again."""
    asked_by = {"user": user, "channel": state.channel, "report": state.report_id}
    if state.distribution is not None:
        return Job(
            kind=JobKind.DIAGNOSE,
            target=state.target,
            origin=state.origin.to_dict(),
            only=state.only,
            requested_by={**asked_by, **dict([JOB_REQUEST])},
            parent_job=state.job_id,
        )
    # Reruns name their checks explicitly (RERUN): they never coalesce with the original
    # DIAGNOSE job, so "Rerun all" a few seconds after a report still connects afresh.
    return Job(
        kind=JobKind.RERUN,
        target=state.target,
        origin=state.origin.to_dict(),
        only=only,
        requested_by=asked_by,
        parent_job=state.job_id,
    )


def apply_report(state: ReportState, report: Report) -> None:
    """Take a finished diagnosis into the report's state."""
    if report.distribution is not None or state.distribution is not None:
        # The checks are the distribution's own (or, when AWS no longer finds it, the site's).
        state.check_ids = tuple(c.id for c in report.checks)
        state.titles.update({c.id: c.title for c in report.checks})
        state.results = {}
    state.distribution = report.distribution
    state.origins = report.origins
    state.verdict = report.verdict if report.distribution is not None else None
    for res in report.checks:
        state.results[res.id] = res
        if res.id not in state.check_ids:  # a worker with a newer registry
            state.check_ids = (*state.check_ids, res.id)
            state.titles[res.id] = res.title
    state.duration_ms = report.duration_ms
    state.addresses = report.addresses
    state.cloudfront = report.cloudfront
    state.phase = "done"
    state.error = None


def note_changes(
    state: ReportState, previous: dict[str, Status], by: str, now: float, *, via: str = ""
) -> None:
    """Note, on each check whose status differs from `previous`, who (or, with `via`, what)
    changed it and when."""
    for cid, res in state.results.items():
        before = previous.get(cid)
        if before is not None and before is not res.status:
            state.notes[cid] = Note(by, now, before, res.status, via)


def verdict_status(state: ReportState) -> Status:
    if state.distribution is not None and state.phase == "done":
        return report_verdict(state).status
    return decide(state.ordered_results).status


def drop_stale_notes(state: ReportState) -> None:
    """Forget the notes the current results contradict (a "still fails" next to a pass)."""
    if state.phase != "done":
        return
    for cid, note in list(state.notes.items()):
        res = state.results.get(cid)
        if res is not None and res.status is not note.after:
            del state.notes[cid]
    if state.rerun_all is not None and state.rerun_all.after is not verdict_status(state):
        state.rerun_all = None


def age_text(seconds: float) -> str:
    """ "5 s", "3 min", "2 h": how long ago, roughly."""
    if seconds < 90:
        return f"{max(0, round(seconds))} s"
    if seconds < 5400:
        return f"{round(seconds / 60)} min"
    return f"{round(seconds / 3600)} h"


class Reports:
    """Posts a report and follows its job to the end; redraws the report and its thread replies
    (also for reruns and watches); posts a check's equivalent commands in the thread."""

    def __init__(
        self,
        pool: Pool,
        store: ReportStore,
        poster: Poster,
        messenger: Messenger,
        background: Background,
        settings: Settings,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.pool = pool
        self.store = store
        self.poster = poster
        self.messenger = messenger
        self.background = background
        self.settings = settings
        self._clock = clock
        self._rooted: dict[str, asyncio.Event] = {}  # report id -> set once its root is posted

    # -- a new report -----------------------------------------------------------------------

    async def submit(self, req: Request, who: Requester) -> ReportState:
        """Queue the diagnosis of `req`: no Slack call and no origin I/O, so it is fast enough to
        happen before the ack. Raises RateLimited or QueueError.

        When the pool coalesced it with the same diagnosis asked for in this conversation a
        moment earlier, the state returned has `duplicate_of` set: `launch` then answers the
        asker privately instead of posting a second report."""
        if req.target is None or req.origin is None:
            raise ValueError("submit() needs a check request, not help")
        report_id = new_report_id()
        job = Job(
            kind=JobKind.DIAGNOSE,
            target=req.target.to_dict(),
            origin=req.origin.to_dict(),
            only=req.only,
            requested_by={
                "user": who.user,
                "channel": who.channel,
                "report": report_id,
                # The operator's choice, as `cf502 check --aws --redis-url` asks it; the
                # workers read AWS with their own settings, never anything from Slack.
                **(dict([JOB_REQUEST]) if self.settings.aws.enabled else {}),
            },
        )
        job_id = await self.pool.submit(job)
        state = ReportState(
            report_id=report_id,
            channel=who.channel,
            requested_by=who.user,
            requested_at=self._clock(),
            target=req.target.to_dict(),
            origin=req.origin,
            only=req.only,
            check_ids=req.check_ids,
            titles=dict(req.titles),
            job_id=job_id,
            thread_ts=who.thread_ts,
            response_url=who.response_url,
            team=who.team,
            requester_name=who.name,
            in_dm=who.in_dm or who.channel.startswith("D"),
        )
        # Stored before it is posted, so a duplicate arriving meanwhile finds it: the first
        # report of this job in this conversation.
        await self.store.put(state)
        key = f"report-of:{job_id}:{who.channel}:{who.thread_ts or ''}"
        first = await self.store.remember(key, report_id, self.settings.report_ttl)
        if first != report_id and await self.store.get(first) is not None:
            state.duplicate_of = first
            return state
        if state.team:
            await self.store.add_recent(state.team, report_id)
        return state

    def launch(self, state: ReportState) -> asyncio.Task[None]:
        """Post the root message and follow the job to the end, in the background (or, for a
        duplicate, tell its asker where the report is)."""
        who = Requester(state.requested_by, state.channel, state.thread_ts, state.response_url)
        if state.duplicate_of is not None:
            return self.background.spawn(self._point_to(state.duplicate_of, who), who)
        self._rooted[state.report_id] = asyncio.Event()
        return self.background.spawn(self._run_new(state), who)

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
            self._rooted.pop(state.report_id, asyncio.Event()).set()
            if exc.code not in NOT_POSTABLE:
                raise
            await self._without_channel(state)
            return
        state.root_ts = ts
        state.thread_ts = state.thread_ts or ts
        await self.store.put(state)
        self._rooted.pop(state.report_id, asyncio.Event()).set()
        await self.follow(
            state,
            state.job_id or "",
            budget=CALL_BUDGET - 1,
            notify=state.requested_by,
            started=state.requested_at,
        )

    async def _point_to(self, report_id: str, who: Requester) -> None:
        """Tell `who` privately that the diagnosis they asked for is the report `report_id`."""
        rooted = self._rooted.get(report_id)
        if rooted is not None:  # posted by this process: wait (briefly) for its message
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(ROOT_WAIT):
                    await rooted.wait()
        state = await self.store.get(report_id)
        if state is None:
            return
        starter = "You" if state.requested_by == who.user else user(state.requested_by)
        age = age_text(self._clock() - state.requested_at)
        link = await self.permalink(state)
        where = f": <{link}|see the report>" if link else "; its report is in this conversation"
        doing = "still checking" if state.phase == "running" else "finished"
        await self.messenger.tell(
            who,
            f":eyes: {starter} started this {age} ago ({doing}){where}. "
            "The same origin and settings are not checked twice at once.",
        )

    async def permalink(self, state: ReportState) -> str | None:
        """The link to the report's root message (asked for once, then kept in the state)."""
        if state.permalink or state.root_ts is None:
            return state.permalink
        try:
            link = await self.poster.permalink(state.channel, state.root_ts)
        except PostError as exc:
            log.warning("no link to report %s: %s", state.report_id, exc.code)
            return None
        async with self.store.lock(state.report_id):
            fresh = await self.store.get(state.report_id)
            if fresh is not None:
                fresh.permalink = link
                await self.store.put(fresh)
        state.permalink = link
        return link

    async def _without_channel(self, state: ReportState) -> None:
        """The bot can't post here: hint how to fix it, and still deliver the report privately."""
        who = Requester(state.requested_by, state.channel, None, state.response_url)
        if state.in_dm:  # nobody can invite the bot into other people's direct messages
            hint = (
                ":wave: I can't post in a direct message between other people. I'm checking, "
                "and I'll send you the report here, only to you. For the live report with Rerun "
                "and Watch buttons, run the command in a channel or in a direct message to me."
            )
        else:
            hint = (
                ":wave: I'm not in this channel yet. Invite me with `/invite @cf502` to get the "
                "live threaded report with Rerun and Watch buttons. Meanwhile I'm checking, and "
                "I'll send you the report here."
            )
        await self.messenger.tell(who, hint)
        if not state.response_url or state.job_id is None:
            return
        event = await self.result(state, state.job_id)
        if event is not None and event.kind is EventKind.DONE and event.report is not None:
            apply_report(state, event.report)
        else:
            state.phase = "failed"
            state.error = event.error if event is not None else "no result in time"
        await self.poster.respond(
            state.response_url,
            report_text(state),
            blocks=standalone_blocks(state),
        )

    async def result(self, state: ReportState, job_id: str) -> JobEvent | None:
        """The final event of one of the report's jobs; None when none came in time (a queue
        error is a FAILED event)."""
        try:
            return await self.pool.result(job_id, timeout=self._wait_limit(state))
        except QueueError as exc:
            return JobEvent(job_id, EventKind.FAILED, error=str(exc))

    def _wait_limit(self, state: ReportState) -> float:
        """How long one of the report's jobs may take, queueing included."""
        return QUEUE_WAIT + Deadlines.of(state.origin, self.settings.engine).check * 2

    # -- following a job --------------------------------------------------------------------

    async def follow(
        self,
        state: ReportState,
        job_id: str,
        *,
        budget: int,
        rerun: Rerun | None = None,
        notify: str | None = None,
        started: float | None = None,
    ) -> None:
        """Fill the report in as the job's checks finish, then post the details and the end.

        For a rerun of the whole report, `rerun` says who asked and what the results were, so the
        changes are noted in place and said in the thread. `notify` (a user id) is named in the
        thread with the verdict when the diagnosis took more than `SLOW` s since `started`."""
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
            async with asyncio.timeout(self._wait_limit(state)):
                while True:
                    wait = None
                    if dirty and live_left > 0:
                        wait = max(0.0, last + interval - loop.time())
                    try:
                        item = await asyncio.wait_for(queue.get(), wait)
                    except TimeoutError:
                        # Coalesced: one redraw for everything that finished since the last one.
                        await self.redraw(state)
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
                        apply_report(state, item.report)
                    else:
                        state.phase = "failed"
                        state.error = item.error or "the diagnosis could not run"
                    break
        except TimeoutError:
            state.phase, state.error = "failed", "no result in time; the job queue may be stuck"
        finally:
            pumper.cancel()
            await asyncio.gather(pumper, return_exceptions=True)
        await self._conclude(state, budget - used, rerun, notify, started)

    async def _conclude(
        self,
        state: ReportState,
        budget: int,
        rerun: Rerun | None,
        notify: str | None,
        started: float | None,
    ) -> None:
        """The end of a run within `budget` more messages: the notes, the details, the final
        redraw, and what the thread must hear (what a rerun changed; a slow run's verdict)."""
        now = self._clock()
        if rerun is not None:
            notify, started = rerun.by, rerun.started
        slow = notify is not None and started is not None and now - started > SLOW
        if state.phase == "done":
            if rerun is not None:
                note_changes(state, rerun.previous, rerun.by, now)
                state.rerun_all = Note(rerun.by, now, rerun.verdict, verdict_status(state))
            state.ran_at = now
        drop_stale_notes(state)
        said = rerun is not None or slow  # one more message: keep room for it
        await self._finish(state, slots=budget - 1 - int(said))
        if rerun is not None and state.phase == "done":
            changed = what_changed(rerun.previous, state.ordered_results, rerun.since)
            mention = rerun.by if slow else None
            note = rerun_note(report_text(state), changed, by=rerun.by_name, mention=mention)
            await self._say(state, note)
        elif slow and notify is not None:
            await self._say(state, done_note(notify, report_text(state)))

    async def _say(self, state: ReportState, text: str) -> None:
        """A thread message (a notification); failures are logged, the report stands."""
        try:
            await self.post_note(state, text)
        except PostError as exc:
            log.warning("could not notify in the thread of %s: %s", state.report_id, exc.code)

    async def _finish(self, state: ReportState, *, slots: int) -> None:
        """Thread replies for failing/warning checks (new ones within `slots` messages, existing
        ones updated in place), then the final redraw of the root."""
        if state.phase == "done":
            earlier = dict.fromkeys(state.replies.values())  # replies of an earlier run: redraw
            fresh = [
                r for r in state.ordered_results if r.status in DETAIL and r.id not in state.replies
            ]
            origins = [
                o
                for o in state.origins
                if origin_problems(o) and origin_key(o) not in state.replies
            ]
            # The origins' details first: a distribution's verdict is mostly theirs.
            origin_slots = max(1, slots - (1 if fresh else 0)) if origins else 0
            top_slots = max(1, slots - min(len(origins), origin_slots))
            for group in plan_replies(fresh, top_slots):
                await self.post_reply(state, group)
            for batch in plan_replies(origins, origin_slots):
                await self.post_origin_reply(state, batch)
            for ts in earlier:
                await self.update_reply(state, ts)
        await self.redraw(state)
        await self.store.put(state)
        if state.phase == "done":
            await self.attach(state)

    async def attach(self, state: ReportState) -> None:
        """The full report (text and JSON) as files in the thread: what Slack's size limits cut
        from the messages is there. Failures are logged; the report stands without them."""
        if state.thread_ts is None:
            return
        try:
            await self.poster.upload(state.channel, state.thread_ts, report_files(state))
        except PostError as exc:
            log.warning("could not attach the report %s: %s", state.report_id, exc.code)

    async def show_all(self, report_id: str, who: Requester, *, expanded: bool) -> None:
        """Show all checks / Hide: the same root message redrawn with every check or the
        problems only."""
        state = await self.store.load(report_id, who)
        if state is None:
            return
        async with self.store.lock(report_id):
            state = await self.store.get(report_id) or state
            state.expanded = expanded
            await self.store.put(state)
            await self.redraw(state)

    # -- the report's messages --------------------------------------------------------------

    async def redraw(self, state: ReportState) -> bool:
        """Redraw the root message from the state; False when it could not be updated."""
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

    async def post_reply(self, state: ReportState, group: list[CheckResult]) -> None:
        """A thread reply detailing `group`, remembered as those checks' reply."""
        blocks = reply_blocks(state, group, interactive=state.distribution is None)
        keys = [res.id for res in group]
        await self._post_in_thread(state, blocks, reply_text(group), keys, "the details")

    async def post_origin_reply(self, state: ReportState, origins: list[OriginReport]) -> None:
        """A thread reply detailing a distribution's `origins`, remembered as theirs."""
        blocks = origin_reply_blocks(state, origins)
        keys = [origin_key(o) for o in origins]
        await self._post_in_thread(state, blocks, origin_reply_text(origins), keys, "the origins")

    async def _post_in_thread(
        self, state: ReportState, blocks: list[Block], text: str, keys: list[str], what: str
    ) -> None:
        """Post a reply in the report's thread and remember it under `keys` (a failed post is
        logged: the root still says everything)."""
        try:
            ts = await self.poster.post(state.channel, blocks, text, thread_ts=state.thread_ts)
        except PostError as exc:
            log.warning("could not post %s of %s: %s", what, state.report_id, exc.code)
            return
        for key in keys:
            state.replies[key] = ts

    async def update_reply(self, state: ReportState, ts: str) -> None:
        """Redraw the thread reply `ts` with its checks' (or origins') current results."""
        origins = [o for o in state.origins if state.replies.get(origin_key(o)) == ts]
        if origins:
            try:
                await self.poster.update(
                    state.channel,
                    ts,
                    origin_reply_blocks(state, origins),
                    origin_reply_text(origins),
                )
            except PostError as exc:
                log.warning("could not update a reply of %s: %s", state.report_id, exc.code)
            return
        group = [
            state.results[c]
            for c in state.check_ids
            if state.replies.get(c) == ts and c in state.results
        ]
        if not group:
            return
        try:
            await self.poster.update(
                state.channel,
                ts,
                reply_blocks(state, group, interactive=state.distribution is None),
                reply_text(group),
            )
        except PostError as exc:
            log.warning("could not update a reply of %s: %s", state.report_id, exc.code)

    async def post_note(self, state: ReportState, text: str, *, broadcast: bool = False) -> None:
        """A short message in the report's thread (also in the channel with `broadcast`).
        Raises PostError."""
        text = quiet(text)
        await self.poster.post(
            state.channel, [_plain(text)], text, thread_ts=state.thread_ts, broadcast=broadcast
        )

    async def show_commands(self, report_id: str, check_id: str, who: Requester) -> None:
        """Post the check's equivalent commands in the report's thread, for everyone, once per
        check and report: clicked again, the asker gets a link to that message."""
        state = await self.store.load(report_id, who)
        if state is None:
            return
        result = state.results.get(check_id)
        if result is None:
            await self.messenger.tell(who, RUNNING)
            return
        title = escape(result.title)
        # The claim, not the state, decides who posts: two clicks at once post one message.
        if not await self.store.claim(f"commands:{report_id}:{check_id}", self.settings.report_ttl):
            ts = state.commands.get(check_id)
            link = await self._link(state.channel, ts) if ts else None
            where = f"<{link}|in the thread>" if link else "in the report's thread"
            await self.messenger.tell(who, f"The commands for *{title}* are already {where}.")
            return
        blocks = commands_blocks(state, result, who.user)
        try:
            ts = await self.poster.post(
                state.channel, blocks, f"Equivalent commands for {title}", thread_ts=state.thread_ts
            )
        except PostError as exc:
            await self.store.release(f"commands:{report_id}:{check_id}")
            if exc.code not in NOT_POSTABLE or not who.response_url:
                raise
            await self.poster.respond(who.response_url, "Equivalent commands", blocks=blocks)
            return
        async with self.store.lock(report_id):
            state = await self.store.get(report_id) or state
            state.commands[check_id] = ts
            await self.store.put(state)

    async def _link(self, channel: str, ts: str) -> str | None:
        try:
            return await self.poster.permalink(channel, ts)
        except PostError as exc:
            log.warning("no link to a message: %s", exc.code)
            return None


def _plain(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": truncate(text, 3000)}}


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:500]
