"""The worker's job runner with the operator's AWS access: a job for a site served by a
distribution that asks for it (`cf502 check --aws --redis-url`) is diagnosed through it, and the
report survives the trip through the queue; a name AWS does not know, AWS off, a job that does not
ask and an `--origin` job are diagnosed as given."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cf502.model import Report
from cf502.pool.jobs import EventKind, Job, JobKind
from cf502.pool.runjob import run_job
from cf502.settings import OriginSettings
from cf502.settings.aws import JOB_REQUEST, AwsSettings
from cf502.target import parse_target
from tests.aws.conftest import Guard
from tests.aws.emulator import Emulator, behavior, custom_origin
from tests.servers.dns import DnsWorld, example_zones

ON = AwsSettings(enabled=True, regions=("us-east-1",))


@pytest.fixture
def world() -> Iterator[DnsWorld]:
    with DnsWorld() as w:
        w.set_zones(example_zones())
        yield w


def job(target: str, *, aws: bool = True, **origin: object) -> Job:
    return Job(
        JobKind.DIAGNOSE,
        target=parse_target(target).to_dict(),
        origin=OriginSettings(**origin).to_dict(),  # type: ignore[arg-type]
        only=("dns.resolve",),
        allow_private=True,
        requested_by={"via": "cli", **(dict([JOB_REQUEST]) if aws else {})},
    )


async def test_a_site_job_is_diagnosed_through_its_distribution(
    aws: Emulator, guard: Guard, world: DnsWorld
) -> None:
    site = "jobsite.example.test"
    d = aws.distribution(
        aliases=(site,),
        origins=[custom_origin("app", "www.example.test", https_port=8443, keepalive=11)],
        default=behavior("app"),
    )
    event = await run_job(job(site), world.engine(), aws=ON)
    assert event.kind is EventKind.DONE and event.report is not None
    report = event.report
    assert report.distribution is not None and report.distribution["id"] == d["Id"]
    (origin,) = report.origins
    assert (origin.id, origin.settings["https_port"], origin.settings["keepalive_timeout"]) == (
        "app", 8443, 11.0,
    )  # fmt: skip
    assert [c.id for c in origin.checks] == ["dns.resolve"]
    # the report comes back whole from the queue's JSON
    assert Report.from_json(report.to_json()) == report


async def test_unknown_names_aws_off_and_origin_jobs_are_diagnosed_as_given(
    aws: Emulator, guard: Guard, world: DnsWorld
) -> None:
    for event in (
        await run_job(job("www.example.test"), world.engine(), aws=ON),  # no distribution has it
        await run_job(job("www.example.test"), world.engine()),  # AWS off
        await run_job(job("jobsite.example.test", aws=False), world.engine(), aws=ON),  # not asked
        await run_job(
            job("www.example.test", cloudfront_domain="cdn.example.test"), world.engine(), aws=ON
        ),
    ):
        assert event.kind is EventKind.DONE and event.report is not None
        assert event.report.distribution is None and event.report.origins == ()
        assert "distribution" not in event.report.to_dict()


def test_a_remote_check_asks_for_aws_and_never_sends_a_role() -> None:
    from cf502.cli import build_parser
    from cf502.cli.check import job_from_args
    from cf502.options import UsageError

    def args(*extra: str) -> object:
        return build_parser().parse_args(
            ["check", "www.example.test", "--redis-url", "redis://127.0.0.1:1", *extra]
        )

    site, origin = parse_target("www.example.test"), OriginSettings()
    asked = job_from_args(args("--aws"), site, origin)  # type: ignore[arg-type]
    assert asked.requested_by[JOB_REQUEST[0]] == JOB_REQUEST[1]
    assert JOB_REQUEST[0] not in job_from_args(args(), site, origin).requested_by  # type: ignore[arg-type]
    with pytest.raises(UsageError, match=r"^--aws-role-arn is a worker setting"):
        job_from_args(args("--aws-role-arn", "arn:aws:iam::123456789012:role/x"), site, origin)  # type: ignore[arg-type]
