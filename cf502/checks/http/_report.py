"""Shared by the HTTP and edge checks: per-exchange findings merged into one result, evidence and
the equivalent curl commands. Pure: no I/O."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from cf502.checks.base import Check, address_affects, result
from cf502.checks.http._exchange import Exchange
from cf502.model import CheckResult, Status
from cf502.shell import hostport, sh

__all__ = [
    "ExchangeFinding",
    "cap",
    "combine",
    "direct_curl",
    "exchange_evidence",
    "ms",
    "not_reached",
    "status_line",
]

_CURL_TIMINGS = (
    "connect=%{time_connect}s tls=%{time_appconnect}s ttfb=%{time_starttransfer}s "
    "total=%{time_total}s header_bytes=%{size_header} status=%{http_code}\\n"
)


@dataclass(frozen=True)
class ExchangeFinding:
    """One check's judgement of one exchange, before the exchanges are merged."""

    status: Status
    summary: str
    remediation: str = ""
    cloudfront_status: int | None = None
    cloudfront_error: str | None = None


def ms(value: float | None) -> str:
    """Milliseconds for humans: `0.4 ms`, `12 ms`, `1.25 s`."""
    if value is None:
        return "n/a"
    if value < 10:
        return f"{value:.1f} ms"
    return f"{value:.0f} ms" if value < 1000 else f"{value / 1000:.2f} s"


def cap(text: str) -> str:
    """`text` with its first letter capitalised, to start a sentence."""
    return text[:1].upper() + text[1:]


def status_line(ex: Exchange) -> str:
    r = ex.response
    if r.status is None:
        return "none"
    return f"HTTP/{r.http_version} {r.status} {r.reason}".rstrip()


def not_reached(ex: Exchange) -> ExchangeFinding | None:
    """A SKIP finding when the request never got to be sent (the tcp/tls checks explain why)."""
    if ex.connect.status != "open":
        why = ex.connect.detail or ex.connect.status
        return ExchangeFinding(
            Status.SKIP,
            f"Not checked: the connection to {ex.label} failed ({why}); see tcp.{ex.scheme}.",
        )
    if ex.tls_error is not None:
        return ExchangeFinding(Status.SKIP, f"Not checked: {ex.tls_error}; see tls.handshake.")
    return None


def exchange_evidence(ex: Exchange, prefix: str = "") -> list[tuple[str, object]]:
    """The facts of one exchange that every HTTP check shows."""
    ev: list[tuple[str, object]] = [
        (f"{prefix}request", f"{ex.method} {ex.target} to {ex.label}, Host: {ex.host}"),
    ]
    if ex.request_id:
        ev.append((f"{prefix}X-Amz-Cf-Id sent", ex.request_id))
    if ex.response.status is not None:
        ev.append((f"{prefix}status line", status_line(ex)))
    return ev


def combine(
    check: Check,
    pairs: Sequence[tuple[Exchange, ExchangeFinding]],
    *,
    evidence: Sequence[tuple[str, object]],
    commands: Sequence[str],
) -> CheckResult:
    """One result from the findings of every (protocol, address) exchange: the worst status wins;
    when the exchanges disagree the summary names each one that is not fine."""
    if not pairs:
        return result(
            check,
            Status.ERROR,
            "No vetted address to send the request to.",
            evidence=evidence,
            commands=commands,
        )
    worst = max((f.status for _, f in pairs), key=lambda s: s.rank)
    first = next(f for _, f in pairs if f.status is worst)
    summaries = {f.summary for _, f in pairs}
    if len(pairs) == 1 or len(summaries) == 1:
        summary = first.summary
        if len(pairs) > 1:
            summary += f" (all {len(pairs)} requests)"
    else:
        # Worst first; when something is wrong, only what is wrong.
        order = sorted(pairs, key=lambda p: -p[1].status.rank)
        if worst.rank >= Status.WARN.rank:
            order = [p for p in order if p[1].status.rank >= Status.WARN.rank]
        summary = " ".join(f"{ex.label}: {f.summary}" for ex, f in order)
    addresses = {ex.address for ex, _ in pairs}
    failing = {ex.address for ex, f in pairs if f.status is Status.FAIL}
    return result(
        check,
        worst,
        summary,
        evidence=evidence,
        remediation=first.remediation,
        commands=commands,
        cloudfront_status=first.cloudfront_status,
        cloudfront_error=first.cloudfront_error,
        affects=address_affects(len(failing), len(addresses)),
    )


def direct_curl(ex: Exchange) -> str:
    """The same request with curl: to the same address, with CloudFront's Host, SNI and headers."""
    name = (ex.sni or ex.host) if ex.scheme == "https" else ex.host
    default = 443 if ex.scheme == "https" else 80
    netloc = name if ex.port == default else f"{name}:{ex.port}"
    argv: list[str | int | float] = ["curl", "-sv", "-o", "/dev/null", "--http1.1"]
    if ex.scheme == "https":
        argv += ["-k", "--tls-max", "1.2"]
    if ex.method == "HEAD":
        argv.append("-I")
    elif ex.method != "GET":
        argv += ["-X", ex.method]
    argv += [
        "--connect-to",
        f"{name}:{ex.port}:{hostport(ex.address, ex.port)}",
        "-H",
        f"Host: {ex.host}",
        "-H",
        "User-Agent: Amazon CloudFront",
    ]
    argv += [
        "--connect-timeout",
        f"{ex.timeouts.connect:g}",
        "--max-time",
        f"{ex.timeouts.budget:g}",
        "-w",
        _CURL_TIMINGS,
        f"{ex.scheme}://{netloc}{ex.target}",
    ]
    return sh(*argv)
