"""The worker loop: run diagnoses from the Redis queue, many at once, losing none.

One asyncio process runs up to `concurrency` jobs at a time. Three loops share the Redis queue:

* read:      XREADGROUP new jobs while there is room;
* reclaim:   XAUTOCLAIM jobs whose worker has been silent for `min_idle` s (killed, OOM, cut off);
* heartbeat: refresh the idle time of this worker's running jobs so nobody takes them over.

A job that crashes the job function is left pending and retried (another delivery) after
`min_idle`; one delivered more than `max_deliveries` times is dead-lettered with the reason. On
SIGTERM the worker stops taking jobs, gives the running ones `grace` seconds, then hands the rest
back to the queue. When Redis goes away every loop retries with capped, jittered backoff; a
finished job's result waits in memory until Redis takes it.

The operator's EngineSettings decide safety, never the job. `cf502 worker` (`cf502.cli.worker`)
runs this loop in a process of its own.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import socket
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from redis.exceptions import RedisError, ResponseError

from cf502.errors import ConfigError
from cf502.logcontext import log_context
from cf502.pool.jobs import UNOBSERVED, EventKind, JobEvent, JobObserver
from cf502.pool.queue.consumer import Delivery, QueueConsumer
from cf502.pool.runjob import RunJob, run_job
from cf502.settings import EngineSettings

__all__ = ["Counters", "Worker", "WorkerSettings"]

log = logging.getLogger("cf502.worker")

T = TypeVar("T")


@dataclass(frozen=True)
class WorkerSettings:
    """How one worker process runs jobs.

    Attributes:
        concurrency: jobs running at once.
        job_timeout: upper bound on one job's deadline in seconds (None: from its settings).
        grace: seconds running jobs get to finish after SIGTERM before they are handed back.
        heartbeat: seconds between heartbeats (default: a third of the queue's min_idle).
        reclaim_every: seconds between looks for abandoned jobs (default: half of min_idle).
        burst: stop once the queue is empty and nothing runs (batch runs, tests).
        name: the consumer name (default: host-pid-random, unique per process).
        progress_every: seconds over which a job's finished checks are batched into one publish.
    """

    concurrency: int = 16
    job_timeout: float | None = None
    grace: float = 10.0
    heartbeat: float | None = None
    reclaim_every: float | None = None
    burst: bool = False
    name: str | None = None
    progress_every: float = 0.05

    def __post_init__(self) -> None:
        if not 1 <= self.concurrency <= 10_000:
            raise ConfigError("worker concurrency must be between 1 and 10,000.")
        if self.job_timeout is not None and not 1 <= self.job_timeout <= 3_600:
            raise ConfigError("the job timeout must be between 1 and 3,600 seconds.")
        if not 0 <= self.grace <= 3_600:
            raise ConfigError("the shutdown grace must be between 0 and 3,600 seconds.")


class _Backoff:
    """Capped exponential backoff with full jitter, interrupted by `stop`."""

    def __init__(self, stop: asyncio.Event, base: float = 0.05, cap: float = 2.0) -> None:
        self._stop = stop
        self._base = base
        self._cap = cap
        self._failures = 0

    def reset(self) -> None:
        self._failures = 0

    async def wait(self) -> None:
        delay = random.uniform(0, min(self._cap, self._base * 2**self._failures))
        self._failures = min(self._failures + 1, 16)
        await _sleep_unless(self._stop, delay)


async def _sleep_unless(event: asyncio.Event, seconds: float) -> None:
    """Sleep `seconds`, or less when `event` is set meanwhile."""
    try:
        async with asyncio.timeout(seconds):
            await event.wait()
    except TimeoutError:
        pass


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())[:300]
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


@dataclass
class _Running:
    delivery: Delivery
    task: asyncio.Task[None] | None = None
    lost: bool = False  # another worker owns the entry now
    # Its outcome is known and being stored (or it is being dead-lettered): a heartbeat that
    # finds the entry gone from then on is seeing this worker's own finish, not a takeover.
    finishing: bool = False


@dataclass
class Counters:
    """What a worker has done since it started (for logs, tests and the benchmark)."""

    started: int = 0
    done: int = 0
    failed: int = 0
    crashed: int = 0
    dead: int = 0
    reclaimed: int = 0
    requeued: int = 0
    lost: int = 0


class Worker:
    """Consumes the Redis queue until `stop()` (or, in burst mode, until it is empty)."""

    def __init__(
        self,
        queue: QueueConsumer,
        engine: EngineSettings,
        settings: WorkerSettings | None = None,
        *,
        run_job: RunJob = run_job,
        observer: JobObserver = UNOBSERVED,
    ) -> None:
        self.queue = queue
        self.engine = engine
        self.settings = s = settings or WorkerSettings()
        min_idle = queue.config.min_idle
        self.heartbeat_every = s.heartbeat or max(0.05, min_idle / 3)
        self.reclaim_every = s.reclaim_every or max(0.05, min_idle / 2)
        self.consumer = s.name or f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.counters = Counters()
        self._run_job = run_job
        self._observer = observer
        self._running: dict[str, _Running] = {}
        self._stopping = asyncio.Event()
        self._room = asyncio.Event()
        self.ready = asyncio.Event()  # set once the consumer group exists
        self._changed = asyncio.Condition()
        self._redis_down = False  # between a failed Redis call and the next successful one
        self.failed = False  # a loop crashed: the process should exit non-zero

    async def wait_for(self, predicate: Callable[[Counters], bool], timeout: float) -> None:
        """Wait until `predicate(counters)` holds (checked whenever a job ends or a reclaim round
        completes); raises TimeoutError after `timeout` seconds."""
        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(lambda: predicate(self.counters))

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    # -- control ----------------------------------------------------------------------------------

    def stop(self) -> None:
        """Stop taking jobs; `run()` then finishes or hands back the running ones and returns."""
        self._stopping.set()
        self._room.set()

    @property
    def running(self) -> int:
        return len(self._running)

    async def run(self) -> Counters:
        """Work until stopped; returns the counters."""
        log.info(
            "worker starting",
            extra={
                "consumer": self.consumer,
                "redis": self.queue.where,
                "concurrency": self.settings.concurrency,
                "allow_private": self.engine.allow_private,
            },
        )
        if not await self._ensure_group():
            return self.counters
        self.ready.set()
        log.info("worker ready", extra={"consumer": self.consumer})
        loops = [
            asyncio.create_task(self._read_loop(), name="read"),
            asyncio.create_task(self._reclaim_loop(), name="reclaim"),
        ]
        beat_stop = asyncio.Event()
        beat = asyncio.create_task(self._heartbeat_loop(beat_stop), name="heartbeat")
        for task in (*loops, beat):
            task.add_done_callback(self._loop_ended)
        try:
            await self._stopping.wait()
        finally:
            self._stopping.set()
            # The loops notice `_stopping` within one blocking read; a read that returns jobs
            # after that hands them straight back.
            await asyncio.gather(*loops, return_exceptions=True)
            await self._drain()
            beat_stop.set()
            await asyncio.gather(beat, return_exceptions=True)
        log.info("worker stopped", extra={"consumer": self.consumer, **self._summary()})
        return self.counters

    def _loop_ended(self, task: asyncio.Task[None]) -> None:
        """A loop that dies of a bug must not leave a worker that looks alive but does nothing:
        stop, and let the supervisor (systemd, Kubernetes) restart the process."""
        if task.cancelled() or task.exception() is None:
            return
        self.failed = True
        log.error("worker loop crashed; stopping", exc_info=task.exception())
        self.stop()

    def _summary(self) -> dict[str, int]:
        c = self.counters
        return {
            "done": c.done,
            "failed": c.failed,
            "crashed": c.crashed,
            "dead": c.dead,
            "reclaimed": c.reclaimed,
            "requeued": c.requeued,
        }

    async def _ensure_group(self) -> bool:
        backoff = _Backoff(self._stopping)
        while not self._stopping.is_set():
            try:
                await self.queue.ensure_group()
                self._redis_ok()
                return True
            except RedisError as exc:
                self._redis_trouble("create the consumer group", exc)
                await backoff.wait()
        return False

    def _redis_trouble(self, what: str, exc: RedisError) -> None:
        """Log the first failed Redis call of an outage as a warning."""
        level = logging.DEBUG if self._redis_down else logging.WARNING
        self._redis_down = True
        log.log(
            level,
            "redis unavailable, retrying with backoff",
            extra={"redis": self.queue.where, "doing": what, "error": _one_line(exc)},
        )

    def _redis_ok(self) -> None:
        if self._redis_down:
            self._redis_down = False
            log.info("redis reachable again", extra={"redis": self.queue.where})

    # -- loops -------------------------------------------------------------------------------------

    async def _read_loop(self) -> None:
        backoff = _Backoff(self._stopping)
        while not self._stopping.is_set():
            free = self.settings.concurrency - len(self._running)
            if free <= 0:
                self._room.clear()
                await self._room.wait()
                continue
            try:
                deliveries = await self.queue.read_new(self.consumer, free)
            except ResponseError as exc:
                if "NOGROUP" in str(exc):  # Redis lost the group (flushed, restarted empty)
                    log.warning("consumer group missing, recreating it")
                    await self._ensure_group()
                    continue
                self._redis_trouble("read jobs", exc)
                await backoff.wait()
                continue
            except RedisError as exc:
                self._redis_trouble("read jobs", exc)
                await backoff.wait()
                continue
            self._redis_ok()
            backoff.reset()
            if self._stopping.is_set():
                await self._hand_back(deliveries)
                return
            for d in deliveries:
                self._start(d)
            if self.settings.burst and not deliveries and not self._running:
                log.info("queue empty, burst run over")
                self.stop()

    async def _reclaim_loop(self) -> None:
        backoff = _Backoff(self._stopping)
        prune_after = max(3600.0, 10 * self.queue.config.min_idle)
        next_prune = time.monotonic() + prune_after / 10
        while not self._stopping.is_set():
            await _sleep_unless(self._stopping, self.reclaim_every)
            free = self.settings.concurrency - len(self._running)
            if self._stopping.is_set() or free <= 0:
                continue
            try:
                deliveries = await self.queue.reclaim(self.consumer, free)
                if time.monotonic() >= next_prune:
                    next_prune = time.monotonic() + prune_after / 10
                    await self.queue.prune_consumers(self.consumer, prune_after)
            except RedisError as exc:
                self._redis_trouble("reclaim jobs", exc)
                await backoff.wait()
                continue
            self._redis_ok()
            backoff.reset()
            await self._notify()
            if self._stopping.is_set():
                await self._hand_back(deliveries)
                return
            for d in deliveries:
                if d.entry_id in self._running:
                    continue  # already ours and running: Redis was away longer than min_idle
                self.counters.reclaimed += 1
                log.info(
                    "job taken over from a silent worker",
                    extra={"job_id": d.job_id, "deliveries": d.deliveries},
                )
                self._start(d)

    async def _heartbeat_loop(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await _sleep_unless(stop, self.heartbeat_every)
            running = [r.delivery for r in self._running.values()]
            if stop.is_set() or not running:
                continue
            try:
                lost = await self.queue.heartbeat(self.consumer, running)
            except RedisError as exc:
                if isinstance(exc, ResponseError) and "NOGROUP" in str(exc):
                    # Redis lost the group (restarted empty): so are these jobs. Recreate it now
                    # (a full worker does not read), so the next beat finds them lost and stops
                    # them instead of running them on for nobody.
                    await self._quietly(self.queue.ensure_group())
                log.debug("heartbeat failed", extra={"error": _one_line(exc)})
                continue
            for entry_id in lost:
                run = self._running.get(entry_id)
                if run is None or run.finishing or run.task is None or run.task.done():
                    continue  # e.g. our own finish acknowledged it while this heartbeat ran
                # Another worker took it over (we were cut off longer than min_idle) or
                # finished it: its result wins, ours would be discarded anyway.
                run.lost = True
                run.task.cancel()

    # -- jobs --------------------------------------------------------------------------------------

    def _start(self, d: Delivery) -> None:
        run = _Running(d)
        self._running[d.entry_id] = run
        run.task = asyncio.create_task(self._process(run), name=f"job-{d.job_id}")

    async def _process(self, run: _Running) -> None:
        d = run.delivery
        target = str(d.job.target.get("host", "")) if d.job else None
        try:
            with log_context(job_id=d.job_id, target=target):
                await self._handle(run)
        except asyncio.CancelledError:
            if not run.lost:
                raise  # a shutdown: `_drain` hands the job back
            self.counters.lost += 1
            log.info("job taken over by another worker; stopped here", extra={"job_id": d.job_id})
        finally:
            if self._running.get(d.entry_id) is run:
                del self._running[d.entry_id]
            self._room.set()
        await self._notify()

    async def _handle(self, run: _Running) -> None:
        d = run.delivery
        job = d.job
        if job is None:
            run.finishing = True
            await self._dead_letter(
                d, f"the job could not be read, so it was not run: {d.problem}."
            )
            return
        if d.deliveries > self.queue.config.max_deliveries:
            last = await self._quietly(self.queue.last_crash(job.job_id))
            cause = (
                f"it crashed the worker each time (last error: {last})"
                if last
                else "the worker running it stopped each time (killed, out of memory or cut off "
                "from Redis)"
            )
            run.finishing = True
            await self._dead_letter(
                d, f"gave up after {d.deliveries - 1} attempts to run this diagnosis: {cause}."
            )
            return
        kind = job.kind.value
        self.counters.started += 1
        started = time.perf_counter()
        log.info(
            "job started",
            extra={"kind": kind, "deliveries": d.deliveries, "only": ",".join(job.only)},
        )
        progress = _Progress(self, self.settings.progress_every)
        with self._observer.running(kind):
            try:
                event = await self._run_job(
                    job,
                    self.engine,
                    publish=progress.add,
                    deadline=self.settings.job_timeout,
                )
            except Exception as exc:  # a bug in the job: retried by redelivery, then dead-lettered
                self.counters.crashed += 1
                message = _one_line(exc)
                log.error(
                    "job crashed; it will be retried after min-idle",
                    exc_info=True,
                    extra={"error": message, "deliveries": d.deliveries},
                )
                self._observer.failed(kind, "crash")
                progress.discard()
                # Left pending: after min-idle it is redelivered, and dead-lettered in the end.
                await self._quietly(self.queue.note_crash(job.job_id, message))
                return
            except BaseException:  # cancelled: shutdown, or another worker took the job over
                progress.discard()
                raise
            self._observer.ended(kind, event)
        run.finishing = True
        rest = await progress.rest()
        stored = await self._until_done(lambda: self.queue.finish(d, event, rest))
        ms = round((time.perf_counter() - started) * 1000)
        if event.kind is EventKind.FAILED:
            self.counters.failed += 1
            log.info("job failed", extra={"error": event.error, "ms": ms, "stored": stored})
        else:
            self.counters.done += 1
            verdict = event.report.verdict if event.report else None
            log.info(
                "job done",
                extra={
                    "status": verdict.status.value if verdict else None,
                    "likely_cause": verdict.likely_cause if verdict else None,
                    "checks": len(event.report.checks) if event.report else 0,
                    "ms": ms,
                    "stored": stored,
                },
            )

    async def _dead_letter(self, d: Delivery, reason: str) -> None:
        await self._until_done(lambda: self.queue.dead_letter(d, reason))
        self.counters.dead += 1
        self._observer.failed("unknown" if d.job is None else d.job.kind.value, "dead_letter")
        log.warning("job dead-lettered", extra={"reason": reason, "deliveries": d.deliveries})

    async def _publish(self, events: Sequence[JobEvent]) -> None:
        try:
            await self.queue.publish(*events)
        except RedisError as exc:
            # Progress is best effort: the final report carries every check anyway.
            log.debug("progress not published", extra={"error": _one_line(exc)})

    async def _until_done(self, op: Callable[[], Awaitable[T]]) -> T:
        """Retry a Redis write until it succeeds: a computed result is never dropped. Ends only by
        success or cancellation (shutdown after grace, or another worker took the job)."""
        backoff = _Backoff(asyncio.Event())
        while True:
            try:
                result = await op()
            except RedisError as exc:
                self._redis_trouble("store a result", exc)
                await backoff.wait()
                continue
            self._redis_ok()
            return result

    async def _quietly(self, op: Awaitable[T]) -> T | None:
        try:
            return await op
        except RedisError as exc:
            log.debug("redis call failed", extra={"error": _one_line(exc)})
            return None

    # -- shutdown ----------------------------------------------------------------------------------

    async def _drain(self) -> None:
        """Give running jobs `grace` seconds, then cancel the rest and hand them back."""
        pending = [r.task for r in self._running.values() if r.task is not None]
        if pending:
            log.info(
                "waiting for running jobs",
                extra={"running": len(pending), "grace": self.settings.grace},
            )
            await asyncio.wait(pending, timeout=self.settings.grace)
        leftovers = [r for r in self._running.values() if r.task is not None and not r.task.done()]
        for r in leftovers:
            assert r.task is not None  # noqa: S101  (narrowing for mypy)
            r.task.cancel()
        await asyncio.gather(*(r.task for r in leftovers if r.task), return_exceptions=True)
        await self._hand_back([r.delivery for r in leftovers if not r.lost])
        self._running.clear()

    async def _hand_back(self, deliveries: Sequence[Delivery]) -> None:
        """Return jobs to the queue as fresh entries; if Redis is away they stay pending and are
        reclaimed by another worker after min_idle."""
        for d in deliveries:
            try:
                async with asyncio.timeout(2.0):
                    requeued = await self.queue.requeue(self.consumer, d)
            except (RedisError, TimeoutError) as exc:
                log.warning(
                    "could not hand job back; another worker will reclaim it",
                    extra={"job_id": d.job_id, "error": _one_line(exc)},
                )
                continue
            if requeued:
                self.counters.requeued += 1
                log.info("job handed back to the queue", extra={"job_id": d.job_id})


class _Progress:
    """One job's progress events, published at most once per `every` seconds (one round trip per
    batch); whatever is still buffered when the job ends goes out with its result."""

    def __init__(self, worker: Worker, every: float) -> None:
        self._worker = worker
        self._every = every
        self._buffer: list[JobEvent] = []
        self._task: asyncio.Task[None] | None = None
        self._sending = False

    async def add(self, event: JobEvent) -> None:
        self._buffer.append(event)
        if self._task is None:
            self._task = asyncio.create_task(self._flush_soon())

    async def _flush_soon(self) -> None:
        await asyncio.sleep(self._every)  # batch the checks that finish close together
        self._sending = True
        batch, self._buffer = self._buffer, []
        try:
            await self._worker._publish(batch)
        finally:
            self._sending = False
            self._task = None

    async def rest(self) -> list[JobEvent]:
        """Stop batching; returns the events not published yet, in order."""
        task = self._task
        if task is not None:
            if self._sending:
                await task  # let a batch in flight land before the result is published
            else:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        rest, self._buffer = self._buffer, []
        return rest

    def discard(self) -> None:
        if self._task is not None and not self._sending:
            self._task.cancel()
