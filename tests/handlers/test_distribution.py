"""/cf502 SITE when the operator turned AWS on: the job asks for AWS (as `cf502 check --aws
--redis-url` does) and a distribution's report renders in Slack, through the real app and the
fake Web API. The pool's run_job stands in for the AWS diagnosis here: the AWS path itself runs
against the emulator in tests/aws."""

from __future__ import annotations

from typing import Any

from bot.budget import MAX_JSON, size, violations
from cf502.model import Report
from cf502.pool.jobs import EventKind, Job, JobEvent
from cf502.pool.limits import Limits
from cf502.pool.local import LocalPool
from cf502.settings import AwsSettings, EngineSettings
from cf502.settings.aws import JOB_REQUEST
from tests.bot.test_distribution_card import distribution_report, two_origins
from tests.handlers.harness import CHANNEL, harness
from tests.servers.dns import DnsWorld
from tests.servers.dns import dns_world_fixture as dns_world_fixture
from tests.servers.slack_api import FakeSlack, text_of
from tests.servers.slack_api import fake_slack_fixture as fake_slack_fixture


class ThroughAws:
    """A run_job that answers a job asking for AWS (with the operator's AWS on) with a
    distribution's report, and records what it was given."""

    def __init__(self) -> None:
        self.given: list[tuple[Job, AwsSettings | None]] = []

    async def __call__(
        self,
        job: Job,
        engine: EngineSettings,
        *,
        publish: Any = None,
        deadline: float | None = None,
        aws: AwsSettings | None = None,
    ) -> JobEvent:
        self.given.append((job, aws))
        asked = job.requested_by.get(JOB_REQUEST[0]) == JOB_REQUEST[1]
        if aws is None or not aws.enabled or not asked:
            return JobEvent(job.job_id, EventKind.FAILED, error="AWS was not asked")
        report: Report = distribution_report(two_origins())
        return JobEvent(job.job_id, EventKind.DONE, report=report)


def pool(run_job: ThroughAws, aws: AwsSettings) -> LocalPool:
    return LocalPool(
        EngineSettings(),
        run_job=run_job,
        aws=aws,
        limits=Limits(per_user=0, per_channel=0, coalesce=0),
    )


async def test_a_site_is_diagnosed_through_its_distribution_when_the_operator_allows(
    fake_slack: FakeSlack, dns_world: DnsWorld
) -> None:
    aws = AwsSettings(enabled=True)
    run_job = ThroughAws()
    async with harness(fake_slack, dns_world, inner=pool(run_job, aws), aws=aws) as h:
        await h.command("www.example.com")
        roots = await h.slack.wait_for(lambda f: f.roots(CHANNEL), what="root")
        await h.bot.services.background.drain()
        # The job asked for AWS, and the pool passed on the operator's settings (nothing else)
        job, given = run_job.given[0]
        assert job.requested_by[JOB_REQUEST[0]] == JOB_REQUEST[1] and given == aws
        root = h.slack.messages[roots[0].ts]
        card = text_of(root.blocks)
        assert root.text.startswith("cf502: ✖ FAIL www.example.com: Origin api-primary:")
        assert "Distribution `E2QWRUHEXAMPLE` (`d111111abcdef8.cloudfront.net`)" in card
        assert "behavior `/api/*` for `/api/users` → `api-group`" in card
        assert "✖ FAIL · origin 1 of 2 `api-primary`" in card
        assert "_(details in the thread)_" in card
        assert "✔ pass · origin 2 of 2 `api-secondary`" in card
        # The failing origin's checks are detailed in a thread reply, the edge's in another
        thread = h.slack.thread(roots[0].ts)
        texts = [text_of(m.blocks) for m in thread]
        origin_reply = next(t for t in texts if "origin 1 of 2 `api-primary`" in t)
        assert "Every address refuses port 8443." in origin_reply and "*Fix:*" in origin_reply
        assert any("cloudfront.edge" in t for t in texts)
        assert not any("api-secondary" in t and "*Evidence*" in t for t in texts)
        # And every message is within Slack's limits
        for call in fake_slack.calls:
            if call.method in ("chat.postMessage", "chat.update"):
                blocks = call.args.get("blocks") or []
                assert violations(blocks, text=str(call.args.get("text", ""))) == []
                assert size(blocks) <= MAX_JSON


async def test_without_the_operators_aws_the_job_does_not_ask(
    fake_slack: FakeSlack, dns_world: DnsWorld
) -> None:
    run_job = ThroughAws()
    async with harness(fake_slack, dns_world, inner=pool(run_job, AwsSettings())) as h:
        await h.command("www.example.com")
        await h.slack.wait_for(lambda f: f.roots(CHANNEL), what="root")
        await h.bot.services.background.drain()
        job, given = run_job.given[0]
        assert JOB_REQUEST[0] not in job.requested_by and given is None
