"""Report state stores: round trip, expiry, and once-only claims (event dedupe, one watch)."""

from __future__ import annotations

from bot.reports import plan_replies
from bot.state import RECENT, MemoryStore, Note, RedisStore, ReportState, StateStore, Watch
from cf502.model import CheckResult, Status
from cf502.settings import OriginSettings
from tests.servers.redis import RedisServer
from tests.servers.redis import redis_server_fixture as redis_server_fixture


def sample() -> ReportState:
    s = ReportState(
        report_id="cd" * 16,
        channel="C1",
        requested_by="U1",
        requested_at=1.5,
        target={"host": "origin.example.com", "input": "origin.example.com"},
        origin=OriginSettings(),
        only=("tcp.https",),
        check_ids=("tcp.https",),
        titles={"tcp.https": "Origin HTTPS port accepts connections"},
        job_id="j1",
        root_ts="1.000001",
        thread_ts="1.000001",
    )
    s.results["tcp.https"] = CheckResult("tcp.https", "t", Status.FAIL, "refused")
    s.replies["tcp.https"] = "1.000002"
    s.notes["tcp.https"] = Note("U2", 2.0, Status.PASS, Status.FAIL)
    s.watch = Watch("U2", 3.0, 4.0, 1.0, runs=1, by_name="bob")
    s.rerun_all = Note("U3", 5.0, None, Status.FAIL, via="watch")
    s.team, s.requester_name, s.permalink = "T1", "alice", "https://x.slack.com/archives/C1/p1"
    s.commands["tcp.https"] = "1.000003"
    s.ran_at, s.in_dm = 6.0, True
    return s


async def round_trip(store: StateStore) -> None:
    s = sample()
    await store.put(s)
    back = await store.get(s.report_id)
    assert back is not None and back.to_dict() == s.to_dict()
    assert await store.get("ef" * 16) is None
    assert await store.claim("event:Ev1", 60) is True
    assert await store.claim("event:Ev1", 60) is False
    await store.release("event:Ev1")
    assert await store.claim("event:Ev1", 60) is True
    # A value is kept once: a later one gets the first back
    assert await store.remember("report-of:j1:C1:", "first", 60) == "first"
    assert await store.remember("report-of:j1:C1:", "second", 60) == "first"
    # A workspace's recent reports: the newest first, each once, at most RECENT
    for i in range(RECENT + 5):
        await store.add_recent("T1", f"r{i}")
    await store.add_recent("T1", "r10")
    recent = await store.recent("T1")
    assert recent[:2] == ["r10", f"r{RECENT + 4}"] and len(recent) == RECENT
    assert len(set(recent)) == RECENT and await store.recent("T2") == []


async def test_memory_store_round_trip_and_expiry() -> None:
    now = [0.0]
    store = MemoryStore(ttl=100, clock=lambda: now[0])
    await round_trip(store)
    # When the TTL passes, the report and the claims are gone
    now[0] = 101.0
    assert await store.get(sample().report_id) is None
    assert await store.claim("event:Ev1", 60) is True
    assert await store.recent("T1") == []
    assert await store.remember("report-of:j1:C1:", "later", 60) == "later"


async def test_redis_store_round_trip(redis_server: RedisServer) -> None:
    store = RedisStore(redis_server.url, ttl=100)
    try:
        await round_trip(store)
    finally:
        await store.close()


def test_replies_fit_the_call_budget() -> None:
    r = [CheckResult(f"c{i}", "t", Status.FAIL, "s") for i in range(5)]
    assert plan_replies([], 3) == []
    assert plan_replies(r[:2], 3) == [[r[0]], [r[1]]]
    assert plan_replies(r, 3) == [[r[0]], [r[1]], r[2:]]
    assert plan_replies(r, 0) == [r]
