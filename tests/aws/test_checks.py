"""Every `aws.*` check passes on a healthy site in the emulator and fails on each seeded fault."""

from __future__ import annotations

import pytest

from cf502.aws.judge import CHECK_IDS
from cf502.model import Status
from tests.aws.conftest import Guard
from tests.aws.emulator import Emulator
from tests.aws.scenario import SECRET, run_checks, seed


def test_a_healthy_site_passes_every_aws_check(aws: Emulator, guard: Guard) -> None:
    site = seed(aws)
    checks = run_checks(site)
    assert list(checks) == list(CHECK_IDS)
    assert {i: c.status for i, c in checks.items()} == {i: Status.PASS for i in CHECK_IDS}, {
        i: c.summary for i, c in checks.items()
    }
    assert "Regions" in " ".join(e.label for e in checks["aws.edge_functions"].evidence)
    # the read-only hook saw the reads, and nothing else
    assert {"cloudfront:ListDistributions", "elasticloadbalancing:DescribeTargetHealth",
            "ec2:DescribeSecurityGroups", "logs:FilterLogEvents", "cloudwatch:GetMetricData",
            "s3:ListBucket", "s3:GetObject"} <= set(guard.called)  # fmt: skip


@pytest.mark.parametrize(
    ("fault", "check_id", "words", "status"),
    [
        ({"function_errors": True}, "aws.edge_functions", "TypeError: Cannot read properties", 502),
        ({"validation_errors": True}, "aws.edge_functions", "invalid response", 502),
        ({"ingress": "office"}, "aws.firewall", "do not let CloudFront", 504),
        ({"ingress": "none"}, "aws.firewall", "do not let CloudFront", 504),
        ({"unhealthy": True}, "aws.load_balancer", "Target.ResponseCodeMismatch", 503),
        ({"idle_timeout": 5, "keepalive": 10}, "aws.load_balancer", "idle timeout (5 s)", 502),
        ({"internal": True}, "aws.load_balancer", "internal load balancer", 504),
        ({"listener_port": 8443}, "aws.load_balancer", "no listener on 443", 502),
        ({"error_ttl": 300}, "aws.error_caching", "up to 300 s", None),
        ({"error_rate": 40.0}, "aws.error_rates", "Ongoing", None),
        ({"logged_statuses": (200, 504, 504, 502)}, "aws.access_logs", "OriginCommError (2)", 504),
        ({"enabled": False}, "aws.distribution", "is disabled", None),
    ],
)
def test_each_seeded_fault_is_named_by_its_check(
    aws: Emulator, fault: dict[str, object], check_id: str, words: str, status: int | None
) -> None:
    # Given a site with one fault
    site = seed(aws, **fault)  # type: ignore[arg-type]
    # When the aws checks run
    checks = run_checks(site)
    # Then that check fails, naming the fault, with a fix and the aws command lines
    found = checks[check_id]
    assert found.status is Status.FAIL, found.summary
    assert words in found.summary + " ".join(e.value for e in found.evidence)
    assert found.remediation
    assert found.commands and all(c.startswith("aws ") for c in found.commands)
    assert found.cloudfront_status == status
    # and the checks of the other faults still pass
    others = {i: c for i, c in checks.items() if i != check_id and c.status is not Status.PASS}
    allowed = {"aws.firewall", "aws.load_balancer"} if check_id == "aws.load_balancer" else set()
    assert set(others) <= allowed | ({"aws.error_rates"} if "error_rate" in fault else set()), {
        i: c.summary for i, c in others.items()
    }


def test_a_warning_for_a_long_but_not_very_long_error_cache(aws: Emulator) -> None:
    checks = run_checks(seed(aws, error_ttl=30))
    assert checks["aws.error_caching"].status is Status.WARN
    assert any("create-invalidation" in c for c in checks["aws.error_caching"].commands)


def test_intermittent_errors_are_a_warning(aws: Emulator) -> None:
    site = seed(aws)
    from datetime import UTC, datetime, timedelta

    now = datetime.now(UTC)
    aws.metric(
        site.distribution["Id"],
        "5xxErrorRate",
        [(now - timedelta(minutes=m), v) for m, v in ((2, 0.0), (3, 0.0), (4, 0.0), (12, 30.0))],
    )
    checks = run_checks(site)
    assert checks["aws.error_rates"].status is Status.WARN
    assert checks["aws.error_rates"].summary.startswith("Intermittent")


def test_custom_header_values_never_appear_in_any_result(aws: Emulator) -> None:
    checks = run_checks(seed(aws, unhealthy=True, function_errors=True))
    text = repr([c.to_dict() for c in checks.values()])
    assert SECRET not in text
