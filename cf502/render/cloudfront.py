"""The lines that say a report's site is served by CloudFront. Pure; shared by the terminal and
Slack renderers (each escapes them its own way)."""

from __future__ import annotations

from cf502.model import CloudFrontSite, Report

__all__ = ["served_lines", "site_lines", "site_name"]


def site_name(report: Report) -> str:
    """The viewer-facing name: the --cloudfront-domain/--origin site, else TARGET itself."""
    given = report.settings.get("cloudfront_domain")
    return str(given) if given else str(report.target.get("host", "?"))


def site_lines(cf: CloudFrontSite, site: str, origin: str | None) -> list[str]:
    """'www.example.com is served by CloudFront (d111abc.cloudfront.net)', whether its origin is
    known (`origin`: the name diagnosed as its origin), and what its edge said of itself; empty
    when `cf` was not detected."""
    if not cf.detected:
        return []
    line = f"{site} is served by CloudFront"
    if cf.domain and cf.domain != site:
        line += f" ({cf.domain})"
    if origin:
        line += f"; origin diagnosed: {origin}"
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


def served_lines(report: Report) -> list[str]:
    """`site_lines` of a report."""
    given = report.settings.get("cloudfront_domain")
    origin = str(report.target.get("host", "?")) if given else None
    return site_lines(report.cloudfront, site_name(report), origin)
