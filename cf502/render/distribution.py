"""A report of a CloudFront site diagnosed through its distribution (read from AWS) -> text.
Pure. The distribution and the behavior first, then the overall verdict and its fix, the
distribution's checks (the request through CloudFront and the `aws.*` checks), then each origin's
settings, verdict and findings."""

from __future__ import annotations

from typing import Any

from cf502.model import CheckResult, OriginReport, Report, Status
from cf502.render.text import _check_lines, status_word
from cf502.render.wrap import clean, wrap_text

__all__ = ["distribution_text", "settings_line"]


def settings_line(settings: dict[str, Any]) -> str:
    """The configured settings an origin was probed with, in one line (header values redacted)."""
    policy = str(settings.get("protocol_policy", "https-only"))
    ports = []
    if policy != "http-only":
        ports.append(f"HTTPS {settings.get('https_port', 443)}")
    if policy != "https-only":
        ports.append(f"HTTP {settings.get('http_port', 80)}")
    parts = [
        f"{policy} ({', '.join(ports)})",
        f"connect {settings.get('connect_timeout', 10):g} s x {settings.get('connection_attempts', 3)}",
        f"response {settings.get('read_timeout', 30):g} s",
        f"keep-alive {settings.get('keepalive_timeout', 5):g} s",
        f"SSL {', '.join(settings.get('ssl_protocols', ['TLSv1.2']))}",
        f"Host {settings.get('host_header') or 'the origin name'}",
        f"path {settings.get('path', '/')}",
    ]
    if settings.get("ip_address_type"):
        parts.append(f"IP {settings['ip_address_type']}")
    headers = settings.get("custom_headers") or []
    if headers:
        parts.append(
            "custom headers " + ", ".join(f"{h['name']} (value redacted)" for h in headers)
        )
    return "; ".join(parts)


def _verdict_lines(report_verdict: Any, width: int, indent: str = "") -> list[str]:
    word = status_word(report_verdict.status, color=False).strip()
    lines = wrap_text(
        clean(report_verdict.summary), width, f"{indent}Verdict: {word}  ", indent + "  "
    )
    if report_verdict.cloudfront_status is not None:
        line = f"{indent}Predicted CloudFront response: {report_verdict.cloudfront_status}"
        if report_verdict.cloudfront_error:
            line += f" (log x-edge-detailed-result-type: {report_verdict.cloudfront_error})"
        lines += wrap_text(line, width, rest=indent + "  ")
    return lines


def _cause(report: Report) -> CheckResult | None:
    cause = report.verdict.likely_cause
    for c in (*report.checks, *(c for o in report.origins for c in o.checks)):
        if c.id == cause and c.status in (Status.FAIL, Status.ERROR):
            return c
    return None


def _origin_lines(
    o: OriginReport, n: int, total: int, *, color: bool, verbose: bool, width: int
) -> list[str]:
    head = f"Origin {n} of {total}: {o.id} ({o.domain})"
    if o.addresses:
        head += f" {', '.join(o.addresses)}"
    lines = wrap_text(clean(head), width, rest="  ")
    if o.settings:
        lines += wrap_text(clean(settings_line(o.settings)), width, "  settings: ", "    ")
    lines += _verdict_lines(o.verdict, width, "  ")
    for check in o.checks:
        lines += [
            "  " + line
            for line in _check_lines(check, color=color, verbose=verbose, width=width - 2)
        ]
    return lines


def distribution_text(
    report: Report, *, color: bool = False, verbose: bool = False, width: int = 80
) -> str:
    d = report.distribution or {}
    site = str(report.target.get("host", "?"))
    lines = [
        *wrap_text(
            clean(f"cf502: {site} (CloudFront distribution {d.get('id')}, read from AWS)"),
            width,
            rest="  ",
        ),
        "",
    ]
    aliases = ", ".join(d.get("aliases") or []) or "none"
    lines += wrap_text(
        clean(
            f"Distribution {d.get('id')} ({d.get('domain')}), {d.get('status')}; aliases: {aliases}"
        ),
        width,
        rest="  ",
    )
    lines += wrap_text(
        clean(
            f"Behavior {d.get('behavior')} for {d.get('path', '/')}, to {d.get('target_origin_id')}: "
            + ", then ".join(o.id for o in report.origins)
        ),
        width,
        rest="  ",
    )
    lines += _verdict_lines(report.verdict, width)
    cause = _cause(report)
    if cause is not None:
        lines.append(f"Likely cause: {cause.id}")
        if cause.remediation:
            lines += wrap_text(clean(cause.remediation), width, "Fix: ")
    lines += ["", "Distribution checks:"]
    for check in report.checks:
        lines += _check_lines(check, color=color, verbose=verbose, width=width)
    for n, o in enumerate(report.origins, start=1):
        lines += [
            "",
            *_origin_lines(o, n, len(report.origins), color=color, verbose=verbose, width=width),
        ]
    every = [*report.checks, *(c for o in report.origins for c in o.checks)]
    counts: dict[Status, int] = {}
    for check in every:
        counts[check.status] = counts.get(check.status, 0) + 1
    tally = ", ".join(
        f"{n} {s.value}" for s, n in sorted(counts.items(), key=lambda kv: -kv[0].rank)
    )
    lines += ["", f"{len(every)} checks ({tally}) in {report.duration_ms} ms"]
    return "\n".join(lines) + "\n"
