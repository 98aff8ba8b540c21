"""The queue's worker side: read and claim jobs, heartbeat them, store their results, hand them back,
dead-letter them (`QueueConsumer`), as `cf502.pool.worker.Worker` does.

Redis errors go through to the caller here: the worker retries them with backoff.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from redis.exceptions import ResponseError

from cf502.pool.jobs import EventKind, Job, JobEvent
from cf502.pool.queue.scripts import JOB_ID, WHO, QueueLink, blob, ms

__all__ = ["Delivery", "QueueConsumer"]

_EXCERPT = 4096  # characters of an unreadable or oversize entry kept in the dead-letter stream


@dataclass(frozen=True)
class Delivery:
    """One job as a worker received it.

    Attributes:
        entry_id: the stream entry id (what is acknowledged).
        raw: the job's JSON as stored.
        job: the parsed job, or None when the payload is malformed.
        deliveries: how many times the entry has been delivered, this one included.
        problem: why `job` is None.
        job_id: the job id, when it could be read even from a malformed payload.
        gate: the requesting user's fair-admission key part (None: not gated).
        cap: that user's cap on jobs in the stream (0: not gated).
    """

    entry_id: str
    raw: str
    job: Job | None
    deliveries: int
    problem: str | None = None
    job_id: str | None = None
    gate: str | None = None
    cap: int = 0


def _parse_delivery(
    entry_id: str, fields: dict[str, str] | None, deliveries: int, max_bytes: int
) -> Delivery:
    """Whatever the entry holds, a Delivery: a bad one carries `problem` (and is dead-lettered),
    it never raises (an entry that crashed the reader would crash every worker that reads it)."""
    fields = fields or {}
    raw = fields.get("job", "")
    gate = fields.get("gate")
    cap_text = fields.get("cap", "")
    cap = int(cap_text) if cap_text.isascii() and cap_text.isdigit() and len(cap_text) < 6 else 0
    if gate is None or not WHO.fullmatch(gate) or cap == 0:
        gate, cap = None, 0
    job_id: str | None = None
    try:
        # Checked before parsing: an oversize entry costs no parsing, and one with bytes that are
        # not UTF-8 (decoded with surrogateescape) is refused before it reaches the job code.
        if len(raw) > max_bytes or len(raw.encode("utf-8")) > max_bytes:
            why = f"the job payload is larger than {max_bytes} bytes"
            return Delivery(entry_id, raw, None, deliveries, why, None, gate, cap)
        data = json.loads(raw)
        if isinstance(data, dict) and isinstance(data.get("job_id"), str):
            job_id = data["job_id"] if JOB_ID.match(data["job_id"]) else None
        job = Job.from_dict(data)
    except UnicodeEncodeError:
        why = "the job payload is not valid UTF-8"
        return Delivery(entry_id, raw, None, deliveries, why, None, gate, cap)
    except Exception as exc:  # RecursionError, ValueError, ...: all mean "bad entry"
        detail = " ".join(str(exc).split())[:120]
        why = f"malformed job payload ({type(exc).__name__}: {detail})"
        return Delivery(entry_id, raw, None, deliveries, why, job_id, gate, cap)
    if job_id is None:
        return Delivery(entry_id, raw, None, deliveries, "malformed job id", None, gate, cap)
    return Delivery(entry_id, raw, job, deliveries, None, job_id, gate, cap)


def _dead_copy(raw: str, max_bytes: int) -> bytes:
    """What the dead-letter stream keeps of an entry: all of it (its original bytes, even when
    they are not UTF-8), or the start of an oversize one."""
    if len(raw) > max_bytes:
        raw = f"{raw[:_EXCERPT]}... ({len(raw)} characters in all)"
    return raw.encode("utf-8", "surrogateescape")


class QueueConsumer(QueueLink):
    """A worker's connection to the queue: one per worker process, shared by its loops."""

    async def ensure_group(self) -> None:
        """Create the stream and consumer group if missing (after a Redis flush/restart too)."""
        try:
            await self.redis.xgroup_create(self.keys.jobs, self.config.group, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def read_new(self, consumer: str, count: int) -> list[Delivery]:
        """Up to `count` never-delivered jobs, waiting at most `block` seconds for one."""
        resp: Any = await self.redis.xreadgroup(
            self.config.group,
            consumer,
            {self.keys.jobs: ">"},
            count=count,
            block=ms(self.config.block),
        )
        out: list[Delivery] = []
        limit = self.config.max_job_bytes
        for _stream, entries in resp or ():
            out.extend(_parse_delivery(eid, fields, 1, limit) for eid, fields in entries)
        return out

    async def reclaim(self, consumer: str, count: int) -> list[Delivery]:
        """Take over up to `count` jobs whose worker has been silent for `min_idle` seconds."""
        rows = await self._scripts.reclaim(consumer, count)
        limit = self.config.max_job_bytes
        return [_parse_delivery(eid, fields, n, limit) for eid, fields, n in rows]

    async def heartbeat(self, consumer: str, running: Sequence[Delivery]) -> list[str]:
        """Keep this worker's running jobs from being taken over (and known to their watchers);
        returns the entry ids it lost."""
        if not running:
            return []
        return await self._scripts.heartbeat(
            consumer, [(d.entry_id, d.job_id or "-") for d in running]
        )

    async def publish(self, *events: JobEvent) -> None:
        """Append progress events (of one job) to its events stream, in one round trip."""
        if not events:
            return
        key = self.keys.events(events[0].job_id)
        async with self.redis.pipeline(transaction=False) as pipe:
            for event in events:
                pipe.xadd(
                    key, {"e": blob(event)}, maxlen=self.config.events_maxlen, approximate=True
                )
            pipe.pexpire(key, ms(self.config.result_ttl))
            await pipe.execute()

    async def finish(
        self, delivery: Delivery, event: JobEvent, progress: Sequence[JobEvent] = ()
    ) -> bool:
        """Store `event` as the job's result and publish it after `progress` (events not yet
        published), then acknowledge and delete the entry: one round trip.

        Returns False when another run of the job had already stored a result (nothing is
        published twice)."""
        return await self._complete(delivery, event, dead_reason="", progress=progress)

    async def dead_letter(self, delivery: Delivery, reason: str) -> None:
        """Move a job that cannot succeed to the dead-letter stream; its watchers get FAILED."""
        event = None
        if delivery.job_id is not None:
            event = JobEvent(delivery.job_id, EventKind.FAILED, error=reason)
        await self._complete(delivery, event, dead_reason=reason)

    async def _complete(
        self,
        delivery: Delivery,
        event: JobEvent | None,
        dead_reason: str,
        progress: Sequence[JobEvent] = (),
    ) -> bool:
        return await self._scripts.finish(
            entry_id=delivery.entry_id,
            job_id=delivery.job_id or "-",
            result=blob(event) if event is not None else "",
            progress=[blob(p) for p in progress],
            dead_reason=dead_reason,
            dead_copy=_dead_copy(delivery.raw, self.config.max_job_bytes) if dead_reason else b"",
            deliveries=delivery.deliveries,
            gate=delivery.gate or "",
            cap=delivery.cap,
        )

    async def requeue(self, consumer: str, delivery: Delivery) -> bool:
        """Hand a running job back as a fresh entry (False: this worker no longer owned it)."""
        raw = delivery.raw.encode("utf-8", "surrogateescape")
        return await self._scripts.requeue(
            consumer, delivery.entry_id, raw, delivery.gate or "", delivery.cap
        )

    async def note_crash(self, job_id: str, message: str) -> None:
        await self.redis.set(self.keys.crash(job_id), message[:500], px=ms(self.config.result_ttl))

    async def last_crash(self, job_id: str) -> str | None:
        value = await self.redis.get(self.keys.crash(job_id))
        return str(value) if value is not None else None

    async def prune_consumers(self, keep: str, idle: float) -> int:
        """Forget consumers (dead workers) with nothing pending, silent for `idle` seconds."""
        gone = 0
        infos: list[dict[str, Any]] = await self.redis.xinfo_consumers(
            self.keys.jobs, self.config.group
        )
        for info in infos:
            name = str(info["name"])
            if name != keep and int(info["pending"]) == 0 and int(info["idle"]) > idle * 1000:
                await self.redis.xgroup_delconsumer(self.keys.jobs, self.config.group, name)
                gone += 1
        return gone

    async def depth(self) -> tuple[int, int]:
        """(jobs queued or running, jobs delivered and not yet finished)."""
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.xlen(self.keys.jobs)
            pipe.xpending(self.keys.jobs, self.config.group)
            length, pending = await pipe.execute()
        return int(length), int(pending["pending"]) if pending else 0

    async def queue_stats(self) -> tuple[int, float | None]:
        """(jobs queued or running, age in seconds of the oldest one) for metrics."""
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.xlen(self.keys.jobs)
            pipe.xrange(self.keys.jobs, count=1)
            pipe.time()
            length, oldest, (secs, micros) = await pipe.execute()
        if not oldest:
            return int(length), None
        born_ms = int(str(oldest[0][0]).split("-")[0])
        return int(length), max(0.0, secs + micros / 1e6 - born_ms / 1000)

    async def dead_letters(self, count: int = 100) -> list[dict[str, str]]:
        """The newest dead-lettered jobs (job_id, reason, deliveries, job)."""
        rows: Any = await self.redis.xrevrange(self.keys.dead, count=count)
        return [dict(fields) for _eid, fields in rows]
