"""`cloudfront.edge`: the same path requested through CloudFront, compared with the direct request.

The CloudFront domain is resolved with the operator's resolver and its addresses are vetted like
the origin's: the request through CloudFront is a viewer request, so a CloudFront domain that
resolves to a private address is refused (an operator allows it with --allow-private, as tests
do for a loopback fake edge).
"""

from __future__ import annotations

import asyncio
import html
import re
import secrets
import ssl
from collections.abc import Sequence
from dataclasses import dataclass

import dns.exception
import dns.resolver

from cf502.checks._http_exchange import Exchange, Limits, exchange, origin_exchange
from cf502.checks._http_report import direct_curl, ms, status_line
from cf502.checks.base import result
from cf502.checks.names import make_resolver
from cf502.commands import sh
from cf502.config import OriginSettings, ProtocolPolicy
from cf502.errors import TargetNotAllowed
from cf502.model import CheckResult, Status
from cf502.probe import Probe
from cf502.safety import vet_addresses

__all__ = ["Edge", "EdgeObservation", "error_page_reason", "judge_edge"]

USER_AGENT = "cf502 (CloudFront 502/504 diagnosis)"
CACHE_BUSTER = "cf502"
_HEADERS_SHOWN = ("X-Cache", "X-Amz-Cf-Pop", "X-Amz-Cf-Id", "Via", "Server")


@dataclass(frozen=True, slots=True)
class EdgeObservation:
    """The request through CloudFront.

    Attributes:
        domain: the CloudFront domain (or alternate domain name) asked.
        url: the URL requested, with its cache-busting query.
        addresses: what the domain resolved to.
        error: why no request was made (resolution failure), or None.
        refused: the safety refusal when an address is blocked, or None.
        exchange: the request and its reply, when one was made.
    """

    domain: str
    url: str
    addresses: tuple[str, ...] = ()
    error: str | None = None
    refused: str | None = None
    exchange: Exchange | None = None


def _with_buster(path: str) -> tuple[str, str]:
    # Errors are cached for at least 10 s (facts §7.7): a fresh query string asks CloudFront for
    # its current answer instead of a cached one (when query strings are in the cache key).
    token = secrets.token_hex(4)
    return f"{path}{'&' if '?' in path else '?'}{CACHE_BUSTER}={token}", token


async def _lookup(probe: Probe, domain: str) -> tuple[tuple[str, ...], str | None]:
    try:
        res = make_resolver(probe)
    except dns.resolver.NoResolverConfiguration:
        return (), "no DNS resolver is configured on this machine"

    async def ask(rdtype: str) -> tuple[list[str], str | None]:
        try:
            answer = await res.resolve(domain, rdtype, search=False)
        except dns.resolver.NXDOMAIN:
            return [], f"{domain} does not exist (NXDOMAIN)"
        except dns.resolver.NoAnswer:
            return [], None
        except dns.exception.Timeout:
            return [], f"no answer for {domain} within {probe.engine.dns_timeout:g} s"
        except dns.exception.DNSException as exc:
            return [], f"{domain} could not be resolved: {exc}"
        return [rd.to_text() for rd in answer], None

    (v4, err4), (v6, err6) = await asyncio.gather(ask("A"), ask("AAAA"))
    addresses = tuple(v4 + v6)
    if addresses:
        return addresses, None
    return (), err4 or err6 or f"{domain} has no A or AAAA record"


def _edge_limits(origin: OriginSettings) -> Limits:
    # CloudFront answers fast itself; it is slow only while it waits on the origin, so the first
    # byte may take the origin's response timeout and a little more.
    connect = min(origin.connect_timeout, 5.0)
    read = origin.read_timeout + 1.0
    return Limits(connect=connect, tls=connect, read=read, budget=2 * connect + read)


def _viewer_context() -> ssl.SSLContext:
    # The viewer-side certificate is not this check's question (any browser shows it); the
    # answer CloudFront gives is.
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


async def edge_observation(probe: Probe, domain: str) -> EdgeObservation:
    """Resolve, vet, and request `domain` like a viewer (memoised per diagnosis)."""

    async def observe() -> EdgeObservation:
        port = probe.engine.edge_port
        target, _ = _with_buster(probe.origin.path)
        netloc = domain if port == 443 else f"{domain}:{port}"
        url = f"https://{netloc}{target}"
        addresses, error = await _lookup(probe, domain)
        if error is not None:
            return EdgeObservation(domain, url, error=error)
        try:
            vetted = vet_addresses(domain, addresses, allow_private=probe.engine.allow_private)
        except TargetNotAllowed as exc:
            return EdgeObservation(domain, url, addresses, refused=str(exc))
        ex = await exchange(
            scheme="https",
            address=vetted[0],
            port=port,
            host=domain,
            sni=domain,
            method="GET",  # not HEAD: the body of CloudFront's error page names the cause
            target=target,
            headers=[
                ("Host", domain),
                ("User-Agent", USER_AGENT),
                ("Accept", "*/*"),
                ("Connection", "close"),
            ],
            limits=_edge_limits(probe.origin),
            context=_viewer_context(),
        )
        return EdgeObservation(domain, url, vetted, exchange=ex)

    return await probe.once(("edge", domain), observe)


def _direct_scheme(origin: OriginSettings) -> str:
    # The request through CloudFront is HTTPS, so under match-viewer CloudFront uses HTTPS too.
    return "http" if origin.protocol_policy == ProtocolPolicy.HTTP_ONLY else "https"


class Edge:
    """`cloudfront.edge`: what CloudFront itself answers, compared with the origin's direct answer."""

    id = "cloudfront.edge"
    title = "Request through CloudFront"

    def prerequisites(self, origin: OriginSettings) -> tuple[str, ...]:
        return ()  # worth running even when the origin is down: it confirms what viewers see

    async def run(self, probe: Probe) -> CheckResult:
        domain = probe.origin.cloudfront_domain
        if not domain:
            return result(
                self,
                Status.SKIP,
                "Not asked: no CloudFront domain was given (--cloudfront-domain).",
            )
        scheme = _direct_scheme(probe.origin)
        edge, direct = await asyncio.gather(
            edge_observation(probe, domain),
            asyncio.gather(*(origin_exchange(probe, scheme, a) for a in probe.addresses)),
        )
        return judge_edge(self, edge, direct)


# --- pure judgement ------------------------------------------------------------------------------

_TAG = re.compile(r"<[^>]+>")
_REASON = re.compile(r"<hr[^>]*>(.*?)<br", re.IGNORECASE | re.DOTALL)


def error_page_reason(body: bytes) -> str | None:
    """The cause CloudFront's own error page names ("CloudFront wasn't able to connect to the
    origin."), "" when it is CloudFront's page without a reason, None when it is not its page."""
    text = body.decode("utf-8", "replace")
    if "The request could not be satisfied" not in text and "Generated by cloudfront" not in text:
        return None
    m = _REASON.search(text)
    if m is None:
        return ""
    lines = [html.unescape(_TAG.sub("", line)).strip() for line in m.group(1).splitlines()]
    reason = next((line for line in lines if line), "")
    return reason[:200]


def _direct_state(direct: Sequence[Exchange]) -> tuple[str, str]:
    """("ok" | "5xx" | "broken" | "none", words) for the origin's direct answers."""
    if not direct:
        return "none", "the origin was not requested directly (no vetted address)"
    for ex in direct:
        r = ex.response
        if ex.connect.status != "open":
            return "broken", f"the connection to {ex.label} fails ({ex.connect.detail})"
        if ex.tls_error:
            return "broken", f"{ex.label}: {ex.tls_error}"
        if ex.timeout in ("first-byte", "stall"):
            return "broken", f"{ex.label} does not answer within {ex.limits.read:g} s"
        if r.error:
            return "broken", f"{ex.label}: {r.error}"
        if r.status is not None and r.status >= 500:
            return "5xx", f"the origin answers {r.status} {r.reason} directly"
    first = direct[0].response
    if first.status is None:
        return "broken", "the origin gave no response directly"
    return "ok", f"the origin answers {first.status} {first.reason} directly".rstrip()


_BETWEEN_FIX = (
    "Look at what differs for CloudFront: its origin-facing IP ranges (origin firewall or "
    "security group), the origin settings reproduced here (protocol policy, ports, timeouts, "
    "Host header) and TLS as CloudFront does it (the tls.* checks). CloudFront caches errors for "
    "at least 10 s: after a fix, check again with a new query string."
)


def judge_edge(check: Edge, edge: EdgeObservation, direct: Sequence[Exchange]) -> CheckResult:
    """Pure verdict: what CloudFront answers, and whether the cause is the origin or between."""
    commands = [sh("curl", "-sI", edge.url), *dict.fromkeys(direct_curl(d) for d in direct)]
    ev: list[tuple[str, object]] = [("URL", edge.url)]
    ev.append(
        (
            "cache buster",
            f"?{CACHE_BUSTER}=… added: CloudFront caches errors for at least 10 s, and a new "
            "query string asks for its current answer (if query strings are in the cache key)",
        )
    )
    if edge.refused is not None:
        return result(check, Status.ERROR, edge.refused, evidence=ev, commands=commands)
    if edge.error is not None or edge.exchange is None:
        return result(
            check,
            Status.ERROR,
            f"The request through CloudFront was not made: {edge.error}.",
            evidence=ev,
            commands=commands,
        )
    ex = edge.exchange
    r = ex.response
    ev.append(("CloudFront address", ex.label))
    state, direct_words = _direct_state(direct)
    ev.append(("direct request", direct_words))
    if not ex.connected:
        why = ex.tls_error or ex.connect.detail or ex.connect.status
        return result(
            check,
            Status.ERROR,
            f"Could not reach {edge.domain} at {ex.label}: {why}.",
            evidence=ev,
            commands=commands,
        )
    if r.status is None:
        return _no_answer(check, edge, ex, ev, commands, state, direct_words)
    ev.append(("status line", status_line(ex)))
    for name in _HEADERS_SHOWN:
        value = r.header(name)
        if value is not None:
            ev.append((name, value))
    reason = error_page_reason(r.body_prefix)
    if reason:
        ev.append(("CloudFront error page", reason))
    return _judge_answer(check, ex, r.status, reason, state, direct_words, ev, commands)


def _no_answer(
    check: Edge,
    edge: EdgeObservation,
    ex: Exchange,
    ev: list[tuple[str, object]],
    commands: list[str],
    state: str,
    direct_words: str,
) -> CheckResult:
    if ex.timeout is not None:
        return result(
            check,
            Status.WARN,
            f"CloudFront ({edge.domain}) sent no answer within {ex.limits.read:g} s: it is "
            f"probably still waiting on the origin ({direct_words}).",
            evidence=ev,
            remediation="See http.latency: CloudFront answers 504 once its timeouts run out.",
            commands=commands,
            cloudfront_status=504 if state == "broken" else None,
        )
    words = ex.response.error or ex.io_error or "no response"
    return result(
        check,
        Status.ERROR,
        f"{edge.domain} did not give an HTTP answer: {words}.",
        evidence=ev,
        commands=commands,
    )


def _judge_answer(
    check: Edge,
    ex: Exchange,
    status: int,
    reason: str | None,
    state: str,
    direct_words: str,
    ev: list[tuple[str, object]],
    commands: list[str],
) -> CheckResult:
    x_cache = ex.response.header("X-Cache") or "no X-Cache"
    pop = ex.response.header("X-Amz-Cf-Pop")
    seen = f"{status} ({x_cache}{f', POP {pop}' if pop else ''})"
    generated = reason is not None  # CloudFront's own error page, not the origin's body
    said = f' ("{reason}")' if reason else ""
    if status >= 500 and generated:
        if state in ("ok", "none"):
            summary = (
                f"CloudFront answers {seen}{said} while {direct_words} → the cause is between "
                "CloudFront and the origin: see the failing checks above."
            )
        else:
            summary = (
                f"CloudFront answers {seen}{said}, and directly {direct_words} → fix the origin: "
                "see the failing checks above."
            )
        return result(
            check,
            Status.FAIL,
            summary,
            evidence=ev,
            remediation=_BETWEEN_FIX,
            commands=commands,
            cloudfront_status=status,
        )
    if status >= 500:
        own = state == "5xx"
        return result(
            check,
            Status.FAIL,
            f"CloudFront answers {seen}: "
            + (
                f"the origin itself returns {status}; CloudFront passes it on and caches it for "
                "the error-caching TTL (10 s by default)."
                if own
                else f"the body is not CloudFront's error page, so it comes from behind "
                f"CloudFront, while {direct_words} (an edge function, another origin or "
                "cache behaviour?)."
            ),
            evidence=ev,
            remediation=(
                "Fix the origin application: the error is its own, CloudFront only relays it."
                if own
                else "Check which origin and cache behaviour serve this path, and any "
                "Lambda@Edge or CloudFront Functions on it."
            ),
            commands=commands,
            cloudfront_status=status,
        )
    if status >= 400 and generated:
        return result(
            check,
            Status.WARN,
            f"CloudFront itself refuses the request: {seen}{said}.",
            evidence=ev,
            remediation="Check the distribution's alternate domain names, allowed methods and "
            "any WAF or geo restriction for this request.",
            commands=commands,
        )
    if state == "broken":
        return result(
            check,
            Status.WARN,
            f"CloudFront answers {seen}, but directly {direct_words}: CloudFront may serve "
            "this from its cache, or reach another origin.",
            evidence=ev,
            remediation="Check the X-Cache value and the distribution's origins for this path.",
            commands=commands,
        )
    return result(
        check,
        Status.PASS,
        f"CloudFront answers {seen} in {ms(ex.total_ms)}; {direct_words}.",
        evidence=ev,
        commands=commands,
    )
