"""`http.redirect`: the origin's redirect (not followed, as CloudFront does) is no loop."""

from __future__ import annotations

from urllib.parse import urljoin, urlsplit

from cf502.checks.http._check import HttpCheck
from cf502.checks.http._exchange import Exchange
from cf502.checks.http._report import ExchangeFinding, exchange_evidence, not_reached
from cf502.model import Status
from cf502.settings import OriginSettings, ProtocolPolicy

__all__ = ["Redirect", "judge_redirect"]


class Redirect(HttpCheck):
    """`http.redirect`: the origin's redirect (not followed, as CloudFront does) is no loop."""

    id = "http.redirect"
    title = "Redirects"

    def judge(self, ex: Exchange, origin: OriginSettings, hosts: frozenset[str]) -> ExchangeFinding:
        return judge_redirect(ex, origin, hosts)

    def evidence(self, ex: Exchange, prefix: str) -> list[tuple[str, object]]:
        ev = exchange_evidence(ex, prefix)
        location = ex.response.header("Location")
        if location is not None:
            ev.append((f"{prefix}Location", location))
        return ev


_LOOP_FIX = (
    "Set the origin protocol policy to HTTPS only, so CloudFront asks the origin over HTTPS, "
    "which it does not redirect; or stop the origin redirecting HTTP to HTTPS for requests "
    "from CloudFront and let the viewer protocol policy 'Redirect HTTP to HTTPS' do it. Then "
    "invalidate the cached redirect."
)


def judge_redirect(ex: Exchange, origin: OriginSettings, hosts: frozenset[str]) -> ExchangeFinding:
    """Pure verdict: would a viewer following this redirect come back to the same request?

    `hosts` are the names that lead back to this origin (its domain, the forwarded Host, the
    CloudFront domain).
    """
    skipped = not_reached(ex)
    if skipped is not None:
        return skipped
    r = ex.response
    if r.status is None:
        return ExchangeFinding(Status.SKIP, "Not checked: no response; see http.response.")
    location = r.header("Location")
    if not 300 <= r.status < 400 or not location:
        return ExchangeFinding(
            Status.PASS, f"No redirect: the origin answers {r.status} {r.reason}."
        )
    base = f"{ex.scheme}://{ex.host}{ex.target}"
    target = urlsplit(urljoin(base, location.strip()))
    host = (target.hostname or "").rstrip(".")
    same_host = host in hosts
    same_path = _path(target.path, target.query) == _path(*_split_target(ex.target))
    code = f"{r.status} to {location.strip()}"
    policy = origin.protocol_policy
    # Names that lead viewers back to CloudFront: the forwarded Host (the viewer's own) and the
    # CloudFront domain. The others in `hosts` (the origin's domain) lead straight to the origin.
    via_cloudfront = {
        n.lower().rstrip(".") for n in (origin.host_header, origin.cloudfront_domain) if n
    }
    own = hosts - via_cloudfront
    if ex.scheme == "http" and target.scheme == "https" and same_host and host in own:
        return _to_the_origin_itself(code, host, target.geturl(), policy)
    if ex.scheme == "http" and target.scheme == "https" and same_host:
        why = (
            "CloudFront always asks the origin over HTTP (policy http-only) and caches the "
            "redirect, so viewers are sent to HTTPS, come back, and are redirected again"
            if policy == ProtocolPolicy.HTTP_ONLY
            else "with match-viewer CloudFront keeps one cached copy for HTTP and HTTPS "
            "viewers, so the redirect cached from an HTTP request is served to HTTPS viewers "
            "too, who are sent to the same URL again"
        )
        return ExchangeFinding(
            Status.FAIL,
            f"Redirect loop: over HTTP the origin answers {code}; {why} "
            "(browsers show ERR_TOO_MANY_REDIRECTS).",
            _LOOP_FIX,
        )
    if same_host and same_path and target.scheme == ex.scheme:
        return ExchangeFinding(
            Status.FAIL,
            f"Redirect loop: the origin answers {code}, the URL viewers asked for: CloudFront "
            "caches that redirect and viewers come straight back to it.",
            "Stop the origin redirecting to its own public URL: check its canonical host or "
            "base-URL setting against the Host header CloudFront sends "
            f"({ex.host}), then invalidate the cached redirect.",
        )
    if ex.scheme == "https" and target.scheme == "http" and same_host:
        return ExchangeFinding(
            Status.WARN,
            f"Over HTTPS the origin answers {code}: if the viewer protocol policy redirects "
            "HTTP to HTTPS, viewers bounce between the two forever.",
            "Make the origin redirect to https:// (or not at all) when CloudFront asks over "
            "HTTPS; it may need to trust CloudFront-Forwarded-Proto or X-Forwarded-Proto.",
        )
    return ExchangeFinding(
        Status.PASS,
        f"The origin answers {code}; CloudFront passes the redirect on and caches it "
        "(it does not follow redirects); no loop.",
    )


def _to_the_origin_itself(
    code: str, host: str, url: str, policy: ProtocolPolicy
) -> ExchangeFinding:
    """HTTP to HTTPS on the origin's own name, which CloudFront sent as Host: viewers leave."""
    shared = (
        ""
        if policy == ProtocolPolicy.HTTP_ONLY
        else " With match-viewer CloudFront keeps one cached copy for HTTP and HTTPS viewers, so "
        "HTTPS viewers can get this redirect too."
    )
    return ExchangeFinding(
        Status.WARN,
        f"Over HTTP the origin answers {code}, its own name: no redirect loop, as that name "
        f"does not lead back to CloudFront. CloudFront passes the redirect on (and caches it), "
        f"so viewers leave CloudFront for {url}: they reach the origin directly, without "
        f"CloudFront's cache or protections, if {host} serves HTTPS, or get a connection error "
        f"if it does not.{shared}",
        "If the origin serves HTTPS, set the origin protocol policy to HTTPS only so CloudFront "
        "fetches over HTTPS; otherwise stop the origin redirecting requests from CloudFront to "
        "HTTPS and let the viewer protocol policy 'Redirect HTTP to HTTPS' do it. Then invalidate "
        "the cached redirect.",
    )


def _split_target(target: str) -> tuple[str, str]:
    path, _, query = target.partition("?")
    return path, query


def _path(path: str, query: str) -> str:
    return (path or "/") + (f"?{query}" if query else "")
