"""What the app remembers about a posted report, so buttons can act on it later.

A button carries only a report id; everything else (where the message is, the settings to rerun
with, the latest results, who reran what) lives here for `CF502_REPORT_TTL` seconds. Two stores:
in memory (single process) and Redis (`REDIS_URL`, shared by several bot processes).
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Protocol

from cf502.model import CheckResult, CloudFrontSite, OriginReport, Status, Verdict
from cf502.settings import OriginSettings

__all__ = [
    "RECENT",
    "WATCH",
    "MemoryStore",
    "Note",
    "RedisStore",
    "ReportState",
    "StateStore",
    "Watch",
    "new_report_id",
]


WATCH = "watch"  # Note.via of a watch's recheck
RECENT = 50  # reports remembered per workspace for the App Home (the newest first)


def new_report_id() -> str:
    return uuid.uuid4().hex


@dataclass(frozen=True, slots=True)
class Note:
    """Who reran a check, when, and what changed (`before` None: it had no result before).
    `via` is WATCH when the recheck was the watch's (credited to the watch, not to `by`)."""

    by: str
    at: float
    before: Status | None
    after: Status
    via: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "by": self.by,
            "at": self.at,
            "before": self.before.value if self.before else None,
            "after": self.after.value,
            "via": self.via,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Note:
        before = d.get("before")
        return cls(
            by=str(d["by"]),
            at=float(d["at"]),
            before=Status(before) if before else None,
            after=Status(d["after"]),
            via=str(d.get("via") or ""),
        )


@dataclass(slots=True)
class Watch:
    """A running (or finished) "watch until fixed" of a report."""

    by: str
    started: float
    until: float
    interval: float
    runs: int = 0
    outcome: str | None = None  # None while watching; "fixed", "gave-up", "stopped", "failed"
    stopped_by: str | None = None
    by_name: str = ""  # the watcher's Slack name, for text that can't mention (dialogs)

    @property
    def active(self) -> bool:
        return self.outcome is None

    def to_dict(self) -> dict[str, Any]:
        return {
            "by": self.by,
            "started": self.started,
            "until": self.until,
            "interval": self.interval,
            "runs": self.runs,
            "outcome": self.outcome,
            "stopped_by": self.stopped_by,
            "by_name": self.by_name,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Watch:
        return cls(
            by=str(d["by"]),
            started=float(d["started"]),
            until=float(d["until"]),
            interval=float(d["interval"]),
            runs=int(d.get("runs", 0)),
            outcome=d.get("outcome"),
            stopped_by=d.get("stopped_by"),
            by_name=str(d.get("by_name") or ""),
        )


@dataclass(slots=True)
class ReportState:
    """One report message and everything needed to redraw it or rerun its checks.

    Attributes:
        report_id: the id buttons carry.
        channel: the conversation the report is in.
        requested_by: user id of who asked.
        requested_at: epoch seconds.
        target / origin / only: the request, exactly as run (rerun uses the same).
        check_ids / titles: the checks reported, in registry order.
        job_id: the latest job feeding this report.
        root_ts: the report message; thread_ts: where its replies go (the root, or the
            incident thread the mention came from).
        results: latest result per check id.
        replies: check id -> ts of its thread reply.
        notes: check id -> the latest rerun note.
        phase: "running", "done" or "failed"; error: why it failed.
        duration_ms / addresses: from the last complete report.
        rerun_all: who last reran everything, and when.
        watch: the watch, if one was started.
        response_url: the slash command's response URL (fallback when the bot can't post).
        cloudfront: whether the target is a CloudFront site (from the last complete report).
        team: the workspace (for its App Home's list of recent reports).
        requester_name: the requester's Slack name, for text that can't mention (dialogs).
        permalink: the root message's link, once asked for (chat.getPermalink).
        commands: check id -> ts of its "Show commands" message (posted once per report).
        ran_at: when the last complete run finished (what a rerun compares with).
        in_dm: the conversation is a direct message (no `/invite` there).
        duplicate_of: set by `Reports.submit` (never stored) when the request joined the
            report of the same diagnosis asked for here a moment earlier.
        expanded: the root lists every check ("Show all checks"), not only the problems.
        distribution / origins / verdict: for a site diagnosed through its distribution (AWS),
            the report's `distribution`, its origins' reports and its overall verdict (which
            weighs the origins' checks too); `results` then hold the distribution's own checks
            (cloudfront.edge, aws.*). None / () / None for a plain origin report.
    """

    report_id: str
    channel: str
    requested_by: str
    requested_at: float
    target: dict[str, Any]
    origin: OriginSettings
    only: tuple[str, ...]
    check_ids: tuple[str, ...]
    titles: dict[str, str]
    job_id: str | None = None
    root_ts: str | None = None
    thread_ts: str | None = None
    results: dict[str, CheckResult] = field(default_factory=dict)
    replies: dict[str, str] = field(default_factory=dict)
    notes: dict[str, Note] = field(default_factory=dict)
    phase: str = "running"
    error: str | None = None
    duration_ms: int | None = None
    addresses: tuple[str, ...] = ()
    rerun_all: Note | None = None
    watch: Watch | None = None
    response_url: str | None = None
    cloudfront: CloudFrontSite = field(default_factory=CloudFrontSite)
    team: str = ""
    requester_name: str = ""
    permalink: str | None = None
    commands: dict[str, str] = field(default_factory=dict)
    ran_at: float | None = None
    in_dm: bool = False
    duplicate_of: str | None = None
    expanded: bool = False
    distribution: dict[str, Any] | None = None
    origins: tuple[OriginReport, ...] = ()
    verdict: Verdict | None = None

    @property
    def ordered_results(self) -> list[CheckResult]:
        return [self.results[c] for c in self.check_ids if c in self.results]

    @property
    def target_host(self) -> str:
        return str(self.target.get("host", "?"))

    def to_dict(self) -> dict[str, Any]:
        return {
            "report_id": self.report_id,
            "channel": self.channel,
            "requested_by": self.requested_by,
            "requested_at": self.requested_at,
            "target": self.target,
            "origin": self.origin.to_dict(),
            "only": list(self.only),
            "check_ids": list(self.check_ids),
            "titles": self.titles,
            "job_id": self.job_id,
            "root_ts": self.root_ts,
            "thread_ts": self.thread_ts,
            "results": {k: v.to_dict() for k, v in self.results.items()},
            "replies": self.replies,
            "notes": {k: v.to_dict() for k, v in self.notes.items()},
            "phase": self.phase,
            "error": self.error,
            "duration_ms": self.duration_ms,
            "addresses": list(self.addresses),
            "rerun_all": self.rerun_all.to_dict() if self.rerun_all else None,
            "watch": self.watch.to_dict() if self.watch else None,
            "response_url": self.response_url,
            "cloudfront": self.cloudfront.to_dict(),
            "team": self.team,
            "requester_name": self.requester_name,
            "permalink": self.permalink,
            "commands": self.commands,
            "ran_at": self.ran_at,
            "in_dm": self.in_dm,
            "expanded": self.expanded,
            **(
                {
                    "distribution": self.distribution,
                    "origins": [o.to_dict() for o in self.origins],
                    "verdict": self.verdict.to_dict() if self.verdict else None,
                }
                if self.distribution is not None
                else {}
            ),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ReportState:
        rerun_all = d.get("rerun_all")
        watch = d.get("watch")
        duration = d.get("duration_ms")
        return cls(
            report_id=str(d["report_id"]),
            channel=str(d["channel"]),
            requested_by=str(d["requested_by"]),
            requested_at=float(d["requested_at"]),
            target=dict(d["target"]),
            origin=OriginSettings.from_dict(d["origin"]),
            only=tuple(d.get("only", ())),
            check_ids=tuple(d["check_ids"]),
            titles={str(k): str(v) for k, v in d.get("titles", {}).items()},
            job_id=d.get("job_id"),
            root_ts=d.get("root_ts"),
            thread_ts=d.get("thread_ts"),
            results={k: CheckResult.from_dict(v) for k, v in d.get("results", {}).items()},
            replies={str(k): str(v) for k, v in d.get("replies", {}).items()},
            notes={k: Note.from_dict(v) for k, v in d.get("notes", {}).items()},
            phase=str(d.get("phase", "running")),
            error=d.get("error"),
            duration_ms=int(duration) if duration is not None else None,
            addresses=tuple(d.get("addresses", ())),
            rerun_all=Note.from_dict(rerun_all) if rerun_all else None,
            watch=Watch.from_dict(watch) if watch else None,
            response_url=d.get("response_url"),
            cloudfront=CloudFrontSite.from_dict(d.get("cloudfront") or {}),
            team=str(d.get("team") or ""),
            requester_name=str(d.get("requester_name") or ""),
            permalink=d.get("permalink"),
            commands={str(k): str(v) for k, v in d.get("commands", {}).items()},
            ran_at=float(d["ran_at"]) if d.get("ran_at") is not None else None,
            in_dm=bool(d.get("in_dm", False)),
            expanded=bool(d.get("expanded", False)),
            distribution=dict(d["distribution"]) if d.get("distribution") is not None else None,
            origins=tuple(OriginReport.from_dict(o) for o in d.get("origins") or ()),
            verdict=Verdict.from_dict(d["verdict"]) if d.get("verdict") else None,
        )


class StateStore(Protocol):
    """Report states (expiring) plus once-only markers (event dedupe, one watch per report)."""

    async def get(self, report_id: str) -> ReportState | None: ...

    async def put(self, state: ReportState) -> None: ...

    async def claim(self, key: str, ttl: float) -> bool:
        """True for the first caller with `key` within `ttl` seconds, False for the others."""
        ...

    async def release(self, key: str) -> None: ...

    async def remember(self, key: str, value: str, ttl: float) -> str:
        """Keep `value` under `key` for `ttl` s unless a value is kept there already; returns the
        value kept (the earlier one, if any)."""
        ...

    async def add_recent(self, team: str, report_id: str) -> None:
        """Put `report_id` first in `team`'s list of recent reports (at most `RECENT`)."""
        ...

    async def recent(self, team: str) -> list[str]:
        """`team`'s recent report ids, the newest first (some may have expired since)."""
        ...

    async def close(self) -> None: ...


class MemoryStore:
    """In-process store (one bot process, no Redis). Entries expire lazily."""

    def __init__(self, ttl: float, clock: Any = time.monotonic) -> None:
        self._ttl = ttl
        self._clock = clock
        self._reports: dict[str, tuple[float, str]] = {}
        self._claims: dict[str, float] = {}
        self._values: dict[str, tuple[float, str]] = {}
        self._recent: dict[str, tuple[float, list[str]]] = {}

    def _purge(self) -> None:
        now = self._clock()
        for table in (self._reports, self._values, self._recent):
            for key in [k for k, (exp, _) in table.items() if exp <= now]:
                del table[key]
        for key in [k for k, exp in self._claims.items() if exp <= now]:
            del self._claims[key]

    async def get(self, report_id: str) -> ReportState | None:
        self._purge()
        entry = self._reports.get(report_id)
        return ReportState.from_dict(json.loads(entry[1])) if entry else None

    async def put(self, state: ReportState) -> None:
        self._purge()
        # Stored as JSON, like the Redis store, so both behave the same (no shared mutable state).
        self._reports[state.report_id] = (
            self._clock() + self._ttl,
            json.dumps(state.to_dict()),
        )

    async def claim(self, key: str, ttl: float) -> bool:
        self._purge()
        if key in self._claims:
            return False
        self._claims[key] = self._clock() + ttl
        return True

    async def release(self, key: str) -> None:
        self._claims.pop(key, None)

    async def remember(self, key: str, value: str, ttl: float) -> str:
        self._purge()
        if key not in self._values:
            self._values[key] = (self._clock() + ttl, value)
        return self._values[key][1]

    async def add_recent(self, team: str, report_id: str) -> None:
        self._purge()
        _, ids = self._recent.get(team, (0.0, []))
        ids = [report_id, *(i for i in ids if i != report_id)][:RECENT]
        self._recent[team] = (self._clock() + self._ttl, ids)

    async def recent(self, team: str) -> list[str]:
        self._purge()
        return list(self._recent.get(team, (0.0, []))[1])

    async def close(self) -> None:
        return None


class RedisStore:
    """Redis store: reports as JSON strings with EXPIRE, claims with SET NX EX."""

    PREFIX = "cf502:slack:"

    def __init__(self, url: str, ttl: float) -> None:
        import redis.asyncio as aioredis

        self._redis = aioredis.Redis.from_url(
            url, socket_timeout=5, socket_connect_timeout=5, decode_responses=True
        )
        self._ttl = max(1, round(ttl))

    async def get(self, report_id: str) -> ReportState | None:
        raw = await self._redis.get(f"{self.PREFIX}report:{report_id}")
        return ReportState.from_dict(json.loads(raw)) if raw else None

    async def put(self, state: ReportState) -> None:
        await self._redis.set(
            f"{self.PREFIX}report:{state.report_id}", json.dumps(state.to_dict()), ex=self._ttl
        )

    async def claim(self, key: str, ttl: float) -> bool:
        ok = await self._redis.set(f"{self.PREFIX}claim:{key}", "1", nx=True, ex=max(1, round(ttl)))
        return bool(ok)

    async def release(self, key: str) -> None:
        await self._redis.delete(f"{self.PREFIX}claim:{key}")

    async def remember(self, key: str, value: str, ttl: float) -> str:
        name = f"{self.PREFIX}value:{key}"
        if await self._redis.set(name, value, nx=True, ex=max(1, round(ttl))):
            return value
        kept = await self._redis.get(name)
        return str(kept) if kept is not None else value  # expired in between: ours is as good

    async def add_recent(self, team: str, report_id: str) -> None:
        name = f"{self.PREFIX}recent:{team}"
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.lrem(name, 0, report_id)
            pipe.lpush(name, report_id)
            pipe.ltrim(name, 0, RECENT - 1)
            pipe.expire(name, self._ttl)
            await pipe.execute()

    async def recent(self, team: str) -> list[str]:
        ids = await self._redis.lrange(f"{self.PREFIX}recent:{team}", 0, RECENT - 1)
        return [str(i) for i in ids]

    async def close(self) -> None:
        await self._redis.aclose()
