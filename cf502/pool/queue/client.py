"""The queue's client side: submit a job, follow its events, read its result (`QueueClient`,
a `Pool`), as the Slack app and `cf502 check --redis-url` do.

`cf502 check --redis-url URL` (`remote_check`) runs a diagnosis on the worker pool and waits for its
report: useful to check an origin from the workers' network position. The job carries only the
CloudFront origin settings; the workers' own safety settings apply.

Every Redis failure here becomes a QueueError with one readable line: the caller is a person.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import AsyncGenerator, Callable
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError
from redis.typing import KeyT, StreamIdT

from cf502.errors import QueueError
from cf502.model import CheckResult, Report
from cf502.pool.jobs import UNOBSERVED, EventKind, Job, JobEvent, JobObserver
from cf502.pool.limits import rate_limited
from cf502.pool.queue.config import QueueConfig, unavailable
from cf502.pool.queue.scripts import QueueLink, check_job_id, ms

__all__ = ["QueueClient", "remote_check", "wait_for_report"]

# The name operators filter on since the queue was one module.
log = logging.getLogger("cf502.queue")


class QueueClient(QueueLink):
    """Diagnoses run by `cf502 worker` processes through Redis (implements `cf502.pool.jobs.Pool`).

    All the `events()` iterators of one client share one reader and one Redis connection.
    """

    def __init__(
        self,
        url: str,
        config: QueueConfig | None = None,
        *,
        client: Redis | None = None,
        observer: JobObserver = UNOBSERVED,
    ) -> None:
        super().__init__(url, config, client=client)
        self._observer = observer
        self._reader = _EventsReader(self)

    async def submit(self, job: Job) -> str:
        """Queue `job`; an identical job queued within the coalescing window returns its id.

        Raises RateLimited when the user or channel is over its limit, QueueError when Redis is
        unreachable or the backlog is full.
        """
        check_job_id(job.job_id)
        payload = json.dumps(job.to_dict(), separators=(",", ":"), ensure_ascii=False)
        if len(payload.encode()) > self.config.max_job_bytes:
            raise QueueError(f"the job is larger than {self.config.max_job_bytes} bytes.")
        try:
            status, value = await self._scripts.submit(job, payload)
        except RedisError as exc:
            raise unavailable(self.where, exc, "the job was not queued") from None
        if status in ("ok", "dup", "waiting"):
            if status != "dup":  # a coalesced duplicate is not a new job
                self._observer.queued(job.kind.value)
            return value
        if status == "full":
            raise QueueError(
                f"the job queue is full ({value} jobs queued or running); try again shortly."
            )
        lim = self.config.limits
        who, limit = (
            (job.requested_by.get("user", ""), lim.per_user)
            if status == "user"
            else (job.requested_by.get("channel", ""), lim.per_channel)
        )
        raise rate_limited(status, who, limit, lim.window, float(value) / 1000)

    async def events(
        self, job_id: str, *, idle_timeout: float | None = None
    ) -> AsyncGenerator[JobEvent, None]:
        """The job's progress from its start (a late subscriber misses nothing), ending with one
        DONE or FAILED event. A check reported twice (the job was re-run after a worker died) is
        yielded once. Raises QueueError when Redis stays unreachable or the job goes silent.

        All the iterators of one pool share one reader (and one Redis connection), whatever their
        number."""
        check_job_id(job_id)
        idle = idle_timeout if idle_timeout is not None else self.config.events_idle_timeout
        follower = self._reader.add(job_id, self.keys.events(job_id))
        try:
            await self._reader.wake()
            seen: set[str] = set()
            while True:
                for _entry_id, fields in await self._reader.next(follower, idle):
                    event = _event_of(fields)
                    if event is None:
                        continue  # not an event of ours: skip it rather than fail the watcher
                    if event.kind is not EventKind.CHECK:
                        yield event
                        return
                    cid = event.check.id if event.check else ""
                    if cid not in seen:
                        seen.add(cid)
                        yield event
        finally:
            self._reader.remove(follower)

    @property
    def followers(self) -> int:
        """How many `events()` iterators are following a job."""
        return len(self._reader.followers)

    @property
    def buffered(self) -> int:
        """Event entries read from Redis that their followers have not taken yet."""
        return sum(f.buffered for f in self._reader.followers)

    async def result(self, job_id: str, timeout: float) -> JobEvent | None:
        """The job's DONE/FAILED event, waiting up to `timeout` seconds (None: not yet)."""
        check_job_id(job_id)
        try:
            raw = await self.redis.get(self.keys.result(job_id))
        except RedisError as exc:
            raise unavailable(
                self.where, exc, f"could not read the result of job {job_id}"
            ) from None
        if raw is not None:
            return JobEvent.from_dict(json.loads(raw))
        try:
            async with asyncio.timeout(timeout):
                async with aclosing(self.events(job_id)) as stream:
                    async for event in stream:
                        if event.kind is not EventKind.CHECK:
                            return event
        except TimeoutError:
            return None
        return None

    async def close(self) -> None:
        await self._reader.close()
        await super().close()


_EVENTS_COUNT = 64  # entries per stream per read
_INBOX_BATCHES = 2  # batches a follower may hold unread; its stream is not read while it is full
_MANY_STREAMS_POLL = 0.1  # s: when followed streams need several reads, how long the last blocks
_WAKE_TTL = 60.0  # s: the wake-up stream outlives any read; it is deleted on close()

_Entry = tuple[str, dict[str, str]]


def _sid(entry_id: str) -> tuple[int, int]:
    """A stream entry id ("1700000000000-3") as a comparable pair."""
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


def _streams(resp: Any) -> list[tuple[str, list[_Entry]]]:
    """XREAD's reply as (key, entries) pairs, whichever protocol (RESP2 list, RESP3 map)."""
    if not resp:
        return []
    pairs = resp.items() if isinstance(resp, dict) else resp
    return [(str(key), list(entries)) for key, entries in pairs]


def _event_of(fields: dict[str, str] | None) -> JobEvent | None:
    """The event an events-stream entry carries (None: not an event of ours)."""
    try:
        return JobEvent.from_dict(json.loads((fields or {})["e"]))
    except (KeyError, TypeError, ValueError):
        return None


@dataclass(eq=False)
class _Follower:
    """One `events()` iterator, as the reader sees it."""

    job_id: str
    key: str
    since: float  # loop time it started following (its reconnect budget starts no earlier)
    quiet_since: float  # loop time of the last batch it received
    last: str = "0-0"  # the last entry it received: a late follower starts at the beginning
    last_sid: tuple[int, int] = (0, 0)
    inbox: asyncio.Queue[list[_Entry] | QueueError] = field(default_factory=asyncio.Queue)
    buffered: int = 0  # entries in the inbox
    paused: bool = False  # left out of the current read: its inbox was full
    gone: bool = False


class _EventsReader:
    """Reads the events of every job a client follows, for all its `events()` iterators.

    One XREAD BLOCK covers every followed stream, each from the oldest entry one of its followers
    still needs, and the entries are fanned out to the followers' inboxes: a client following N
    reports holds one Redis connection for them, not N. A follower joining during a read adds an
    entry to this reader's wake-up stream (part of every read), which ends the read at once:
    there is no window in which a new follower waits for the read to time out.

    Bounds: `events_batch` streams per XREAD (several, pipelined in one round trip, past that),
    `_EVENTS_COUNT` entries per stream per read, `_INBOX_BATCHES` batches per follower.
    """

    def __init__(self, client: QueueClient) -> None:
        self.client = client
        self.followers: set[_Follower] = set()
        self.failing_since: float | None = None  # loop time Redis became unreachable
        self._wake_key = client.keys.wake(uuid.uuid4().hex)
        self._wake_last = "0-0"
        self._woke_ever = False
        self._task: asyncio.Task[None] | None = None
        self._work = asyncio.Event()
        self._reading = False  # a read is in flight: a new follower must wake it
        self._woken = False  # ...and a wake-up for it is already on its way
        self._stopping = False
        self._next_probe = 0.0  # loop time of the next check for vanished jobs

    # -- the followers' side

    def add(self, job_id: str, key: str) -> _Follower:
        """Follow `key` from its first entry (the reader task starts with the first follower)."""
        loop = asyncio.get_running_loop()
        now = loop.time()
        follower = _Follower(job_id, key, now, now)
        self.followers.add(follower)
        if self._task is None or self._task.done():
            self._work, self.failing_since = asyncio.Event(), None
            self._task = loop.create_task(self._run(), name="cf502-events-reader")
        self._work.set()
        return follower

    def remove(self, follower: _Follower) -> None:
        follower.gone = True
        self.followers.discard(follower)
        self._work.set()  # the reader ends when nobody follows anything

    async def wake(self) -> None:
        """End the read in flight, so that a new or resumed follower is read at once."""
        self._work.set()
        if not self._reading or self._woken:
            return  # the next read includes it, or a wake-up is already on its way
        self._woken = self._woke_ever = True
        try:
            async with self.client.redis.pipeline(transaction=False) as pipe:
                pipe.xadd(self._wake_key, {"w": "1"}, maxlen=1, approximate=False)
                pipe.pexpire(self._wake_key, ms(_WAKE_TTL))
                await pipe.execute()
        except RedisError:
            pass  # the read then ends by its own timeout (`block` s): later, never lost

    async def next(self, follower: _Follower, idle: float) -> list[_Entry]:
        """The follower's next batch of entries; QueueError when the job goes silent for `idle`
        seconds, when Redis stays unreachable, or when the client is closed."""
        loop = asyncio.get_running_loop()
        while True:
            left = follower.quiet_since + idle - loop.time()
            if left <= 0:
                if self.failing_since is None:
                    raise QueueError(
                        f"no news of job {follower.job_id} for {idle:g} s; it may have been lost "
                        "(e.g. Redis restarted without persistence)."
                    )
                # Redis is unreachable: its own error comes after `reconnect_for` s.
                left = self.client.config.block
            try:
                async with asyncio.timeout(left):
                    item = await follower.inbox.get()
            except TimeoutError:
                continue
            if isinstance(item, QueueError):
                raise item
            follower.buffered -= len(item)
            follower.quiet_since = loop.time()
            if follower.paused:
                follower.paused = False
                await self.wake()
            return item

    # -- the reader task

    async def _run(self) -> None:
        try:
            await self._read_forever()
        except Exception as exc:  # a bug: followers get an error rather than waiting forever
            log.exception("the job events reader crashed")
            self._end_all(QueueError(f"could not follow job events ({type(exc).__name__})."))

    async def _read_forever(self) -> None:
        loop = asyncio.get_running_loop()
        delay, quiet = 0.05, True
        while not self._stopping:
            plan = self._plan()
            if not self.followers:
                return  # `add` starts a new reader for the next follower
            if not plan:  # every follower has unread batches: wait until one reads them
                self._work.clear()
                await self._work.wait()
                continue
            self._reading, self._woken = True, False
            try:
                resp = await self._read(plan, quiet)
            except RedisError as exc:
                self._reading = False
                if isinstance(exc, ResponseError) and await self._end_unreadable(plan):
                    continue
                self._failing(exc, loop.time())
                await asyncio.sleep(delay)  # backoff before reconnecting
                delay = min(delay * 2, 2.0)
                continue
            finally:
                self._reading = False
            self.failing_since, delay = None, 0.05
            quiet = not self._deliver(plan, resp)
            await self._probe(loop.time())

    def _plan(self) -> dict[str, list[_Follower]]:
        """The followers to read for, by stream; a follower with a full inbox waits its turn."""
        plan: dict[str, list[_Follower]] = {}
        for f in self.followers:
            if f.inbox.qsize() >= _INBOX_BATCHES:
                f.paused = True
            else:
                plan.setdefault(f.key, []).append(f)
        return plan

    async def _read(self, plan: dict[str, list[_Follower]], quiet: bool) -> Any:
        cfg = self.client.config
        items = [(k, min(fs, key=lambda f: f.last_sid).last) for k, fs in plan.items()]
        size = cfg.events_batch
        chunks: list[dict[KeyT, StreamIdT]] = [
            dict(items[i : i + size]) for i in range(0, len(items), size)
        ]
        chunks[-1][self._wake_key] = self._wake_last
        if len(chunks) == 1:
            return await self.client.redis.xread(
                chunks[0], count=_EVENTS_COUNT, block=ms(cfg.block)
            )
        # Too many streams for one read: read them all in one round trip, and block (briefly,
        # as the other reads cannot wake) only when the previous round found nothing.
        last_block = ms(min(cfg.block, _MANY_STREAMS_POLL)) if quiet else None
        async with self.client.redis.pipeline(transaction=False) as pipe:
            for n, chunk in enumerate(chunks, 1):
                pipe.xread(
                    chunk, count=_EVENTS_COUNT, block=last_block if n == len(chunks) else None
                )
            replies = await pipe.execute()
        return [pair for reply in replies for pair in _streams(reply)]

    def _deliver(self, plan: dict[str, list[_Follower]], resp: Any) -> bool:
        """Fan the entries out (each follower gets only what is newer than its last); True if any
        follower got something."""
        got = False
        for key, entries in _streams(resp):
            if key == self._wake_key:
                if entries:
                    self._wake_last = entries[-1][0]
                continue
            for f in plan.get(key, ()):
                if f.gone:  # stopped following during the read
                    continue
                new = [e for e in entries if _sid(e[0]) > f.last_sid]
                if new:
                    f.last = new[-1][0]
                    f.last_sid = _sid(f.last)
                    f.inbox.put_nowait(new)
                    f.buffered += len(new)
                    got = True
        return got

    async def _probe(self, now: float) -> None:
        """End the followers of jobs Redis no longer knows: not queued, waiting or running (no
        `live` key) and not finished (no result, no events). Such a job was lost (Redis restarted
        without persistence, or was flushed) and will never report; its followers learn it within
        seconds instead of after the idle timeout. One round trip for all quiet followers."""
        every = self.client.config.vanished_check
        if now < self._next_probe:
            return
        self._next_probe = now + every
        quiet = [f for f in self.followers if now - f.quiet_since >= every and f.inbox.empty()]
        if not quiet:
            return
        keys = self.client.keys
        try:
            async with self.client.redis.pipeline(transaction=False) as pipe:
                for f in quiet:
                    pipe.exists(keys.live(f.job_id), keys.result(f.job_id), f.key)
                found = await pipe.execute()
        except RedisError:
            return  # the next read meets the outage: the reconnect budget applies
        for f, n in zip(quiet, found, strict=True):
            if not n and not f.gone:
                self._end(
                    f,
                    QueueError(
                        f"job {f.job_id} is gone: it is neither queued, running nor finished "
                        "(Redis lost it, e.g. it restarted without persistence or was flushed); "
                        "run it again."
                    ),
                )

    def _failing(self, exc: RedisError, now: float) -> None:
        """Redis is unreachable: followers that have waited `reconnect_for` s for it give up."""
        if self.failing_since is None:
            self.failing_since = now
        for f in list(self.followers):
            if now - max(self.failing_since, f.since) >= self.client.config.reconnect_for:
                self._end(f, unavailable(self.client.where, exc, f"lost track of job {f.job_id}"))

    async def _end_unreadable(self, plan: dict[str, list[_Follower]]) -> bool:
        """After an error reply to a read: end the followers whose key is not a stream (one bad
        key must not stop everyone's reports). False if every key is fine."""
        keys = list(plan)
        try:
            async with self.client.redis.pipeline(transaction=False) as pipe:
                for key in keys:
                    pipe.type(key)
                types = await pipe.execute()
        except RedisError:
            return False
        bad = False
        for key, kind in zip(keys, types, strict=True):
            if str(kind) in ("stream", "none"):
                continue
            bad = True
            for f in plan[key]:
                self._end(
                    f,
                    QueueError(
                        f"the events of job {f.job_id} are unreadable ({key} "
                        f"holds a {kind}, not a stream)."
                    ),
                )
        return bad

    def _end(self, follower: _Follower, error: QueueError) -> None:
        self.remove(follower)
        follower.inbox.put_nowait(error)

    def _end_all(self, error: QueueError) -> None:
        for f in list(self.followers):
            self._end(f, error)

    async def close(self) -> None:
        """Stop reading; followers still iterating get a QueueError."""
        task, self._task = self._task, None
        self._stopping = True
        # Again until it ends: on Python 3.11 a cancellation that arrives as redis-py finishes
        # sending a command is lost (asyncio.wait_for), and the read would go on.
        while task is not None and not task.done():
            task.cancel()
            await asyncio.wait([task], timeout=0.1)
        self._stopping = False
        self._end_all(QueueError("the job queue client was closed."))
        if self._woke_ever:
            try:
                await self.client.redis.delete(self._wake_key)
            except RedisError:
                pass  # it expires by itself


async def wait_for_report(
    pool: QueueClient, job_id: str, on_result: Callable[[CheckResult], object] | None = None
) -> Report:
    """Follow the job's events to its report; a FAILED job raises QueueError with its reason."""
    async with aclosing(pool.events(job_id)) as events:
        async for event in events:
            if event.kind is EventKind.CHECK and event.check is not None:
                if on_result is not None:
                    on_result(event.check)
            elif event.kind is EventKind.DONE and event.report is not None:
                return event.report
            elif event.kind is not EventKind.CHECK:
                raise QueueError(event.error or "the worker could not diagnose the origin.")
    raise QueueError(f"job {job_id} ended without a report.")


async def remote_check(
    url: str,
    job: Job,
    on_result: Callable[[CheckResult], object] | None = None,
    config: QueueConfig | None = None,
) -> Report:
    """Submit `job` to the pool at `url` and return the report a worker produced."""
    pool = QueueClient(url, config)
    try:
        job_id = await pool.submit(job)
        return await wait_for_report(pool, job_id, on_result)
    finally:
        await pool.close()
