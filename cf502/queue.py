"""The Redis Streams job queue: the `Pool` clients submit to, and the operations workers use.

Keys (prefix `cf502` by default; JSON values only, never pickle):

* `{p}:jobs`          stream of queued jobs, one consumer group (`workers`). A worker reads with
                      XREADGROUP; an entry stays in the group's pending list (PEL) until the job's
                      result is stored, then it is XACKed and XDELed in the same script, so the
                      stream holds only queued and running jobs. Submitting refuses new jobs once
                      it holds `max_backlog` entries.
* `{p}:ev:{job}`      per-job events stream: one entry per finished check, then DONE or FAILED.
                      A subscriber that starts late reads it from 0. Expires after `result_ttl`.
* `{p}:res:{job}`     the DONE/FAILED event, SET NX: whichever run finishes first wins, so a job
                      run twice (a worker presumed dead that was only slow) has exactly one result.
* `{p}:dead`          dead-letter stream (job, reason, deliveries), trimmed to `dead_maxlen`.
* `{p}:dd:{key}`      coalescing: an identical request within `Limits.coalesce` s gets this job id.
* `{p}:rl:u:{user}`, `{p}:rl:c:{channel}`   sliding-window rate limits (sorted sets of job ids).
* `{p}:crash:{job}`   the last exception of a job that crashed a worker, for the dead-letter reason.
* `{p}:live:{job}`    "this job is queued, waiting or running": set on submit, refreshed while it
                      waits or runs, deleted when its result is stored. A follower whose job has
                      neither this key, a result nor events knows the job was lost (see
                      `_EventsReader._probe`) instead of waiting for the idle timeout.
* `{p}:act:{user}`    fair admission: the entry ids of the user's jobs in `{p}:jobs` (queued or
                      running), at most `Limits.running_per_user`; an id whose entry has left the
                      stream is dropped whenever the set is read, so nothing leaks if a worker dies.
* `{p}:wait:{user}`   that user's jobs over the cap, in order ("<job id> <payload>"): not in the
                      job stream, so they hold no worker slot and cost no CPU; the script that
                      finishes one of the user's jobs moves the next one to the stream.
* `{p}:wake:{client}` a client's wake-up stream (one entry, 60 s TTL): a new follower of job events
                      adds to it to end the client's blocking read early (see `_EventsReader`).

Every key but the two streams carries a TTL, and the streams are bounded, so memory stays bounded
whatever the traffic. Redelivery: a worker refreshes the idle time of the entries it is running
(heartbeat), so XAUTOCLAIM takes over only jobs whose worker stopped answering for `min_idle`
seconds; each takeover counts as a delivery, and a job delivered more than `max_deliveries` times is
dead-lettered with a readable reason instead of being run again.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
import uuid
from collections.abc import AsyncGenerator, Sequence
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import RedisError, ResponseError
from redis.typing import KeyT, StreamIdT

from cf502.errors import ConfigError, InvalidSetting, QueueError
from cf502.jobs import EventKind, Job, JobEvent, RateLimited
from cf502.limits import Limits, refusal

__all__ = ["Delivery", "QueueConfig", "RedisPool", "redacted_url"]

log = logging.getLogger(__name__)

_JOB_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_WHO = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_EXCERPT = 4096  # characters of an unreadable or oversize entry kept in the dead-letter stream

# Fair admission (shared by the submit and finish scripts): `gate_release` moves a user's waiting
# jobs to the job stream while fewer than `cap` of theirs are in it. A member of the user's set
# whose entry is no longer in the stream (finished, or deleted by hand) is dropped as it is seen.
_GATE_LUA = """
local function gate_live(jobs, act)
  local n = 0
  for _, id in ipairs(redis.call('SMEMBERS', act)) do
    if #redis.call('XRANGE', jobs, id, id) > 0 then n = n + 1 else redis.call('SREM', act, id) end
  end
  return n
end
local function gate_release(jobs, act, wait, cap, gate, ttl, live_prefix)
  local live = gate_live(jobs, act)
  while live < cap do
    local item = redis.call('LPOP', wait)
    if not item then break end
    local sp = string.find(item, ' ', 1, true)
    local id = redis.call('XADD', jobs, '*', 'job', string.sub(item, sp + 1),
      'gate', gate, 'cap', tostring(cap))
    redis.call('SADD', act, id)
    redis.call('PEXPIRE', live_prefix .. string.sub(item, 1, sp - 1), ttl)
    live = live + 1
  end
  redis.call('PEXPIRE', act, ttl)
  redis.call('PEXPIRE', wait, ttl)
  return live
end
"""

# Submit: coalesce, rate-limit, bound the backlog, enqueue (or wait behind the user's running
# jobs): atomically, in one round trip.
_SUBMIT = (
    _GATE_LUA
    + """
local now_t = redis.call('TIME')
local now = tonumber(now_t[1]) * 1000 + math.floor(tonumber(now_t[2]) / 1000)
local coalesce_ms = tonumber(ARGV[3])
if coalesce_ms > 0 then
  local existing = redis.call('GET', KEYS[2])
  if existing then return {'dup', existing} end
end
local window = tonumber(ARGV[4])
local function wait_for(key, limit)
  if limit <= 0 then return nil end
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  if redis.call('ZCARD', key) >= limit then
    local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
    return tostring(tonumber(oldest[2]) + window - now)
  end
  return nil
end
local w = wait_for(KEYS[3], tonumber(ARGV[5]))
if w then return {'user', w} end
w = wait_for(KEYS[4], tonumber(ARGV[6]))
if w then return {'channel', w} end
local backlog = tonumber(ARGV[7])
local cap = tonumber(ARGV[9])
if backlog > 0 and redis.call('XLEN', KEYS[1]) >= backlog then return {'full', tostring(backlog)} end
if cap > 0 and backlog > 0 and redis.call('LLEN', KEYS[7]) >= backlog then
  return {'full', tostring(backlog)}
end
for i, limit in ipairs({tonumber(ARGV[5]), tonumber(ARGV[6])}) do
  if limit > 0 then
    redis.call('ZADD', KEYS[2 + i], now, ARGV[1])
    redis.call('PEXPIRE', KEYS[2 + i], window)
  end
end
if coalesce_ms > 0 then redis.call('SET', KEYS[2], ARGV[1], 'PX', coalesce_ms) end
redis.call('SET', KEYS[5], '1', 'PX', ARGV[8])
if cap > 0 then
  -- Earlier waiting jobs of this user go first; this one waits if the user is at the cap.
  if gate_release(KEYS[1], KEYS[6], KEYS[7], cap, ARGV[10], ARGV[8], ARGV[11]) >= cap then
    redis.call('RPUSH', KEYS[7], ARGV[1] .. ' ' .. ARGV[2])
    redis.call('PEXPIRE', KEYS[7], ARGV[8])
    return {'waiting', ARGV[1]}
  end
  local id = redis.call('XADD', KEYS[1], '*', 'job', ARGV[2], 'gate', ARGV[10], 'cap', ARGV[9])
  redis.call('SADD', KEYS[6], id)
  redis.call('PEXPIRE', KEYS[6], ARGV[8])
  return {'ok', ARGV[1]}
end
redis.call('XADD', KEYS[1], '*', 'job', ARGV[2])
return {'ok', ARGV[1]}
"""
)

# Finish (or dead-letter) a job: store the result once, publish it (after any progress events not
# yet published), acknowledge and delete the entry. One script, so an entry is never acknowledged
# without its result stored. The job is then neither queued nor running (its `live` key goes), and
# the next waiting job of its user, if any, moves to the stream.
_FINISH = (
    _GATE_LUA
    + """
local stored = false
if ARGV[3] ~= '' then
  stored = redis.call('SET', KEYS[2], ARGV[3], 'NX', 'PX', ARGV[4])
  if stored then
    for i = 14, #ARGV do  -- progress not yet published, in order, before the end
      redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[5], '*', 'e', ARGV[i])
    end
    redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[5], '*', 'e', ARGV[3])
    redis.call('PEXPIRE', KEYS[3], ARGV[4])
  end
end
if ARGV[6] ~= '' then
  redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[9], '*',
    'job_id', ARGV[10], 'reason', ARGV[6], 'deliveries', ARGV[8], 'job', ARGV[7])
end
if ARGV[2] ~= '' then
  redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
  redis.call('XDEL', KEYS[1], ARGV[2])
end
redis.call('DEL', KEYS[5], KEYS[6])
local cap = tonumber(ARGV[11])
if cap > 0 then
  redis.call('SREM', KEYS[7], ARGV[2])
  gate_release(KEYS[1], KEYS[7], KEYS[8], cap, ARGV[12], ARGV[4], ARGV[13])
end
if stored then return 1 end
return 0
"""
)

# Take over entries idle for longer than min-idle, with their delivery counts.
_RECLAIM = """
local res = redis.call('XAUTOCLAIM', KEYS[1], ARGV[1], ARGV[2], ARGV[3], '0-0', 'COUNT', ARGV[4])
local out = {}
for _, e in ipairs(res[2]) do
  if e[2] then
    local p = redis.call('XPENDING', KEYS[1], ARGV[1], e[1], e[1], 1)
    local n = 0
    if p[1] then n = p[1][4] end
    table.insert(out, {e[1], e[2], n})
  end
end
return out
"""

# Refresh the idle time of the entries this consumer still owns (JUSTID: not a new delivery) and
# their jobs' `live` keys (KEYS[i - 2] for ARGV[i]); returns the ids it no longer owns (taken
# over, or finished by another worker).
_HEARTBEAT = """
local lost = {}
for i = 4, #ARGV do
  local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[i], ARGV[i], 1)
  if p[1] and p[1][2] == ARGV[2] then
    redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[i], 'JUSTID')
    redis.call('PEXPIRE', KEYS[i - 2], ARGV[3])
  else
    table.insert(lost, ARGV[i])
  end
end
return lost
"""

# Hand a job back (graceful shutdown): a fresh entry, so it is neither lost nor counted as a crash;
# a gated job keeps its place in its user's set under the new entry id.
_REQUEUE = """
local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[2], ARGV[2], 1)
if not (p[1] and p[1][2] == ARGV[3]) then return false end
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
redis.call('XDEL', KEYS[1], ARGV[2])
if ARGV[5] == '' then return redis.call('XADD', KEYS[1], '*', 'job', ARGV[4]) end
local id = redis.call('XADD', KEYS[1], '*', 'job', ARGV[4], 'gate', ARGV[5], 'cap', ARGV[6])
redis.call('SREM', KEYS[2], ARGV[2])
redis.call('SADD', KEYS[2], id)
return id
"""


@dataclass(frozen=True, slots=True)
class QueueConfig:
    """How the queue behaves; clients and workers of one deployment must agree on it.

    Attributes:
        prefix: key prefix (several deployments can share one Redis).
        group: the workers' consumer group.
        result_ttl: seconds results and event streams are kept.
        min_idle: seconds without a heartbeat after which a job's worker is presumed dead and the
            job is taken over by another worker.
        max_deliveries: a job delivered more often than this is dead-lettered, not run again.
        max_backlog: queued + running jobs beyond which submissions are refused (0: no bound).
        dead_maxlen: dead-letter entries kept.
        events_maxlen: events kept per job (checks x deliveries, plus the end).
        limits: rate limits and coalescing.
        connect_timeout / socket_timeout: seconds; short, so an unreachable Redis is an error at
            once rather than a hang.
        block: seconds one blocking read waits before it loops (must stay below socket_timeout).
        max_job_bytes: the largest job payload accepted.
        max_connections: Redis connections per process; more requests wait for a free one.
        reconnect_for: seconds a watcher of job events keeps retrying while Redis is unreachable.
        events_idle_timeout: seconds a watcher waits without any event of its job before giving
            up (a last resort: a lost job is normally noticed within `vanished_check`).
        vanished_check: seconds of silence after which a watcher checks that its job still
            exists (queued, waiting, running or finished), and how often it checks again; a job
            Redis lost (restarted without persistence, flushed) fails its watchers then.
        events_batch: job event streams per read when a client follows many jobs at once (more
            are read in several reads, pipelined).
    """

    prefix: str = "cf502"
    group: str = "workers"
    result_ttl: float = 3600.0
    min_idle: float = 30.0
    max_deliveries: int = 3
    max_backlog: int = 10_000
    dead_maxlen: int = 10_000
    events_maxlen: int = 256
    limits: Limits = field(default_factory=Limits)
    connect_timeout: float = 1.0
    socket_timeout: float = 2.0
    block: float = 1.0
    max_job_bytes: int = 64 * 1024
    max_connections: int = 64
    reconnect_for: float = 30.0
    events_idle_timeout: float = 900.0
    vanished_check: float = 2.0
    events_batch: int = 256

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[A-Za-z0-9_.:-]{1,64}", self.prefix):
            raise InvalidSetting(f"queue prefix {self.prefix!r} must be 1-64 letters/digits/_.:-.")
        if not 0.1 <= self.min_idle <= 86_400:
            raise InvalidSetting("min-idle must be between 0.1 and 86,400 seconds.")
        if not 1 <= self.max_deliveries <= 100:
            raise InvalidSetting("max deliveries must be between 1 and 100.")
        if self.result_ttl < 1:
            raise InvalidSetting("the result TTL must be at least 1 second.")
        if not 0 < self.block < self.socket_timeout:
            raise InvalidSetting("the blocking read time must be shorter than the socket timeout.")
        if not 1 <= self.events_batch <= 10_000:
            raise InvalidSetting("the events batch must be between 1 and 10,000 streams.")
        if not 0.05 <= self.vanished_check <= 3_600:
            raise InvalidSetting("the vanished-job check must be between 0.05 and 3,600 seconds.")


class _Keys:
    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.jobs = f"{prefix}:jobs"
        self.dead = f"{prefix}:dead"

    def result(self, job_id: str) -> str:
        return f"{self.prefix}:res:{job_id}"

    def events(self, job_id: str) -> str:
        return f"{self.prefix}:ev:{job_id}"

    def crash(self, job_id: str) -> str:
        return f"{self.prefix}:crash:{job_id}"

    def live(self, job_id: str) -> str:
        return f"{self.prefix}:live:{job_id}"

    def active(self, who: str) -> str:
        return f"{self.prefix}:act:{who}"

    def waiting(self, who: str) -> str:
        return f"{self.prefix}:wait:{who}"

    def wake(self, client: str) -> str:
        return f"{self.prefix}:wake:{client}"

    def dedupe(self, key: str) -> str:
        return f"{self.prefix}:dd:{key}"

    def rate(self, scope: str, who: str) -> str:
        return f"{self.prefix}:rl:{scope}:{_who(who)}"


def _who(name: str) -> str:
    """A user or channel id as a key part: Slack ids are short; anything long or odd is hashed so
    key names stay bounded."""
    if _WHO.fullmatch(name):
        return name
    return "h" + hashlib.sha256(name.encode("utf-8", "surrogateescape")).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
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
    if gate is None or not _WHO.fullmatch(gate) or cap == 0:
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
            job_id = data["job_id"] if _JOB_ID.match(data["job_id"]) else None
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


def redacted_url(url: str) -> str:
    """`redis://host:port/db` with any password removed, for logs and error messages."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or "localhost"
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "(unparsable Redis URL)"
    return f"{parts.scheme}://{host}{port}{parts.path}"


def _ms(seconds: float) -> int:
    return max(1, round(seconds * 1000))


def _blob(event: JobEvent) -> str:
    return json.dumps(event.to_dict(), separators=(",", ":"), ensure_ascii=False)


def _check_job_id(job_id: str) -> None:
    if not _JOB_ID.match(job_id):
        raise QueueError(f"job id {job_id[:80]!r} is not a valid job id.")


# -- following job events: one reader per client ---------------------------------------------------

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


@dataclass(eq=False, slots=True)
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

    def __init__(self, pool: RedisPool) -> None:
        self.pool = pool
        self.followers: set[_Follower] = set()
        self.failing_since: float | None = None  # loop time Redis became unreachable
        self._wake_key = pool.keys.wake(uuid.uuid4().hex)
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
            async with self.pool.redis.pipeline(transaction=False) as pipe:
                pipe.xadd(self._wake_key, {"w": "1"}, maxlen=1, approximate=False)
                pipe.pexpire(self._wake_key, _ms(_WAKE_TTL))
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
                left = self.pool.config.block
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
        cfg = self.pool.config
        items = [(k, min(fs, key=lambda f: f.last_sid).last) for k, fs in plan.items()]
        size = cfg.events_batch
        chunks: list[dict[KeyT, StreamIdT]] = [
            dict(items[i : i + size]) for i in range(0, len(items), size)
        ]
        chunks[-1][self._wake_key] = self._wake_last
        if len(chunks) == 1:
            return await self.pool.redis.xread(chunks[0], count=_EVENTS_COUNT, block=_ms(cfg.block))
        # Too many streams for one read: read them all in one round trip, and block (briefly,
        # as the other reads cannot wake) only when the previous round found nothing.
        last_block = _ms(min(cfg.block, _MANY_STREAMS_POLL)) if quiet else None
        async with self.pool.redis.pipeline(transaction=False) as pipe:
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
        every = self.pool.config.vanished_check
        if now < self._next_probe:
            return
        self._next_probe = now + every
        quiet = [f for f in self.followers if now - f.quiet_since >= every and f.inbox.empty()]
        if not quiet:
            return
        keys = self.pool.keys
        try:
            async with self.pool.redis.pipeline(transaction=False) as pipe:
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
            if now - max(self.failing_since, f.since) >= self.pool.config.reconnect_for:
                self._end(f, self.pool._unavailable(exc, f"lost track of job {f.job_id}"))

    async def _end_unreadable(self, plan: dict[str, list[_Follower]]) -> bool:
        """After an error reply to a read: end the followers whose key is not a stream (one bad
        key must not stop everyone's reports). False if every key is fine."""
        keys = list(plan)
        try:
            async with self.pool.redis.pipeline(transaction=False) as pipe:
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
                await self.pool.redis.delete(self._wake_key)
            except RedisError:
                pass  # it expires by itself


class RedisPool:
    """Diagnoses run by `cf502 worker` processes through Redis (implements `cf502.jobs.Pool`).

    The client side (`submit`, `events`, `result`, `close`) is what the CLI and the Slack app use;
    every Redis failure there becomes a QueueError with one readable line. The worker side
    (`read_new`, `reclaim`, `heartbeat`, `publish`, `finish`, ...) lets Redis errors through, since
    the worker retries them with backoff.
    """

    def __init__(
        self, url: str, config: QueueConfig | None = None, *, client: Redis | None = None
    ) -> None:
        self.config = cfg = config or QueueConfig()
        self.where = redacted_url(url)
        self.keys = _Keys(cfg.prefix)
        if client is None:
            try:
                # A blocking pool: a burst waits briefly for a free connection instead of failing.
                connections = BlockingConnectionPool.from_url(
                    url,
                    max_connections=cfg.max_connections,
                    timeout=cfg.socket_timeout,
                    decode_responses=True,
                    socket_connect_timeout=cfg.connect_timeout,
                    socket_timeout=cfg.socket_timeout,
                    # Bytes that are not UTF-8 (a hand-written job entry) must not make a read
                    # raise: they decode to lone surrogates, which the job parser refuses.
                    encoding_errors="surrogateescape",
                    # One quick retry re-opens a pooled connection that a Redis restart closed;
                    # more would turn "Redis is down" into a hang.
                    retry=Retry(ExponentialBackoff(cap=0.05, base=0.01), 1),
                )
            except ValueError as exc:
                from cf502.logs import redact

                # As typed (password masked): the parsed form of a broken URL is misleading.
                raise ConfigError(f"invalid Redis URL {redact(url)!r}: {exc}.") from None
            client = Redis.from_pool(connections)
        self.redis = client
        self._submit = client.register_script(_SUBMIT)
        self._finish = client.register_script(_FINISH)
        self._reclaim = client.register_script(_RECLAIM)
        self._heartbeat = client.register_script(_HEARTBEAT)
        self._requeue = client.register_script(_REQUEUE)
        self._reader = _EventsReader(self)

    def _unavailable(self, exc: RedisError, what: str) -> QueueError:
        detail = " ".join(str(exc).split())[:160] or type(exc).__name__
        return QueueError(
            f"the job queue (Redis at {self.where}) is unavailable: {what} ({detail})."
        )

    # -- client side (Pool) -------------------------------------------------------------------

    async def submit(self, job: Job) -> str:
        """Queue `job`; an identical job queued within the coalescing window returns its id.

        Raises RateLimited when the user or channel is over its limit, QueueError when Redis is
        unreachable or the backlog is full.
        """
        _check_job_id(job.job_id)
        payload = json.dumps(job.to_dict(), separators=(",", ":"), ensure_ascii=False)
        if len(payload.encode()) > self.config.max_job_bytes:
            raise QueueError(f"the job is larger than {self.config.max_job_bytes} bytes.")
        lim = self.config.limits
        user = job.requested_by.get("user", "")
        channel = job.requested_by.get("channel", "")
        who = _who(user) if user else ""
        keys = [
            self.keys.jobs,
            self.keys.dedupe(job.dedupe_key()),
            self.keys.rate("u", user),
            self.keys.rate("c", channel),
            self.keys.live(job.job_id),
            self.keys.active(who),
            self.keys.waiting(who),
        ]
        args: list[str | int] = [
            job.job_id,
            payload,
            _ms(lim.coalesce) if lim.coalesce > 0 else 0,
            _ms(lim.window),
            lim.per_user if user else 0,
            lim.per_channel if channel else 0,
            self.config.max_backlog,
            _ms(self.config.result_ttl),
            # Jobs without a user (the CLI's) are not gated, as they are not rate-limited.
            lim.running_per_user if user else 0,
            who,
            self.keys.live(""),
        ]
        try:
            status, value = await self._submit(keys=keys, args=args)
        except RedisError as exc:
            raise self._unavailable(exc, "the job was not queued") from None
        if status in ("ok", "dup", "waiting"):
            if status != "dup":  # a coalesced duplicate is not a new job
                from cf502 import (
                    metrics,
                )  # here, not at the top: keeps `cf502 check` start-up light

                metrics.job_queued(job.kind.value)
            return str(value)
        if status == "full":
            raise QueueError(
                f"the job queue is full ({value} jobs queued or running); try again shortly."
            )
        who, limit = (user, lim.per_user) if status == "user" else (channel, lim.per_channel)
        raise RateLimited(refusal(str(status), who, limit, lim.window, float(value) / 1000))

    async def events(
        self, job_id: str, *, idle_timeout: float | None = None
    ) -> AsyncGenerator[JobEvent, None]:
        """The job's progress from its start (a late subscriber misses nothing), ending with one
        DONE or FAILED event. A check reported twice (the job was re-run after a worker died) is
        yielded once. Raises QueueError when Redis stays unreachable or the job goes silent.

        All the iterators of one pool share one reader (and one Redis connection), whatever their
        number."""
        _check_job_id(job_id)
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
        _check_job_id(job_id)
        try:
            raw = await self.redis.get(self.keys.result(job_id))
        except RedisError as exc:
            raise self._unavailable(exc, f"could not read the result of job {job_id}") from None
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
        await self.redis.aclose()

    # -- worker side ----------------------------------------------------------------------------

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
            block=_ms(self.config.block),
        )
        out: list[Delivery] = []
        limit = self.config.max_job_bytes
        for _stream, entries in resp or ():
            out.extend(_parse_delivery(eid, fields, 1, limit) for eid, fields in entries)
        return out

    async def reclaim(self, consumer: str, count: int) -> list[Delivery]:
        """Take over up to `count` jobs whose worker has been silent for `min_idle` seconds."""
        rows = await self._reclaim(
            keys=[self.keys.jobs],
            args=[self.config.group, consumer, _ms(self.config.min_idle), count],
        )
        out = []
        for eid, flat, n in rows:
            fields = dict(zip(flat[::2], flat[1::2], strict=True))
            out.append(_parse_delivery(str(eid), fields, int(n), self.config.max_job_bytes))
        return out

    async def heartbeat(self, consumer: str, running: Sequence[Delivery]) -> list[str]:
        """Keep this worker's running jobs from being taken over (and known to their watchers);
        returns the entry ids it lost."""
        if not running:
            return []
        lost = await self._heartbeat(
            keys=[self.keys.jobs, *(self.keys.live(d.job_id or "-") for d in running)],
            args=[
                self.config.group,
                consumer,
                _ms(self.config.result_ttl),
                *(d.entry_id for d in running),
            ],
        )
        return [str(x) for x in lost]

    async def publish(self, *events: JobEvent) -> None:
        """Append progress events (of one job) to its events stream, in one round trip."""
        if not events:
            return
        key = self.keys.events(events[0].job_id)
        async with self.redis.pipeline(transaction=False) as pipe:
            for event in events:
                pipe.xadd(
                    key, {"e": _blob(event)}, maxlen=self.config.events_maxlen, approximate=True
                )
            pipe.pexpire(key, _ms(self.config.result_ttl))
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
        job_id = delivery.job_id or "-"
        blob = _blob(event) if event is not None else ""
        gate = delivery.gate or ""
        stored = await self._finish(
            keys=[
                self.keys.jobs,
                self.keys.result(job_id),
                self.keys.events(job_id),
                self.keys.dead,
                self.keys.crash(job_id),
                self.keys.live(job_id),
                self.keys.active(gate),
                self.keys.waiting(gate),
            ],
            args=[
                self.config.group,
                delivery.entry_id,
                blob,
                _ms(self.config.result_ttl),
                self.config.events_maxlen,
                dead_reason,
                _dead_copy(delivery.raw, self.config.max_job_bytes) if dead_reason else "",
                delivery.deliveries,
                self.config.dead_maxlen,
                job_id,
                delivery.cap if gate else 0,
                gate,
                self.keys.live(""),
                *(_blob(p) for p in progress),
            ],
        )
        return bool(stored)

    async def requeue(self, consumer: str, delivery: Delivery) -> bool:
        """Hand a running job back as a fresh entry (False: this worker no longer owned it)."""
        gate = delivery.gate or ""
        new_id = await self._requeue(
            keys=[self.keys.jobs, self.keys.active(gate)],
            args=[
                self.config.group,
                delivery.entry_id,
                consumer,
                delivery.raw.encode("utf-8", "surrogateescape"),
                gate,
                delivery.cap if gate else 0,
            ],
        )
        return bool(new_id)

    async def note_crash(self, job_id: str, message: str) -> None:
        await self.redis.set(self.keys.crash(job_id), message[:500], px=_ms(self.config.result_ttl))

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
