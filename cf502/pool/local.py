"""The embedded pool: diagnoses run in this process with bounded concurrency (no Redis needed).

Implements `cf502.pool.jobs.Pool` with the same job function as the Redis workers (`cf502.pool.runjob`), the
same coalescing and rate limits (`cf502.pool.limits`) and the same events, so the Slack app behaves the
same with or without Redis. Admission is fair: one user runs at most `Limits.running_per_user`
diagnoses at once, and their others wait without holding one of the `concurrency` slots, so one
user's slow diagnoses cannot delay everyone else's. What it cannot do is survive a restart or spread work over machines:
a restart loses the jobs in flight, and one process's CPU bounds the throughput. Memory is bounded:
at most `max_backlog` jobs wait or run, and finished jobs are kept `result_ttl` seconds, at most
`max_kept` of them.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from cf502.errors import QueueError
from cf502.logcontext import log_context
from cf502.pool.jobs import UNOBSERVED, EventKind, Job, JobEvent, JobObserver
from cf502.pool.limits import Limits, LocalAdmission
from cf502.pool.runjob import RunJob, run_job
from cf502.settings import AwsSettings, EngineSettings

__all__ = ["LocalPool"]

log = logging.getLogger("cf502.pool")


@dataclass
class _State:
    job: Job
    events: list[JobEvent] = field(default_factory=list)
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)
    task: asyncio.Task[None] | None = None
    finished_at: float | None = None

    @property
    def terminal(self) -> JobEvent | None:
        if self.events and self.events[-1].kind is not EventKind.CHECK:
            return self.events[-1]
        return None

    async def add(self, event: JobEvent) -> None:
        async with self.changed:
            self.events.append(event)
            self.changed.notify_all()


@dataclass
class _UserGate:
    turns: asyncio.Semaphore  # one per diagnosis the user may run at once
    users: int = 0  # jobs holding or waiting for a turn


class LocalPool:
    """Runs jobs in this process, at most `concurrency` at once (implements `cf502.pool.jobs.Pool`)."""

    def __init__(
        self,
        engine: EngineSettings,
        *,
        concurrency: int = 4,
        limits: Limits | None = None,
        result_ttl: float = 3600.0,
        max_backlog: int = 1000,
        max_kept: int = 10_000,
        job_timeout: float | None = None,
        run_job: RunJob = run_job,
        clock: Callable[[], float] = time.monotonic,
        observer: JobObserver = UNOBSERVED,
        aws: AwsSettings | None = None,
    ) -> None:
        if concurrency < 1:
            raise QueueError("the in-process pool needs a concurrency of at least 1.")
        self.engine = engine
        self.concurrency = concurrency
        self.result_ttl = result_ttl
        self.max_backlog = max_backlog
        self.max_kept = max_kept
        self.job_timeout = job_timeout
        self._run_job = run_job
        self._clock = clock
        self._observer = observer
        # The operator's AWS access: a job asking for it is diagnosed through its distribution.
        self._aws = {"aws": aws} if aws is not None and aws.enabled else {}
        self._admission = LocalAdmission(limits or Limits(), clock)
        self._per_user = self._admission.limits.running_per_user
        self._slots = asyncio.Semaphore(concurrency)
        self._users: dict[str, _UserGate] = {}  # users with jobs running or waiting for a turn
        self._jobs: dict[str, _State] = {}
        self._finished: deque[str] = deque()  # job ids in the order they finished
        self._closed = False

    async def submit(self, job: Job) -> str:
        """Start `job` (or return the id of an identical one started moments ago).

        Raises RateLimited, or QueueError when the pool is closed or full."""
        if self._closed:
            raise QueueError("the in-process pool is shut down.")
        self._forget()
        earlier = self._admission.admit(job)
        if earlier is not None and earlier in self._jobs:
            return earlier
        if job.job_id in self._jobs:
            return job.job_id
        unfinished = len(self._jobs) - len(self._finished)
        if unfinished >= self.max_backlog:
            raise QueueError(
                f"too many diagnoses are waiting ({unfinished}); try again in a minute."
            )
        state = _State(job)
        self._jobs[job.job_id] = state
        state.task = asyncio.create_task(self._run(state), name=f"job-{job.job_id}")
        self._observer.queued(job.kind.value)
        return job.job_id

    async def _run(self, state: _State) -> None:
        job = state.job
        try:
            # The user's turn first, then a slot: a job over its user's cap holds no slot.
            async with self._user_turn(job.requested_by.get("user", "")), self._slots:
                with (
                    log_context(job_id=job.job_id, target=str(job.target.get("host", ""))),
                    self._observer.running(job.kind.value),
                ):
                    try:
                        end = await self._run_job(
                            job,
                            self.engine,
                            publish=state.add,
                            deadline=self.job_timeout,
                            **self._aws,
                        )
                    except Exception as exc:  # a bug: report it as a failure, keep serving
                        log.exception("job crashed")
                        end = JobEvent(
                            job.job_id,
                            EventKind.FAILED,
                            error=f"cf502 failed while diagnosing: {type(exc).__name__}: "
                            f"{str(exc)[:200]}",
                        )
                    self._observer.ended(job.kind.value, end)
        except asyncio.CancelledError:
            end = JobEvent(
                job.job_id, EventKind.FAILED, error="the diagnosis was stopped (shutting down)."
            )
            await self._finish(state, end)
            raise
        await self._finish(state, end)

    async def _finish(self, state: _State, end: JobEvent) -> None:
        await state.add(end)
        state.finished_at = self._clock()
        self._finished.append(state.job.job_id)

    @asynccontextmanager
    async def _user_turn(self, user: str) -> AsyncIterator[None]:
        """Wait until `user` runs fewer than `running_per_user` diagnoses (no cap without a user,
        e.g. the CLI's jobs, or with a cap of 0)."""
        if not user or self._per_user <= 0:
            yield
            return
        gate = self._users.get(user)
        if gate is None:
            gate = self._users[user] = _UserGate(asyncio.Semaphore(self._per_user))
        gate.users += 1
        try:
            async with gate.turns:
                yield
        finally:
            gate.users -= 1
            if gate.users == 0:  # forget idle users: memory stays bounded by the backlog
                del self._users[user]

    def _state(self, job_id: str) -> _State:
        state = self._jobs.get(job_id)
        if state is None:
            raise QueueError(
                f"job {job_id[:64]!r} is unknown: it finished more than {self.result_ttl:g} s "
                "ago or was never submitted here."
            )
        return state

    async def events(self, job_id: str) -> AsyncGenerator[JobEvent, None]:
        """Progress from the job's start, ending with its DONE or FAILED event."""
        state = self._state(job_id)
        seen = 0

        def more() -> bool:
            return len(state.events) > seen

        while True:
            async with state.changed:
                await state.changed.wait_for(more)
                fresh = state.events[seen:]
            seen += len(fresh)
            for event in fresh:
                yield event
                if event.kind is not EventKind.CHECK:
                    return

    async def result(self, job_id: str, timeout: float) -> JobEvent | None:
        """The DONE/FAILED event, waiting up to `timeout` seconds (None: not finished yet)."""
        state = self._state(job_id)
        try:
            async with asyncio.timeout(timeout), state.changed:
                await state.changed.wait_for(lambda: state.terminal is not None)
        except TimeoutError:
            return None
        return state.terminal

    async def close(self) -> None:
        """Stop running jobs (their watchers get FAILED) and refuse new ones."""
        self._closed = True
        tasks = [s.task for s in self._jobs.values() if s.task is not None and not s.task.done()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    @property
    def running(self) -> int:
        return len(self._jobs) - len(self._finished)

    def _forget(self) -> None:
        """Drop finished jobs past their TTL, and the oldest finished ones beyond `max_kept`."""
        horizon = self._clock() - self.result_ttl
        while self._finished:
            state = self._jobs[self._finished[0]]
            if len(self._jobs) <= self.max_kept and (state.finished_at or 0) > horizon:
                break
            del self._jobs[self._finished.popleft()]
