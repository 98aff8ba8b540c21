"""Is the target itself served by CloudFront? Pure: what was already observed in, a Site out.

People name the site in an incident (`www.example.com`), not the origin behind it. Asked as an
origin, CloudFront's edge would be judged as if it were the origin ("the origin answers 502"), the
wrong way round. Two observations a diagnosis makes anyway tell: the name's CNAME chain (known
before any connection) and the response the http.* checks fetch (CloudFront's headers, or its own
error page). Neither costs a packet more for an ordinary origin.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from cf502.checks.base import Check, result
from cf502.cloudfront_errors import cloudfront_header_signs, is_cloudfront_domain, is_error_page
from cf502.model import CheckResult, CloudFrontSite, Status

__all__ = [
    "SITE_CHECKS",
    "Site",
    "answer_site",
    "cname_site",
    "origin_unknown",
    "served_words",
    "site_facts",
]

SITE_CHECKS = ("dns.resolve", "cloudfront.edge")
"""The checks that still judge a CloudFront site when its origin is not known."""


@dataclass(frozen=True)
class Site:
    """How the target was seen to be CloudFront's.

    Attributes:
        via: "cname", "headers" or "error-page"; None when it was not.
        domain: the distribution's *.cloudfront.net name, when the CNAME chain shows it.
        signs: the observations that show it, one line each, for evidence.
    """

    via: str | None = None
    domain: str | None = None
    signs: tuple[str, ...] = ()

    @property
    def detected(self) -> bool:
        return self.via is not None


def cname_site(name: str, chain: Sequence[str]) -> Site:
    """CloudFront's when the name is, or its CNAME chain ends in, a *.cloudfront.net name."""
    names = (name, *chain)
    domain = next((n.rstrip(".").lower() for n in reversed(names) if is_cloudfront_domain(n)), None)
    if domain is None:
        return Site()
    sign = f"CNAME chain: {' -> '.join(names)}" if chain else f"{name} is a CloudFront domain"
    return Site("cname", domain, (sign,))


def answer_site(headers: Iterable[tuple[str, str]], body: bytes) -> Site:
    """CloudFront's when its response carries CloudFront's headers, or is CloudFront's own
    error page."""
    signs = cloudfront_header_signs(headers)
    if signs:
        return Site("headers", None, signs)
    if is_error_page(body):
        return Site("error-page", None, ("the body is CloudFront's own error page",))
    return Site()


def served_words(host: str, site: Site) -> str:
    """'www.example.com is served by CloudFront (d111abc.cloudfront.net)'."""
    if site.domain and site.domain != host:
        return f"{host} is served by CloudFront ({site.domain})"
    if site.via == "headers":
        return f"{host} is served by CloudFront (its answer carries CloudFront's headers)"
    if site.via == "error-page":
        return f"{host} is served by CloudFront (it answers with CloudFront's error page)"
    return f"{host} is served by CloudFront"


def origin_unknown(check: Check, host: str, site: Site) -> CheckResult:
    """The skip of an origin check when TARGET is CloudFront's edge: it would judge the edge."""
    return result(
        check,
        Status.SKIP,
        f"Not checked: {host} is CloudFront's edge, not the origin; the origin is not known: give "
        "it with `--origin NAME`.",
        evidence=[("CloudFront", sign) for sign in site.signs],
    )


def site_facts(
    site: Site, headers: Iterable[tuple[str, str]] = (), *, domain: str | None = None
) -> CloudFrontSite:
    """The report's `cloudfront` object from how the site was seen and the edge's answer headers
    (its POP and request id). `domain` is the *.cloudfront.net name known otherwise."""
    pop = request_id = None
    for name, value in headers:
        low = name.lower()
        if low == "x-amz-cf-pop" and pop is None:
            pop = value.strip()[:64] or None
        elif low == "x-amz-cf-id" and request_id is None:
            request_id = value.strip()[:128] or None
    if not site.detected:
        return CloudFrontSite()
    return CloudFrontSite(
        detected=True,
        via=site.via,
        domain=site.domain or domain,
        pop=pop,
        request_id=request_id,
    )
