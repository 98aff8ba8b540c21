"""Reading the distribution's error rates of the last hour (CloudWatch, us-east-1)."""

from __future__ import annotations

from datetime import datetime, timedelta

from cf502.aws.config import Distribution
from cf502.aws.judge.error_rates import RateReading
from cf502.aws.read._metrics import metric_data
from cf502.aws.session import Account, AwsFailed, Denied, NotFound, call
from cf502.shell import sh

__all__ = ["read_rates"]


def _additional(account: Account, distribution_id: str) -> bool | None:
    try:
        answer = call(
            account.client("cloudfront"),
            "get_monitoring_subscription",
            DistributionId=distribution_id,
        )
    except NotFound:
        return False
    except (Denied, AwsFailed):
        return None
    sub = answer.get("MonitoringSubscription", {}).get("RealtimeMetricsSubscriptionConfig", {})
    return str(sub.get("RealtimeMetricsSubscriptionStatus", "")).lower() == "enabled"


def read_rates(
    account: Account, distribution: Distribution, now: datetime, minutes: int = 60
) -> RateReading:
    """Raises Denied when the metrics cannot be read."""
    dims = {"DistributionId": distribution.id, "Region": "Global"}
    additional = _additional(account, distribution.id)
    queries = [
        ("5xxErrorRate", "5xxErrorRate", dims, "Average"),
        ("Requests", "Requests", dims, "Sum"),
    ]
    if additional is not False:
        queries += [
            ("502ErrorRate", "502ErrorRate", dims, "Average"),
            ("504ErrorRate", "504ErrorRate", dims, "Average"),
            ("OriginLatency", "OriginLatency", dims, "p90"),
        ]
    series = metric_data(account.client("cloudwatch"), queries, now, minutes)
    start = (now - timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")
    command = sh(
        "aws",
        "cloudwatch",
        "get-metric-statistics",
        "--region",
        "us-east-1",
        "--namespace",
        "AWS/CloudFront",
        "--metric-name",
        "5xxErrorRate",
        "--dimensions",
        f"Name=DistributionId,Value={distribution.id}",
        "Name=Region,Value=Global",
        "--statistics",
        "Average",
        "--period",
        "60",
        "--start-time",
        start,
        "--end-time",
        now.strftime("%Y-%m-%dT%H:%M:%SZ"),
    )
    return RateReading(
        rates={
            k: series.get(k, {})
            for k in ("5xxErrorRate", "502ErrorRate", "504ErrorRate")
            if series.get(k)
        },
        requests=series.get("Requests", {}),
        origin_latency_p90=series.get("OriginLatency", {}),
        additional=additional,
        commands=(command,),
    )
