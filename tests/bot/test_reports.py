"""The call budget: a complete report costs at most 6 Web API calls, however many checks fail.

The pool here is scripted (it replays given events, gated by the test) so the timing of results is
under the test's control; Slack is the real fake Web API over HTTP.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from bot.messenger import Requester
from bot.poster import Poster, make_client
from bot.reports import CALL_BUDGET
from bot.request import parse_command
from bot.services import Services
from bot.settings import Settings
from bot.state import MemoryStore
from cf502.checks import BY_ID
from cf502.model import CheckResult, Report, Status
from cf502.pool.jobs import EventKind, Job, JobEvent
from cf502.verdict import decide
from tests.servers.slack_api import BOT_TOKEN, FakeSlack, text_of
from tests.servers.slack_api import fake_slack_fixture as fake_slack_fixture


class ScriptedPool:
    """Replays `first` check events, waits for `gate`, then the rest and DONE."""

    def __init__(self, results: list[CheckResult], split: int) -> None:
        self.results = results
        self.split = split
        self.gate = asyncio.Event()
        self.jobs: list[Job] = []

    async def submit(self, job: Job) -> str:
        self.jobs.append(job)
        return job.job_id

    async def events(self, job_id: str) -> AsyncIterator[JobEvent]:
        for i, res in enumerate(self.results):
            if i == self.split:
                await self.gate.wait()
            yield JobEvent(job_id, EventKind.CHECK, check=res)
        checks = tuple(self.results)
        report = Report({"host": "origin.example.com"}, {}, checks, decide(checks), 12, "t")
        yield JobEvent(job_id, EventKind.DONE, report=report)

    async def result(self, job_id: str, timeout: float) -> JobEvent | None:
        return None

    async def close(self) -> None:
        return None


async def test_a_report_with_many_failures_stays_within_the_call_budget(
    fake_slack: FakeSlack,
) -> None:
    # Given a diagnosis where half the checks fail, arriving in two bursts
    ids = list(BY_ID)
    results = [
        CheckResult(c, BY_ID[c].title, Status.FAIL if i % 2 else Status.PASS, f"{c} result")
        for i, c in enumerate(ids)
    ]
    pool = ScriptedPool(results, split=len(ids) // 2)
    settings = Settings(bot_token=BOT_TOKEN, api_url=fake_slack.url, update_interval=0.05)
    services = Services.build(
        settings, pool, MemoryStore(3600), Poster(make_client(BOT_TOKEN, fake_slack.url))
    )
    reports = services.reports
    request = parse_command("origin.example.com")
    # When the report is posted and the first burst of results arrives
    state = await reports.submit(request, Requester("U0ALICE01", "C1"))
    reports.launch(state)
    live = await fake_slack.wait_for(
        lambda f: [
            m for m in f.messages.values() if m.updates and "checks finished" in text_of(m.blocks)
        ],
        what="a live redraw",
    )
    # Then the root was redrawn once for the whole burst (coalesced), showing progress
    assert f"{len(ids) // 2} of {len(ids)} checks finished" in text_of(live[0].blocks)
    # When the rest arrives
    pool.gate.set()
    await services.background.drain()
    # Then every failing check is detailed in the thread, within 6 calls in all
    calls = fake_slack.web_api_calls()
    assert len(calls) <= CALL_BUDGET, [c.method for c in calls]
    replies = fake_slack.thread(state.root_ts or "")
    detailed = "\n".join(text_of(m.blocks) for m in replies)
    failing = [r.id for r in results if r.status is Status.FAIL]
    assert all(f"`{cid}`" in detailed for cid in failing)
    final = fake_slack.messages[state.root_ts or ""]
    assert "*✖ FAIL*" in text_of(final.blocks)
    await services.close()
