"""Read-only by construction: the shipped policy lists only read actions, the tests' hook refuses
anything else for a whole run, and a refusal by AWS is "cannot see" (a skip), never an error."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from moto import settings as moto_settings

from cf502.aws.session import accounts_for, call
from cf502.model import Status
from cf502.settings.aws import AwsSettings
from tests.aws.conftest import POLICY, Guard
from tests.aws.emulator import Emulator
from tests.aws.scenario import REGIONS, run_checks, seed

READ_VERBS = ("Get", "List", "Describe", "FilterLogEvents", "StartQuery", "StopQuery")


def test_the_shipped_policy_allows_only_reads() -> None:
    policy = json.loads(POLICY.read_text())
    actions = [a for s in policy["Statement"] for a in s["Action"]]
    assert all(s["Effect"] == "Allow" for s in policy["Statement"])
    assert actions and all("*" not in a for a in actions)
    assert [a for a in actions if not a.split(":", 1)[1].startswith(READ_VERBS)] == []


def test_the_hook_refuses_an_operation_outside_the_policy(aws: Emulator, guard: Guard) -> None:
    # Given a distribution and cf502's own client for CloudFront
    d = aws.distribution(
        origins=[{"Id": "o", "DomainName": "o.example.test", "CustomOriginConfig": {"HTTPPort": 80, "HTTPSPort": 443, "OriginProtocolPolicy": "https-only"}}],
        default={"TargetOriginId": "o", "ViewerProtocolPolicy": "allow-all"},
    )  # fmt: skip
    client = next(accounts_for(AwsSettings(enabled=True)).each()).client("cloudfront")
    # When a write is attempted through it, Then the hook stops it before it is sent
    with pytest.raises(PermissionError, match="CreateInvalidation is not in"):
        call(client, "create_invalidation", DistributionId=d["Id"], InvalidationBatch={
            "Paths": {"Quantity": 1, "Items": ["/*"]}, "CallerReference": "x"})  # fmt: skip
    assert guard.refused == ["cloudfront:CreateInvalidation"]
    assert (
        aws.client("cloudfront")
        .list_invalidations(DistributionId=d["Id"])["InvalidationList"]
        .get("Quantity", 0)
        == 0
    )
    guard.refused.clear()  # seen and expected


@contextmanager
def restricted(aws: Emulator, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The emulator enforcing IAM (except on CloudFront, which it cannot check), with cf502's
    credentials those of a user allowed to read CloudFront's distributions only."""
    iam = aws.client("iam")
    user = f"cf502-limited-{id(aws)}"
    iam.create_user(UserName=user)
    iam.put_user_policy(
        UserName=user,
        PolicyName="cloudfront-only",
        PolicyDocument=json.dumps({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Resource": "*", "Action": [
                "cloudfront:ListDistributions", "cloudfront:GetDistribution"]}],
        }),
    )  # fmt: skip
    key = iam.create_access_key(UserName=user)["AccessKey"]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"])
    previous = moto_settings.INITIAL_NO_AUTH_ACTION_COUNT
    moto_settings.INITIAL_NO_AUTH_ACTION_COUNT = 0
    try:
        yield
    finally:
        moto_settings.INITIAL_NO_AUTH_ACTION_COUNT = previous


def test_missing_permissions_are_cannot_see_skips(
    aws: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a site, and cf502 allowed to read only CloudFront's configuration
    site = seed(aws, unhealthy=True)
    # When the aws checks run
    with restricted(aws, monkeypatch):
        checks = run_checks(site, AwsSettings(enabled=True, regions=REGIONS, timeout=20))
    # Then what it may read is judged, and what it may not is a skip naming the permission
    assert checks["aws.distribution"].status is Status.PASS
    assert checks["aws.error_caching"].status is Status.PASS
    for check_id, action in [
        ("aws.load_balancer", "elasticloadbalancing:DescribeLoadBalancers"),
        ("aws.firewall", "elasticloadbalancing:DescribeLoadBalancers"),
        ("aws.access_logs", "s3:ListBucket"),
        ("aws.error_rates", "cloudwatch:GetMetricData"),
        ("aws.edge_functions", "cloudwatch:GetMetricData"),
    ]:
        c = checks[check_id]
        assert (c.status, c.summary.startswith("Cannot see")) == (Status.SKIP, True), c.summary
        assert action in c.summary
        assert "aws-readonly-policy.json" in c.remediation
    assert "logs:FilterLogEvents" in checks["aws.edge_functions"].summary
    assert not [c for c in checks.values() if c.status is Status.ERROR]
