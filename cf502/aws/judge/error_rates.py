"""`aws.error_rates`: the distribution's 5xx error rate over the last hour from CloudWatch, and
whether the errors are ongoing, intermittent or over. Pure.

`5xxErrorRate` and `Requests` are always published (us-east-1, `Region=Global`); `502ErrorRate`,
`504ErrorRate` and `OriginLatency` only when the distribution's additional metrics are on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from cf502.aws.judge._result import make
from cf502.model import CheckResult, Status

__all__ = ["ELEVATED_RATE", "RateReading", "judge_error_rates"]

ID = "aws.error_rates"
ELEVATED_RATE = 5.0  # percent of requests in a minute: above this the minute counts as failing
_RECENT = 5  # minutes: "ongoing" when most of these are elevated
_WINDOW = 30  # minutes: "intermittent" when some of these are elevated


@dataclass(frozen=True)
class RateReading:
    """Per-minute datapoints of the last hour, keyed by the minute's start (UTC).

    Attributes:
        rates: metric name ("5xxErrorRate", "502ErrorRate", "504ErrorRate") -> minute -> percent.
        requests: minute -> requests.
        origin_latency_p90: minute -> milliseconds (additional metrics only).
        additional: whether additional metrics are on (None: could not tell).
    """

    rates: Mapping[str, Mapping[datetime, float]]
    requests: Mapping[datetime, float] = field(default_factory=dict)
    origin_latency_p90: Mapping[datetime, float] = field(default_factory=dict)
    additional: bool | None = None
    commands: tuple[str, ...] = ()


def _at(minute: datetime) -> str:
    return minute.astimezone(UTC).strftime("%H:%M UTC")


def _share(rates: Mapping[datetime, float], since: datetime) -> tuple[int, int]:
    recent = [v for t, v in rates.items() if t >= since]
    return sum(1 for v in recent if v >= ELEVATED_RATE), len(recent)


def judge_error_rates(reading: RateReading, now: datetime) -> CheckResult:
    r = reading
    five = r.rates.get("5xxErrorRate", {})
    evidence: list[tuple[str, object]] = []
    total = sum(r.requests.values())
    evidence.append(("requests (1 h)", f"{total:g}"))
    if five:
        peak_at = max(five, key=lambda t: five[t])
        evidence.append(("5xx rate peak", f"{five[peak_at]:.1f}% at {_at(peak_at)}"))
        latest_at = max(five)
        evidence.append(("5xx rate latest", f"{five[latest_at]:.1f}% at {_at(latest_at)}"))
    split: list[str] = []
    for name in ("502ErrorRate", "504ErrorRate"):
        series = r.rates.get(name, {})
        if series:
            evidence.append((f"{name[:3]} rate peak", f"{max(series.values()):.1f}%"))
            split.append(name[:3])
    if r.origin_latency_p90:
        evidence.append(("origin latency p90 peak", f"{max(r.origin_latency_p90.values()):.0f} ms"))
    evidence.append(
        (
            "additional metrics",
            {
                True: "on",
                False: "off: 502 and 504 cannot be told apart in metrics",
                None: "unknown",
            }[r.additional],
        )
    )
    if not five:
        return make(
            ID,
            Status.PASS,
            "CloudWatch has no 5xx datapoints for the last hour (no errors, or no traffic).",
            evidence=evidence,
            commands=r.commands,
        )
    minute = 60.0
    recent = _share(five, datetime.fromtimestamp(now.timestamp() - _RECENT * minute, UTC))
    window = _share(five, datetime.fromtimestamp(now.timestamp() - _WINDOW * minute, UTC))
    hour = _share(five, datetime.fromtimestamp(now.timestamp() - 60 * minute, UTC))
    status_hint = _dominant(r.rates)
    peak = max(five.values())
    if recent[1] and recent[0] * 2 > recent[1]:
        return make(
            ID,
            Status.FAIL,
            f"Ongoing: {recent[0]} of the last {recent[1]} minutes had a 5xx rate above "
            f"{ELEVATED_RATE:g}% (latest {five[max(five)]:.1f}%, peak {peak:.1f}%).",
            evidence=evidence,
            commands=r.commands,
            remediation="The errors are happening now: the failing checks above say why.",
            cloudfront_status=status_hint,
        )
    if window[0]:
        return make(
            ID,
            Status.WARN,
            f"Intermittent: {window[0]} of the last {window[1]} minutes had a 5xx rate above "
            f"{ELEVATED_RATE:g}% (peak {peak:.1f}%).",
            evidence=evidence,
            commands=r.commands,
            remediation=(
                "Intermittent errors often come from some of the origin's addresses, unhealthy "
                "targets or connections closed while CloudFront reuses them (keep-alive)."
            ),
            cloudfront_status=status_hint,
        )
    if hour[0]:
        return make(
            ID,
            Status.PASS,
            f"Over: {hour[0]} minutes of the last hour had a 5xx rate above {ELEVATED_RATE:g}% "
            f"(peak {peak:.1f}% at {_at(max(five, key=lambda t: five[t]))}), none in the last "
            f"{_WINDOW} minutes.",
            evidence=evidence,
            commands=r.commands,
        )
    return make(
        ID,
        Status.PASS,
        f"The 5xx rate stayed below {ELEVATED_RATE:g}% over the last hour (peak {peak:.1f}%).",
        evidence=evidence,
        commands=r.commands,
    )


def _dominant(rates: Mapping[str, Mapping[datetime, float]]) -> int | None:
    """502 or 504, whichever rate is higher over the hour, when additional metrics say."""
    sums = {code: sum(rates.get(f"{code}ErrorRate", {}).values()) for code in (502, 504)}
    best: Sequence[tuple[float, int]] = sorted(((v, k) for k, v in sums.items()), reverse=True)
    return best[0][1] if best and best[0][0] > 0 else None
