"""One CloudFront site seeded in the emulator, healthy by default, with any of the faults the
`aws.*` checks name switched on."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cf502.aws.run import aws_checks, resolve
from cf502.model import CheckResult
from cf502.settings.aws import AwsSettings
from tests.aws.emulator import Emulator, behavior, custom_origin

_n = itertools.count()
REGIONS = ("us-east-1", "eu-west-1", "ap-northeast-1")
SETTINGS = AwsSettings(enabled=True, regions=REGIONS, timeout=20)
SECRET = "s3cr3t-origin-verify-7f1d"


@dataclass(frozen=True)
class Site:
    name: str
    distribution: dict[str, Any]
    balancer: dict[str, Any] | None


def seed(
    aws: Emulator,
    *,
    function_errors: bool = False,
    validation_errors: bool = False,
    ingress: str = "prefix-list",
    unhealthy: bool = False,
    idle_timeout: int | None = 60,
    keepalive: int = 5,
    internal: bool = False,
    listener_port: int = 443,
    error_ttl: int | None = None,
    error_rate: float | None = None,
    logged_statuses: tuple[int, ...] = (200, 200),
    enabled: bool = True,
) -> Site:
    """A site whose default behavior runs an origin-request Lambda@Edge function and sends to an
    ALB origin; logs, metrics and the load balancer are seeded to match."""
    i = next(_n)
    name = f"www{i}.shop.test"
    function = f"edge-rewrite-{i}"  # log groups and metrics outlive a test in the shared emulator
    lb = aws.load_balancer(
        f"lb{i}",
        ports=(listener_port,),
        scheme="internal" if internal else "internet-facing",
        idle_timeout=idle_timeout,
        ingress=ingress,
        targets={
            f"10.20.0.{i % 250 + 1}": ("unhealthy", "Target.ResponseCodeMismatch", "Health checks failed with these codes: [500]") if unhealthy else None,
            f"10.20.1.{i % 250 + 1}": ("unhealthy", "Target.Timeout", "Request timed out") if unhealthy else None,
        },
    )  # fmt: skip
    errors = []
    if error_ttl is not None:
        errors = [{"ErrorCode": code, "ErrorCachingMinTTL": error_ttl} for code in (502, 504)]
    bucket = f"logs-{i}"
    d = aws.distribution(
        aliases=(name,),
        origins=[
            custom_origin(
                "alb", lb["DNSName"], keepalive=keepalive, headers={"X-Origin-Verify": SECRET}
            )
        ],
        default=behavior(
            "alb",
            lambdas=(
                (f"arn:aws:lambda:us-east-1:123456789012:function:{function}:3", "origin-request"),
            ),
        ),
        errors=errors,
        logging_bucket=bucket,
        enabled=enabled,
    )
    aws.client("cloudfront").get_distribution(Id=d["Id"])  # moto: InProgress -> Deployed
    now = datetime.now(UTC)
    if function_errors:
        aws.log("eu-west-1", f"/aws/lambda/us-east-1.{function}", [
            "START RequestId: 1 Version: 3",
            "2026-12-04T10:00:00.000Z\t1\tERROR\tInvoke Error \tTypeError: Cannot read properties of undefined (reading 'uri')",
            "END RequestId: 1",
        ], now - timedelta(minutes=3))  # fmt: skip
        aws.metric(
            d["Id"], "LambdaExecutionError", [(now - timedelta(minutes=m), 7.0) for m in (2, 3)]
        )
    else:
        aws.log(
            "eu-west-1",
            f"/aws/lambda/us-east-1.{function}",
            ["START RequestId: 2", "END RequestId: 2"],
            now - timedelta(minutes=3),
        )
        aws.metric(d["Id"], "LambdaExecutionError", [(now - timedelta(minutes=2), 0.0)])
    if validation_errors:
        aws.log("ap-northeast-1", f"/aws/cloudfront/LambdaEdge/{d['Id']}", [
            '{"requestId": "abc==", "distributionId": "' + d["Id"] + '", "message": "The Lambda function returned an invalid response: header Host is read-only"}'
        ], now - timedelta(minutes=4))  # fmt: skip
    if error_rate is not None:
        aws.metric(
            d["Id"], "5xxErrorRate", [(now - timedelta(minutes=m), error_rate) for m in range(1, 6)]
        )
        aws.metric(d["Id"], "Requests", [(now - timedelta(minutes=m), 1000.0) for m in range(1, 6)])
    hour = now.strftime("%Y-%m-%d-%H")
    fields = "date time x-edge-location sc-bytes c-ip cs-method cs(Host) cs-uri-stem sc-status cs(Referer) cs(User-Agent) cs-uri-query cs(Cookie) x-edge-result-type x-edge-request-id x-host-header cs-protocol cs-bytes time-taken x-forwarded-for ssl-protocol ssl-cipher x-edge-response-result-type cs-protocol-version fle-status fle-encrypted-fields c-port time-to-first-byte x-edge-detailed-result-type sc-content-type sc-content-len sc-range-start sc-range-end"
    lines = ["#Version: 1.0", f"#Fields: {fields}"]
    for k, status in enumerate(logged_statuses):
        result = "Error" if status >= 500 else "Miss"
        detailed = (
            "OriginCommError"
            if status == 504
            else "OriginConnectError"
            if status == 502
            else "Miss"
        )
        lines.append("\t".join([
            now.strftime("%Y-%m-%d"), now.strftime("%H:%M:%S"), "FRA56-P1", "500", "192.0.2.1", "GET",
            d["DomainName"], "/", str(status), "-", "curl", "-", "-", result, f"req{k}id==", name, "https",
            "100", "0.5", "-", "TLSv1.3", "TLS_AES_128_GCM_SHA256", result, "HTTP/2.0", "-", "-", "443",
            "0.5", detailed, "text/html", "100", "-", "-",
        ]))  # fmt: skip
    aws.access_log(bucket, f"cf/{d['Id']}.{hour}.abc123.gz", lines)
    return Site(name, d, lb)


def run_checks(site: Site, settings: AwsSettings = SETTINGS) -> dict[str, CheckResult]:
    res = resolve(site.name, "/", settings)
    return {c.id: c for c in aws_checks(res, settings)}
