"""The pure parts: CloudFront's path patterns, the Host decision, what an origin is and whether it
is probed, the AWS settings, and the custom headers' redaction."""

from __future__ import annotations

import time

import pytest

from cf502.aws.config import Behavior, OriginConfig
from cf502.aws.find import is_distribution_id, path_matches
from cf502.aws.host import PolicyHeaders, decide_host
from cf502.aws.judge.firewall import Firewall, Rule, judge_firewall
from cf502.aws.origins import OriginKind, elb_region, origin_kind, plan_origin
from cf502.aws.run import resolve
from cf502.errors import ConfigError
from cf502.model import Status
from cf502.settings.aws import AwsSettings
from cf502.settings.origin import REDACTED, CustomHeader, OriginSettings
from tests.aws.emulator import Emulator, behavior


@pytest.mark.parametrize(
    ("pattern", "path", "matches"),
    [
        ("/images/*", "/images/a/b.png", True),
        ("images/*", "/images/a.png", True),  # the leading / is optional
        ("/images/*", "/Images/a.png", False),  # case-sensitive
        ("*.jpg", "/a/b/c.jpg", True),
        ("/a?c", "/abc", True),
        ("/a?c", "/ac", False),
        ("/api/*", "/api/x?y=1", True),  # the query string takes no part
        ("/exact", "/exact/more", False),
        ("/[ab]", "/a", False),  # brackets are literal, unlike fnmatch
        ("/[ab]", "/[ab]", True),
    ],
)
def test_path_patterns_match_as_cloudfront_matches_them(
    pattern: str, path: str, matches: bool
) -> None:
    assert path_matches(pattern, path) is matches


def test_a_hostile_pattern_costs_bounded_time() -> None:
    start = time.monotonic()
    assert not path_matches("*a" * 100 + "b", "/" + "a" * 8000)
    assert time.monotonic() - start < 2.0


def test_distribution_ids() -> None:
    assert is_distribution_id("EDFDVBD6EXAMPLE")
    assert not is_distribution_id("edfdvbd6example")
    assert not is_distribution_id("E12")
    assert not is_distribution_id("www.example.com")


def test_a_custom_policy_read_from_aws_decides_before_the_table() -> None:
    b = Behavior(None, "o", origin_request_policy_id="custom-1", cache_policy_id="custom-2")
    assert decide_host(b, PolicyHeaders("mine", "whitelist", ("host",)), None).forwarded is True
    assert (
        decide_host(
            b, PolicyHeaders("mine", "allExcept", ("Host",)), PolicyHeaders("c", "none")
        ).forwarded
        is False
    )
    assert decide_host(b, None, None).forwarded is None


def test_origin_kinds_and_load_balancer_regions() -> None:
    def kind(domain: str, **kw: object) -> str:
        return origin_kind(OriginConfig("o", domain, **kw))  # type: ignore[arg-type]

    assert kind("my-alb-1234.eu-west-1.elb.amazonaws.com") == OriginKind.ELB
    assert kind("nlb-0123456789abcdef.elb.us-east-2.amazonaws.com") == OriginKind.ELB
    assert kind("bucket.s3.us-east-1.amazonaws.com", kind="s3") == OriginKind.S3
    assert kind("bucket.s3-website-us-east-1.amazonaws.com") == OriginKind.S3_WEBSITE
    assert kind("abc.execute-api.eu-west-1.amazonaws.com") == OriginKind.API_GATEWAY
    assert kind("origin.example.com") == OriginKind.CUSTOM
    assert elb_region("dualstack.my-alb-1.eu-west-1.elb.amazonaws.com") == "eu-west-1"
    assert elb_region("nlb-0123456789abcdef.elb.us-east-2.amazonaws.com") == "us-east-2"
    assert elb_region("origin.example.com") is None


def test_unreachable_origins_are_not_probed_and_values_beyond_the_range_are_clamped() -> None:
    host = decide_host(Behavior(None, "o"), None, None)
    internal = plan_origin(
        OriginConfig("i", "internal-app-1.eu-west-1.elb.amazonaws.com"),
        path="/",
        viewer_host="s",
        host=host,
    )
    assert internal.unreachable and "internal load balancer" in internal.unreachable
    slow = plan_origin(
        OriginConfig("s", "o.example.com", read_timeout=240), path="/", viewer_host="s", host=host
    )
    assert slow.settings is not None and slow.settings.read_timeout == 180
    assert any("240 s probed as 180 s" in n for n in slow.notes)


def test_s3_with_origin_access_control_and_vpc_origins_in_a_group(aws: Emulator) -> None:
    # Given a group of an S3 origin with origin access control and a VPC origin
    site = "static.oac.example.test"
    aws.distribution(
        aliases=(site,),
        origins=[
            {"Id": "bucket", "DomainName": "assets.s3.us-east-1.amazonaws.com",
             "S3OriginConfig": {"OriginAccessIdentity": ""}, "OriginAccessControlId": "E2QWRUHEXAMPLE"},
            {"Id": "private", "DomainName": "ip-10-0-0-1.ec2.internal",
             "VpcOriginConfig": {"VpcOriginId": "vo_0123456789abcdef", "OriginReadTimeout": 30}},
        ],
        groups=[{"Id": "g", "FailoverCriteria": {"StatusCodes": {"Quantity": 1, "Items": [503]}},
                 "Members": {"Quantity": 2, "Items": [{"OriginId": "bucket"}, {"OriginId": "private"}]}}],
        default=behavior("bucket"),
        behaviors=[behavior("g", "/static/*")],  # moto checks only the default's target
    )  # fmt: skip
    s3, vpc = resolve(site, "/static/logo.png", AwsSettings(enabled=True)).found.origins
    # Then the bucket is probed over HTTPS with the 403 expected, and the VPC origin is not probed
    assert s3.kind == OriginKind.S3 and s3.unreachable is None
    assert s3.settings is not None and s3.settings.protocol_policy.value == "https-only"
    assert any("403 is expected" in n for n in s3.notes)
    assert vpc.kind == OriginKind.VPC and vpc.unreachable and "VPC" in vpc.unreachable


def test_custom_header_values_are_redacted_unless_revealed() -> None:
    s = OriginSettings(custom_headers=(CustomHeader("X-Origin-Verify", "hunter2"),))
    assert "hunter2" not in repr(s) and "hunter2" not in str(s.to_dict())
    assert s.to_dict()["custom_headers"] == [{"name": "X-Origin-Verify", "value": REDACTED}]
    assert OriginSettings.from_dict(s.to_dict(reveal=True)) == s
    assert (
        "custom_headers" not in OriginSettings().to_dict()
    )  # a report without them reads as before


def test_aws_settings_come_from_the_operator_environment() -> None:
    s = AwsSettings.from_environ({"CF502_AWS": "on", "CF502_AWS_REGIONS": "eu-west-1,us-east-1"})
    assert (s.enabled, s.regions, s.role_arns) == (True, ("eu-west-1", "us-east-1"), ())
    with pytest.raises(ConfigError, match="CF502_AWS_ROLE_ARN must be IAM role ARNs"):
        AwsSettings.from_environ({"CF502_AWS_ROLE_ARN": "admin"})
    with pytest.raises(ConfigError, match="CF502_AWS_REGIONS"):
        AwsSettings.from_environ({"CF502_AWS_REGIONS": "mars-1; rm -rf"})


def test_cidrs_that_cover_every_prefix_list_range_let_cloudfront_in() -> None:
    def fw(cidrs: tuple[str, ...]) -> Firewall:
        return Firewall("lb", ("sg-1",), (Rule("sg-1", "tcp", 443, 443, cidrs),), (443,), ("IPv4",),
                        {"IPv4": ("pl-1", ("13.32.0.0/15", "52.84.0.0/15"))})  # fmt: skip

    assert judge_firewall(fw(("13.32.0.0/14", "52.84.0.0/15"))).status is Status.PASS
    assert judge_firewall(fw(("13.32.0.0/15",))).status is Status.FAIL


def test_the_ip_address_type_picks_the_addresses_cloudfront_connects_to() -> None:
    from cf502.safety import of_family as _of_family

    both = ("192.0.2.1", "2001:db8::1")
    assert _of_family(both, "ipv4") == ("192.0.2.1",)
    assert _of_family(both, "ipv6") == ("2001:db8::1",)
    assert _of_family(both, "dualstack") == both
    assert _of_family(both, None) == both
    assert _of_family(("192.0.2.1",), "ipv6") == ("192.0.2.1",)  # none left: all of them


def test_the_overall_verdict_explains_the_origins_timeouts_by_the_security_group() -> None:
    from cf502.aws.diagnose import overall_verdict
    from cf502.model import CheckResult, OriginReport, Verdict

    def check(check_id: str, status: Status, summary: str) -> CheckResult:
        return CheckResult(check_id, check_id, status, summary, cloudfront_status=504)

    timeout = check("tcp.https", Status.FAIL, "Port 443 does not answer within 10 s.")
    closed = check("aws.firewall", Status.FAIL, "The security groups do not let CloudFront in.")
    ongoing = check("aws.error_rates", Status.FAIL, "Ongoing: 5 of the last 5 minutes.")
    origins = [
        OriginReport(
            name, f"{name}.example.test", {}, (timeout,), Verdict(Status.FAIL, "tcp.https", "")
        )
        for name in ("primary", "secondary")
    ]
    # A closed security group is the cause of the timeouts, and the error rate only their symptom
    assert overall_verdict((ongoing, closed), origins).likely_cause == "aws.firewall"
    # Without it, the origin's own failure is named with its origin
    verdict = overall_verdict((ongoing,), origins)
    assert verdict.likely_cause == "tcp.https" and verdict.summary.startswith("Origin primary: ")
