"""The Redis Streams job queue's keys and Lua scripts, shared by its client and its workers.

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
                      `client._EventsReader._probe`) instead of waiting for the idle timeout.
* `{p}:act:{user}`    fair admission: the entry ids of the user's jobs in `{p}:jobs` (queued or
                      running), at most `Limits.running_per_user`; an id whose entry has left the
                      stream is dropped whenever the set is read, so nothing leaks if a worker dies.
* `{p}:wait:{user}`   that user's jobs over the cap, in order ("<job id> <payload>"): not in the
                      job stream, so they hold no worker slot and cost no CPU; the script that
                      finishes one of the user's jobs moves the next one to the stream.
* `{p}:wake:{client}` a client's wake-up stream (one entry, 60 s TTL): a new follower of job events
                      adds to it to end the client's blocking read early (see `client._EventsReader`).

Every key but the two streams carries a TTL, and the streams are bounded, so memory stays bounded
whatever the traffic. Redelivery: a worker refreshes the idle time of the entries it is running
(heartbeat), so XAUTOCLAIM takes over only jobs whose worker stopped answering for `min_idle`
seconds; each takeover counts as a delivery, and a job delivered more than `max_deliveries` times is
dead-lettered with a readable reason instead of being run again.

`Scripts` binds the scripts to a connection and is their only caller: each method takes what its
script needs by name and lays out KEYS and ARGV as the script reads them, so the positions are
defined in one place, next to the Lua.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence

from redis.asyncio import Redis

from cf502.errors import QueueError
from cf502.pool.jobs import Job, JobEvent
from cf502.pool.queue.config import QueueConfig, connect, redacted_url

__all__ = [
    "JOB_ID",
    "WHO",
    "Keys",
    "QueueLink",
    "Scripts",
    "blob",
    "check_job_id",
    "ms",
    "who_key",
]

JOB_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
WHO = re.compile(r"[A-Za-z0-9_.-]{1,64}")

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
-- A duplicate counts for the rate limits (it is a request like any other) but shares the job.
local function count()
  for i, limit in ipairs({tonumber(ARGV[5]), tonumber(ARGV[6])}) do
    if limit > 0 then
      redis.call('ZADD', KEYS[2 + i], now, ARGV[1])
      redis.call('PEXPIRE', KEYS[2 + i], window)
    end
  end
end
if coalesce_ms > 0 then
  local existing = redis.call('GET', KEYS[2])
  if existing then
    count()
    return {'dup', existing}
  end
end
local backlog = tonumber(ARGV[7])
local cap = tonumber(ARGV[9])
if backlog > 0 and redis.call('XLEN', KEYS[1]) >= backlog then return {'full', tostring(backlog)} end
if cap > 0 and backlog > 0 and redis.call('LLEN', KEYS[7]) >= backlog then
  return {'full', tostring(backlog)}
end
count()
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


class Keys:
    """The key names of one deployment (`QueueConfig.prefix`)."""

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
        return f"{self.prefix}:rl:{scope}:{who_key(who)}"


def who_key(name: str) -> str:
    """A user or channel id as a key part: Slack ids are short; anything long or odd is hashed so
    key names stay bounded."""
    if WHO.fullmatch(name):
        return name
    return "h" + hashlib.sha256(name.encode("utf-8", "surrogateescape")).hexdigest()[:32]


def ms(seconds: float) -> int:
    return max(1, round(seconds * 1000))


def blob(event: JobEvent) -> str:
    return json.dumps(event.to_dict(), separators=(",", ":"), ensure_ascii=False)


def check_job_id(job_id: str) -> None:
    if not JOB_ID.match(job_id):
        raise QueueError(f"job id {job_id[:80]!r} is not a valid job id.")


class Scripts:
    """The queue's Lua scripts on one connection; each call is one atomic round trip."""

    def __init__(self, redis: Redis, config: QueueConfig) -> None:
        self.config = config
        self.keys = Keys(config.prefix)
        self._submit = redis.register_script(_SUBMIT)
        self._finish = redis.register_script(_FINISH)
        self._reclaim = redis.register_script(_RECLAIM)
        self._heartbeat = redis.register_script(_HEARTBEAT)
        self._requeue = redis.register_script(_REQUEUE)

    async def submit(self, job: Job, payload: str) -> tuple[str, str]:
        """Coalesce, rate-limit, bound the backlog and queue `job` (or hold it behind its user's
        running jobs). Returns ("ok" | "dup" | "waiting", job id), ("user" | "channel", ms until
        the limit lets it through) or ("full", the backlog bound)."""
        keys, cfg = self.keys, self.config
        lim = cfg.limits
        user = job.requested_by.get("user", "")
        channel = job.requested_by.get("channel", "")
        who = who_key(user) if user else ""
        status, value = await self._submit(
            keys=[
                keys.jobs,
                keys.dedupe(job.dedupe_key()),
                keys.rate("u", user),
                keys.rate("c", channel),
                keys.live(job.job_id),
                keys.active(who),
                keys.waiting(who),
            ],
            args=[
                job.job_id,
                payload,
                ms(lim.coalesce) if lim.coalesce > 0 else 0,
                ms(lim.window),
                lim.per_user if user else 0,
                lim.per_channel if channel else 0,
                cfg.max_backlog,
                ms(cfg.result_ttl),
                # Jobs without a user (the CLI's) are not gated, as they are not rate-limited.
                lim.running_per_user if user else 0,
                who,
                keys.live(""),
            ],
        )
        return str(status), str(value)

    async def finish(
        self,
        *,
        entry_id: str,
        job_id: str,
        result: str,
        progress: Sequence[str],
        dead_reason: str,
        dead_copy: bytes,
        deliveries: int,
        gate: str,
        cap: int,
    ) -> bool:
        """Store `result` (an event blob; "": none) once and publish it after `progress`, add a
        dead letter when `dead_reason` is given, acknowledge and delete the entry, and let the
        user's next waiting job in. False when another run had already stored a result."""
        keys, cfg = self.keys, self.config
        stored = await self._finish(
            keys=[
                keys.jobs,
                keys.result(job_id),
                keys.events(job_id),
                keys.dead,
                keys.crash(job_id),
                keys.live(job_id),
                keys.active(gate),
                keys.waiting(gate),
            ],
            args=[
                cfg.group,
                entry_id,
                result,
                ms(cfg.result_ttl),
                cfg.events_maxlen,
                dead_reason,
                dead_copy,
                deliveries,
                cfg.dead_maxlen,
                job_id,
                cap if gate else 0,
                gate,
                keys.live(""),
                *progress,
            ],
        )
        return bool(stored)

    async def reclaim(self, consumer: str, count: int) -> list[tuple[str, dict[str, str], int]]:
        """Take over up to `count` entries idle for `min_idle`: (entry id, fields, deliveries)."""
        rows = await self._reclaim(
            keys=[self.keys.jobs],
            args=[self.config.group, consumer, ms(self.config.min_idle), count],
        )
        return [
            (str(eid), dict(zip(flat[::2], flat[1::2], strict=True)), int(n))
            for eid, flat, n in rows
        ]

    async def heartbeat(self, consumer: str, running: Sequence[tuple[str, str]]) -> list[str]:
        """Refresh the idle time of `running` (entry id, job id) entries that `consumer` still
        owns, and their jobs' `live` keys; returns the entry ids it no longer owns."""
        lost = await self._heartbeat(
            keys=[self.keys.jobs, *(self.keys.live(job_id) for _, job_id in running)],
            args=[
                self.config.group,
                consumer,
                ms(self.config.result_ttl),
                *(entry_id for entry_id, _ in running),
            ],
        )
        return [str(x) for x in lost]

    async def requeue(self, consumer: str, entry_id: str, raw: bytes, gate: str, cap: int) -> bool:
        """Hand an entry `consumer` owns back as a fresh one (False: it no longer owned it)."""
        new_id = await self._requeue(
            keys=[self.keys.jobs, self.keys.active(gate)],
            args=[self.config.group, entry_id, consumer, raw, gate, cap if gate else 0],
        )
        return bool(new_id)


class QueueLink:
    """What both sides of the queue hold: the settings, one Redis client, keys and scripts.

    `QueueClient` (submitting, following) and `QueueConsumer` (the worker's side) build on it."""

    def __init__(
        self, url: str, config: QueueConfig | None = None, *, client: Redis | None = None
    ) -> None:
        self.config = cfg = config or QueueConfig()
        self.where = redacted_url(url)  # for messages: never the password
        self.redis = client if client is not None else connect(url, cfg)
        self.keys = Keys(cfg.prefix)
        self._scripts = Scripts(self.redis, cfg)

    async def close(self) -> None:
        await self.redis.aclose()
