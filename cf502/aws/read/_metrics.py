"""One `GetMetricData` call for several series, as plain minute -> value maps."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from cf502.aws.session import call

__all__ = ["Series", "metric_data"]

Series = Mapping[str, Mapping[datetime, float]]


def metric_data(
    client: Any,
    queries: Sequence[tuple[str, str, Mapping[str, str], str]],
    now: datetime,
    minutes: int,
    namespace: str = "AWS/CloudFront",
) -> dict[str, dict[datetime, float]]:
    """(key, metric name, dimensions, stat) queries over the last `minutes`, one-minute periods.

    Ratios are computed by the caller from raw series: metric math is not used.
    """
    if not queries:
        return {}
    ids = {f"q{i}": key for i, (key, _, _, _) in enumerate(queries)}
    request = [
        {
            "Id": f"q{i}",
            "MetricStat": {
                "Metric": {
                    "Namespace": namespace,
                    "MetricName": name,
                    "Dimensions": [{"Name": k, "Value": v} for k, v in dims.items()],
                },
                "Period": 60,
                "Stat": stat,
            },
            "ReturnData": True,
        }
        for i, (_, name, dims, stat) in enumerate(queries)
    ]
    start = now - timedelta(minutes=minutes)
    out: dict[str, dict[datetime, float]] = {key: {} for key in ids.values()}
    token: str | None = None
    for _ in range(10):  # pages; an hour of minutes for a few series fits in one
        params: dict[str, Any] = {"MetricDataQueries": request, "StartTime": start, "EndTime": now}
        if token:
            params["NextToken"] = token
        answer = call(client, "get_metric_data", **params)
        for result in answer.get("MetricDataResults", []) or []:
            key = ids.get(str(result.get("Id")))
            if key is None:
                continue
            for t, v in zip(result.get("Timestamps", []), result.get("Values", []), strict=False):
                when = t if isinstance(t, datetime) else datetime.fromisoformat(str(t))
                out[key][when.astimezone(UTC)] = float(v)
        token = answer.get("NextToken")
        if not token:
            break
    return out
