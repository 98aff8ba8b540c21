"""`cloudfront.edge`: the same path requested through CloudFront, compared with the direct request.

The CloudFront domain is resolved with the operator's resolver and its addresses are vetted like
the origin's: the request through CloudFront is a viewer request, so a CloudFront domain that
resolves to a private address is refused (an operator allows it with --allow-private, as tests
do for a loopback fake edge).

That request is an ordinary viewer request, so httpx makes it (the direct origin request needs the
raw bytes and stays on h11, in `http/_exchange`). It goes to the vetted IP, never to a name httpx
would resolve itself, with the domain as Host and SNI, and verifies the edge's certificate like a
browser: against Mozilla's roots plus the operator's --ca-file.

Without a CloudFront domain the check asks whether TARGET is itself CloudFront's (`site.py`): then
TARGET is the viewer-facing name, its answer is requested like a viewer's and decoded with
`cf502.cloudfront_errors`, and there is no origin to compare with.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import ssl
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING
from urllib.parse import quote

import dns.exception
import dns.resolver

from cf502 import __version__
from cf502.checks.base import result
from cf502.checks.dns._lookup import make_resolver
from cf502.checks.dns.resolve import resolution
from cf502.checks.http._exchange import Exchange, origin_exchange
from cf502.checks.http._report import direct_curl, ms
from cf502.checks.probe import Probe
from cf502.checks.site import Site, answer_site, cname_site, served_words, site_facts
from cf502.checks.tls._x509 import mozilla_bundle
from cf502.cloudfront_errors import EdgeCause, error_page_reason, interpret
from cf502.deadlines import Deadlines
from cf502.errors import TargetNotAllowed
from cf502.model import CheckResult, CloudFrontSite, Status
from cf502.safety import vet_addresses
from cf502.settings import OriginSettings, ProtocolPolicy
from cf502.shell import hostport, sh

if TYPE_CHECKING:
    import httpx

__all__ = [
    "BODY_CAP",
    "Edge",
    "EdgeObservation",
    "ViewerReply",
    "cloudfront_facts",
    "edge_observation",
    "error_page_reason",
    "judge_edge",
    "judge_site",
    "site_detection",
]

USER_AGENT = f"cf502/{__version__} (CloudFront 502 diagnosis)"
CACHE_BUSTER = "cf502"
BODY_CAP = 64 * 1024  # CloudFront's error page is ~1 KB; its reason is near the top
_HEADERS_SHOWN = ("X-Cache", "X-Amz-Cf-Pop", "X-Amz-Cf-Id", "Via", "Server")


@dataclass(frozen=True)
class ViewerReply:
    """The viewer request to one edge address and what came back, as far as it got.

    Attributes:
        address / port: where the request went (a vetted IP, never a name).
        connect_timeout: the wait allowed for the TCP connection and for the TLS handshake.
        read_timeout: the wait allowed for the first byte and for each later packet.
        connect_error: the TCP connection or the TLS handshake failed, in words.
        cert_error: the edge's certificate does not verify for the domain, in words.
        timeout: the deadline that ended the request: "connect" (TCP + TLS), "read" (first byte
            or a later packet), "budget" (the whole request), or None.
        error: the reply is not valid HTTP, or the connection broke while reading it.
        status / reason / http_version: the status line (None / "" when none came).
        headers: the response headers, as sent.
        body_prefix: the first BODY_CAP bytes of the body (not inflated when compressed).
        total_ms: from the start of the connection to the end of reading.
    """

    address: str
    port: int
    connect_timeout: float
    read_timeout: float
    connect_error: str | None = None
    cert_error: str | None = None
    timeout: str | None = None
    error: str | None = None
    status: int | None = None
    reason: str = ""
    http_version: str = ""
    headers: tuple[tuple[str, str], ...] = ()
    body_prefix: bytes = b""
    total_ms: float = 0.0

    @property
    def connected(self) -> bool:
        return self.connect_error is None and self.cert_error is None and self.timeout != "connect"

    @property
    def label(self) -> str:
        """`HTTPS 192.0.2.1:443`, for evidence and summaries."""
        return f"HTTPS {hostport(self.address, self.port)}"

    def header(self, name: str) -> str | None:
        return next((v for n, v in self.headers if n.lower() == name.lower()), None)


@dataclass(frozen=True)
class EdgeObservation:
    """The request through CloudFront.

    Attributes:
        domain: the CloudFront domain (or alternate domain name) asked.
        url: the URL requested, with its cache-busting query.
        addresses: what the domain resolved to.
        error: why no request was made (resolution failure, unusable CA file), or None.
        refused: the safety refusal when an address is blocked, or None.
        trust: the trust anchors the edge's certificate was verified against, in words.
        reply: the request and its reply, when one was made.
        canonical: the name the domain's CNAME chain ends at (the domain itself when none).
    """

    domain: str
    url: str
    addresses: tuple[str, ...] = ()
    error: str | None = None
    refused: str | None = None
    trust: str = "Mozilla's list"
    reply: ViewerReply | None = None
    canonical: str = ""


def _with_buster(path: str) -> tuple[str, str]:
    # Errors are cached for at least 10 s (facts §7.7): a fresh query string asks CloudFront for
    # its current answer instead of a cached one (when query strings are in the cache key).
    token = secrets.token_hex(4)
    return f"{path}{'&' if '?' in path else '?'}{CACHE_BUSTER}={token}", token


async def _lookup(probe: Probe, domain: str) -> tuple[tuple[str, ...], str | None, str]:
    """(addresses, error, the name the CNAME chain ends at)."""
    canonical = domain
    try:
        res = make_resolver(probe)
    except dns.resolver.NoResolverConfiguration:
        return (), "no DNS resolver is configured on this machine", canonical

    async def ask(rdtype: str) -> tuple[list[str], str | None]:
        try:
            answer = await res.resolve(domain, rdtype, search=False)
        except dns.resolver.NXDOMAIN:
            return [], f"{domain} does not exist (NXDOMAIN)"
        except dns.resolver.NoAnswer:
            return [], None
        except dns.exception.Timeout:
            return [], f"no answer for {domain} within {probe.deadlines.dns:g} s"
        except dns.exception.DNSException as exc:
            return [], f"{domain} could not be resolved: {exc}"
        if rdtype == "A":
            nonlocal canonical
            canonical = answer.canonical_name.to_text(omit_final_dot=True)
        return [rd.to_text() for rd in answer], None

    (v4, err4), (v6, err6) = await asyncio.gather(ask("A"), ask("AAAA"))
    addresses = tuple(v4 + v6)
    if addresses:
        return addresses, None, canonical
    return (), err4 or err6 or f"{domain} has no A or AAAA record", canonical


def viewer_ssl_context(ca_file: str | None) -> ssl.SSLContext:
    """A browser's verification: Mozilla's roots (certifi) plus `ca_file`, hostname checked.

    Raises ValueError, in words, for a CA file that cannot be read or holds no certificate.
    """
    ctx = ssl.create_default_context(cafile=mozilla_bundle())
    if ca_file:
        try:
            ctx.load_verify_locations(cafile=ca_file)
        except ssl.SSLError:  # before OSError, its base class
            raise ValueError(f"the CA file {ca_file!r} holds no PEM certificate") from None
        except OSError as exc:
            raise ValueError(
                f"cannot read the CA file {ca_file!r}: {exc.strerror or exc}"
            ) from None
    return ctx


def _timeouts(deadlines: Deadlines) -> httpx.Timeout:
    """httpx's timeouts for the viewer request (its whole budget is `Deadlines.edge_request`)."""
    import httpx  # only when there is a CloudFront domain to ask: the check's start-up stays light

    connect = deadlines.connect  # httpcore applies it to the TCP connect and to the handshake
    read = deadlines.edge_first_byte
    return httpx.Timeout(connect=connect, read=read, write=connect, pool=connect)


# Printable ASCII but "#": what a browser sends as is; the rest is percent-encoded (UTF-8).
_AS_IS = "".join(chr(c) for c in range(0x21, 0x7F) if chr(c) != "#")


def _wire_target(target: str) -> bytes:
    return quote(target, safe=_AS_IS).encode("ascii")


def _cause(exc: BaseException) -> BaseException:
    """The innermost exception httpx and httpcore wrapped (e.g. the ssl or OS error)."""
    for _ in range(8):  # bounded: the chain is short (httpx -> httpcore -> anyio -> ssl/OS)
        inner = exc.__cause__ or exc.__context__
        if inner is None:
            break
        exc = inner
    return exc


def _words(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLCertVerificationError):
        return exc.verify_message or exc.reason or str(exc)
    if isinstance(exc, ssl.SSLError):
        return exc.reason or str(exc)
    if isinstance(exc, OSError) and exc.errno:
        return os.strerror(exc.errno)  # asyncio's own words name the address, already shown
    return str(exc) or type(exc).__name__


async def _read_capped(chunks: AsyncIterator[bytes]) -> bytes:
    body = bytearray()
    async for chunk in chunks:
        body += chunk[: BODY_CAP - len(body)]
        if len(body) >= BODY_CAP:
            break  # the rest is never read: the connection is dropped with the client
    return bytes(body)


async def viewer_request(
    *, address: str, port: int, domain: str, target: str, deadlines: Deadlines, ca: ssl.SSLContext
) -> ViewerReply:
    """GET `target` from the edge at `address` like a viewer, bounded in time and memory.

    Never raises for anything the peer does; the returned ViewerReply says how far it got.
    """
    import httpx

    timeout = _timeouts(deadlines)
    reply = ViewerReply(address, port, timeout.connect or 0.0, timeout.read or 0.0)
    started = time.perf_counter()
    try:
        url = httpx.URL(scheme="https", host=address, port=port, raw_path=_wire_target(target))
        async with (
            asyncio.timeout(deadlines.edge_request),
            # trust_env=False: no proxy and no SSL_CERT_FILE from the environment; the request
            # goes to this vetted address and is verified against these roots, nothing else.
            httpx.AsyncClient(
                verify=ca, http1=True, http2=False, trust_env=False, timeout=timeout
            ) as client,
            client.stream(
                "GET",  # not HEAD: the body of CloudFront's error page names the cause
                url,
                headers={
                    "Host": domain,
                    "User-Agent": USER_AGENT,
                    "Accept": "*/*",
                    # Uncompressed: a hostile edge's small gzip body could inflate to many MB.
                    "Accept-Encoding": "identity",
                    "Connection": "close",
                },
                extensions={"sni_hostname": domain},
                follow_redirects=False,
            ) as response,
        ):
            reply = replace(
                reply,
                status=response.status_code,
                reason=response.reason_phrase,
                http_version=response.http_version.removeprefix("HTTP/"),
                headers=tuple(
                    (n.decode("latin-1"), v.decode("latin-1")) for n, v in response.headers.raw
                ),
            )
            encoded = response.headers.get("Content-Encoding", "identity").lower() != "identity"
            body = await _read_capped(response.aiter_raw() if encoded else response.aiter_bytes())
            reply = replace(reply, body_prefix=body)
    except TimeoutError:
        reply = replace(reply, timeout="budget")
    except httpx.ConnectTimeout:
        reply = replace(reply, timeout="connect")
    except httpx.ConnectError as exc:
        reply = _connect_failure(reply, _cause(exc))
    except httpx.ReadTimeout:
        reply = replace(reply, timeout="read")
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        reply = replace(reply, error=_words(_cause(exc)))
    return replace(reply, total_ms=_ms(started))


def _connect_failure(reply: ViewerReply, cause: BaseException) -> ViewerReply:
    """A certificate that does not verify is a finding of its own; any other failure means the
    edge was not reached."""
    if isinstance(cause, ssl.SSLCertVerificationError):
        return replace(reply, cert_error=_words(cause))
    if isinstance(cause, ssl.SSLError):
        return replace(reply, connect_error=f"TLS handshake failed: {_words(cause)}")
    return replace(reply, connect_error=_words(cause))


def _ms(since: float) -> float:
    return (time.perf_counter() - since) * 1000


async def edge_observation(
    probe: Probe,
    domain: str,
    *,
    port: int | None = None,
    vetted: tuple[str, ...] | None = None,
) -> EdgeObservation:
    """Resolve, vet, and request `domain` like a viewer (memoised per diagnosis). `vetted`: the
    domain's addresses, already vetted (TARGET's own, when TARGET is the CloudFront site)."""

    async def observe() -> EdgeObservation:
        nonlocal port
        port = port or probe.engine.edge_port
        target, _ = _with_buster(probe.origin.path)
        netloc = domain if port == 443 else f"{domain}:{port}"
        url = f"https://{netloc}{target}"
        trust = "Mozilla's list" + (" + --ca-file" if probe.engine.ca_file else "")
        try:
            ca = viewer_ssl_context(probe.engine.ca_file)
        except ValueError as exc:
            return EdgeObservation(domain, url, error=str(exc), trust=trust)
        addresses, canonical = vetted, domain
        if addresses is None:
            found, error, canonical = await _lookup(probe, domain)
            if error is not None:
                return EdgeObservation(domain, url, error=error, trust=trust)
            try:
                addresses = vet_addresses(domain, found, allow_private=probe.engine.allow_private)
            except TargetNotAllowed as exc:
                return EdgeObservation(domain, url, found, refused=str(exc), trust=trust)
        if not addresses:
            return EdgeObservation(domain, url, error=f"{domain} has no address", trust=trust)
        reply = await viewer_request(
            address=addresses[0],
            port=port,
            domain=domain,
            target=target,
            deadlines=probe.deadlines,
            ca=ca,
        )
        return EdgeObservation(
            domain, url, addresses, trust=trust, reply=reply, canonical=canonical
        )

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
            site = await site_detection(probe)
            if not site.detected:
                return result(
                    self,
                    Status.SKIP,
                    f"Not asked: {probe.host} does not look like CloudFront (no CNAME to "
                    "*.cloudfront.net, no CloudFront headers) and no CloudFront domain was given "
                    "(--cloudfront-domain).",
                    applies=False,
                )
            edge = await site_observation(probe)
            return judge_site(self, probe.host, site, edge)
        scheme = _direct_scheme(probe.origin)
        edge, direct = await asyncio.gather(
            edge_observation(probe, domain),
            asyncio.gather(*(origin_exchange(probe, scheme, a) for a in probe.addresses)),
        )
        return judge_edge(self, edge, direct)


# --- TARGET as the CloudFront site ---------------------------------------------------------------

_SITE = "cloudfront.site"


async def site_detection(probe: Probe) -> Site:
    """Whether TARGET is CloudFront's (memoised): its CNAME chain first (already resolved), else
    the answer the http.* checks fetch anyway. Never a request of its own."""

    async def detect() -> Site:
        found = cname_site(probe.host, (await resolution(probe)).cname_chain)
        if found.detected or not probe.addresses:
            return found
        direct = await origin_exchange(probe, _direct_scheme(probe.origin), probe.addresses[0])
        return answer_site(direct.response.headers, direct.response.body_prefix)

    return await probe.once(_SITE, detect)


def _viewer_port(probe: Probe) -> int:
    # A port typed with TARGET is where its viewers connect; else CloudFront's 443.
    return probe.target.port or probe.engine.edge_port


async def site_observation(probe: Probe) -> EdgeObservation:
    """TARGET requested like a viewer, at the addresses already resolved and vetted for it."""
    return await edge_observation(
        probe, probe.host, port=_viewer_port(probe), vetted=probe.addresses
    )


def cloudfront_facts(probe: Probe) -> tuple[Site, CloudFrontSite]:
    """What the diagnosis saw of CloudFront, from observations already made (never a packet):
    how TARGET (or the --cloudfront-domain) was seen to be CloudFront's, and the report's object.
    """
    domain = probe.origin.cloudfront_domain
    if domain:
        edge = probe.peek(("edge", domain))
        if not isinstance(edge, EdgeObservation):
            return Site(), site_facts(Site())
        by_name = cname_site(
            domain, (edge.canonical,) if edge.canonical not in ("", domain) else ()
        )
        headers = edge.reply.headers if edge.reply is not None else ()
        site = by_name
        if not site.detected:
            site = answer_site(headers, edge.reply.body_prefix if edge.reply is not None else b"")
        return site, site_facts(site, headers, domain=by_name.domain)
    site = probe.peek(_SITE)
    if not isinstance(site, Site):
        res = probe.peek("dns.resolution")
        site = cname_site(probe.host, res.cname_chain) if res is not None else Site()
    edge = probe.peek(("edge", probe.host))
    headers = edge.reply.headers if isinstance(edge, EdgeObservation) and edge.reply else ()
    return site, site_facts(site, headers)


# --- pure judgement ------------------------------------------------------------------------------


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
            return "broken", f"{ex.label} does not answer within {ex.timeouts.response:g} s"
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


_CACHE_BUSTER_NOTE = (
    "cache buster",
    f"?{CACHE_BUSTER}=… added: CloudFront caches errors for at least 10 s, and a new "
    "query string asks for its current answer (if query strings are in the cache key)",
)


def _viewer_reply(
    check: Edge,
    edge: EdgeObservation,
    ev: list[tuple[str, object]],
    commands: Sequence[str],
    not_made: str,
) -> ViewerReply | CheckResult:
    """The viewer request's reply, or the `error` result when it could not be made."""
    if edge.refused is not None:
        return result(check, Status.ERROR, edge.refused, evidence=ev, commands=commands)
    if edge.error is not None or edge.reply is None:
        return result(
            check, Status.ERROR, f"{not_made}: {edge.error}.", evidence=ev, commands=commands
        )
    return edge.reply


def judge_edge(check: Edge, edge: EdgeObservation, direct: Sequence[Exchange]) -> CheckResult:
    """Pure verdict: what CloudFront answers, and whether the cause is the origin or between."""
    commands = [sh("curl", "-sI", edge.url), *dict.fromkeys(direct_curl(d) for d in direct)]
    ev: list[tuple[str, object]] = [("URL", edge.url)]
    ev.append(_CACHE_BUSTER_NOTE)
    reply = _viewer_reply(check, edge, ev, commands, "The request through CloudFront was not made")
    if isinstance(reply, CheckResult):
        return reply
    ev.append(("CloudFront address", reply.label))
    state, direct_words = _direct_state(direct)
    ev.append(("direct request", direct_words))
    if reply.cert_error is not None:
        return _bad_certificate(check, edge, reply.cert_error, ev, commands)
    if not reply.connected:
        why = reply.connect_error or f"no connection within {reply.connect_timeout:g} s"
        return result(
            check,
            Status.ERROR,
            f"Could not reach {edge.domain} at {reply.label}: {why}.",
            evidence=ev,
            commands=commands,
        )
    ev.append(("edge certificate", f"verifies for {edge.domain} against {edge.trust}"))
    if reply.status is None:
        return _no_answer(check, edge, reply, ev, commands, state, direct_words)
    ev.append(("status line", f"HTTP/{reply.http_version} {reply.status} {reply.reason}".rstrip()))
    for name in _HEADERS_SHOWN:
        value = reply.header(name)
        if value is not None:
            ev.append((name, value))
    reason = error_page_reason(reply.body_prefix)
    if reason:
        ev.append(("CloudFront error page", reason))
    return _judge_answer(check, reply, reply.status, reason, state, direct_words, ev, commands)


def _bad_certificate(
    check: Edge,
    edge: EdgeObservation,
    error: str,
    ev: list[tuple[str, object]],
    commands: list[str],
) -> CheckResult:
    return result(
        check,
        Status.FAIL,
        f"The edge's certificate for {edge.domain} does not verify: {error} (checked against "
        f"{edge.trust}). Viewers' browsers refuse it too; nothing was requested through it.",
        evidence=ev,
        remediation=(
            "For an alternate domain name, list it on the distribution and attach a certificate "
            "that covers it (ACM, in us-east-1). For a *.cloudfront.net domain, check that the "
            "name resolves to CloudFront here and not to a proxy or another host."
        ),
        commands=commands,
    )


def _no_answer(
    check: Edge,
    edge: EdgeObservation,
    reply: ViewerReply,
    ev: list[tuple[str, object]],
    commands: list[str],
    state: str,
    direct_words: str,
) -> CheckResult:
    if reply.timeout is not None:
        return result(
            check,
            Status.WARN,
            f"CloudFront ({edge.domain}) sent no answer within {reply.read_timeout:g} s: it is "
            f"probably still waiting on the origin ({direct_words}).",
            evidence=ev,
            remediation="See http.latency: CloudFront answers 504 once its timeouts run out.",
            commands=commands,
            cloudfront_status=504 if state == "broken" else None,
        )
    return result(
        check,
        Status.ERROR,
        f"{edge.domain} did not give an HTTP answer: {reply.error or 'no response'}.",
        evidence=ev,
        commands=commands,
    )


def _judge_answer(
    check: Edge,
    reply: ViewerReply,
    status: int,
    reason: str | None,
    state: str,
    direct_words: str,
    ev: list[tuple[str, object]],
    commands: list[str],
) -> CheckResult:
    x_cache = reply.header("X-Cache") or "no X-Cache"
    pop = reply.header("X-Amz-Cf-Pop")
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
        cause = interpret(status, reply.header("X-Cache"), reason)
        if cause is not None:
            ev.extend(_cause_evidence(cause))
        return result(
            check,
            Status.FAIL,
            summary,
            evidence=ev,
            remediation=_BETWEEN_FIX,
            commands=commands,
            cloudfront_status=status,
            cloudfront_error=cause.result_type if cause is not None else None,
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
        f"CloudFront answers {seen} in {ms(reply.total_ms)}; {direct_words}.",
        evidence=ev,
        commands=commands,
    )


# --- TARGET as the CloudFront site: pure judgement ------------------------------------------------


def _cause_evidence(cause: EdgeCause) -> list[tuple[str, object]]:
    kind = cause.result_type + ("" if cause.documented else " (seen in logs; not in AWS's list)")
    ev: list[tuple[str, object]] = [("x-edge-detailed-result-type", kind), ("meaning", cause.cause)]
    if cause.checks:
        ev.append(("checks that confirm it", ", ".join(cause.checks)))
    return ev


def judge_site(check: Edge, host: str, site: Site, edge: EdgeObservation) -> CheckResult:
    """Pure verdict on TARGET as CloudFront's site: what its edge answers a viewer, decoded (the
    result type, the cause, what to look at next). The origin is not known, so nothing here is
    blamed on it: origin-side causes name the `--origin` diagnosis that finds which check fails."""
    commands = [sh("curl", "-sI", edge.url)]
    ev: list[tuple[str, object]] = [("CloudFront", served_words(host, site))]
    ev.extend(("seen", sign) for sign in site.signs)
    ev.append(("URL", edge.url))
    ev.append(_CACHE_BUSTER_NOTE)
    reply = _viewer_reply(check, edge, ev, commands, f"{host} was not requested like a viewer")
    if isinstance(reply, CheckResult):
        return reply
    ev.append(("CloudFront address", reply.label))
    if reply.cert_error is not None:
        return _bad_certificate(check, edge, reply.cert_error, ev, commands)
    if not reply.connected:
        why = reply.connect_error or f"no connection within {reply.connect_timeout:g} s"
        return result(
            check,
            Status.ERROR,
            f"Could not reach {host} at {reply.label}: {why}.",
            evidence=ev,
            commands=commands,
        )
    ev.append(("edge certificate", f"verifies for {host} against {edge.trust}"))
    if reply.status is None:
        if reply.timeout is not None:
            return result(
                check,
                Status.WARN,
                f"CloudFront ({host}) sent no answer within {reply.read_timeout:g} s: it is "
                "probably still waiting on the origin, and answers 504 once its timeouts run out.",
                evidence=ev,
                remediation=_ORIGIN_NEXT,
                commands=commands,
            )
        return result(
            check,
            Status.ERROR,
            f"{host} did not give an HTTP answer: {reply.error or 'no response'}.",
            evidence=ev,
            commands=commands,
        )
    ev.append(("status line", f"HTTP/{reply.http_version} {reply.status} {reply.reason}".rstrip()))
    for name in _HEADERS_SHOWN:
        value = reply.header(name)
        if value is not None:
            ev.append((name, value))
    reason = error_page_reason(reply.body_prefix)
    if reason:
        ev.append(("CloudFront error page", reason))
    return _judge_site_answer(check, host, reply, reply.status, reason, ev, commands)


_ORIGIN_NEXT = (
    "The origin is not known: give it with `--origin NAME` (and its CloudFront origin settings) "
    "to test it as CloudFront does."
)


def _judge_site_answer(
    check: Edge,
    host: str,
    reply: ViewerReply,
    status: int,
    reason: str | None,
    ev: list[tuple[str, object]],
    commands: list[str],
) -> CheckResult:
    x_cache = reply.header("X-Cache")
    pop = reply.header("X-Amz-Cf-Pop")
    seen = f"{status} ({x_cache or 'no X-Cache'}{f', POP {pop}' if pop else ''})"
    said = f' ("{reason}")' if reason else ""
    cause = interpret(status, x_cache, reason)
    generated = reason is not None  # CloudFront's own error page, not a body from behind it
    if generated and status >= 400 and (cause is None or not cause.statuses):
        return result(
            check,
            Status.FAIL if status >= 500 else Status.WARN,
            f"CloudFront itself answers {seen}{said}, naming no cause cf502 knows.",
            evidence=ev,
            remediation="Check the distribution's alternate domain names, allowed methods, WAF "
            "web ACL and geographic restrictions for this request, and its standard logs "
            f"(x-edge-detailed-result-type) for the X-Amz-Cf-Id. {_ORIGIN_NEXT}",
            commands=commands,
            cloudfront_status=status if status >= 500 else None,
        )
    if status >= 400 and cause is not None and cause.statuses:
        ev.extend(_cause_evidence(cause))
        fix = cause.next_step
        summary = f"CloudFront answers {seen}{said} → {cause.result_type}: {cause.cause}"
        if cause.origin_side:  # the site line and the skipped checks already say it is unknown
            fix += f" {_ORIGIN_NEXT} Run: cf502 check {host} --origin ORIGIN."
        fix += " CloudFront caches errors for at least 10 s: after a fix, check again."
        return result(
            check,
            Status.FAIL if status >= 500 else Status.WARN,
            summary,
            evidence=ev,
            remediation=fix,
            commands=commands,
            cloudfront_status=status if status >= 500 else None,
            cloudfront_error=cause.result_type,
        )
    if status >= 500:
        return result(
            check,
            Status.FAIL,
            f"CloudFront answers {seen}, but the body is not CloudFront's own error page: the "
            "error comes from behind CloudFront (the origin's own answer, or an edge function's) "
            "and CloudFront passes it on, caching it for at least 10 s.",
            evidence=ev,
            remediation="Find which origin and cache behaviour serve this path and look at that "
            f"origin's logs for the X-Amz-Cf-Id, and at any Lambda@Edge or CloudFront Functions "
            f"on it. {_ORIGIN_NEXT}",
            commands=commands,
            cloudfront_status=status,
            cloudfront_error="Error",
        )
    meaning = f": {cause.cause}" if cause is not None else ""
    return result(
        check,
        Status.PASS,
        f"CloudFront answers {seen} in {ms(reply.total_ms)}{meaning}".rstrip(".") + ".",
        evidence=ev,
        commands=commands,
    )
