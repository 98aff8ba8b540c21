"""The lines that say a report's site is served by CloudFront. Pure; shared by the terminal and
Slack renderers (each escapes them its own way)."""

from __future__ import annotations

from cf502.model import Report

__all__ = ["served_lines", "site_name"]


def site_name(report: Report) -> str:
    """The viewer-facing name: the --cloudfront-domain/--origin site, else TARGET itself."""
    given = report.settings.get("cloudfront_domain")
    return str(given) if given else str(report.target.get("host", "?"))


def served_lines(report: Report) -> list[str]:
    """'www.example.com is served by CloudFront (d111abc.cloudfront.net)' and what its edge said
    of itself; empty when the report is not about a CloudFront site."""
    cf = report.cloudfront
    if not cf.detected:
        return []
    site = site_name(report)
    line = f"{site} is served by CloudFront"
    if cf.domain and cf.domain != site:
        line += f" ({cf.domain})"
    if report.settings.get("cloudfront_domain"):
        line += f"; origin diagnosed: {report.target.get('host', '?')}"
    else:
        line += "; its origin is not known: give it with --origin NAME"
    lines = [line]
    seen = [
        f"POP {cf.pop}" if cf.pop else "",
        f"request id {cf.request_id}" if cf.request_id else "",
    ]
    if any(seen):
        lines.append("CloudFront edge: " + ", ".join(s for s in seen if s))
    return lines
