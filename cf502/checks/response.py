"""HTTP checks on the origin request as CloudFront makes it: `http.response`, `http.headers`,
`http.latency` and `http.redirect`.

All four judge the same observation: one request per protocol the origin protocol policy uses and
per vetted address (`_http_exchange.origin_exchanges`), so a diagnosis sends each request once.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urljoin, urlsplit

from cf502.checks._http_exchange import Exchange, origin_exchanges
from cf502.checks._http_report import (
    Finding,
    combine,
    direct_curl,
    exchange_evidence,
    ms,
    not_reached,
    status_line,
)
from cf502.checks._http_wire import BODY_CAP, HEAD_CAP
from cf502.config import OriginSettings, ProtocolPolicy
from cf502.model import CheckResult, Status
from cf502.probe import Probe

__all__ = [
    "HEADER_LIMIT",
    "Headers",
    "Latency",
    "Redirect",
    "Response",
    "judge_headers",
    "judge_latency",
    "judge_redirect",
    "judge_response",
]

# cloudfront-facts.md §4.1: origin response headers (status line + headers) at most 20,480 bytes.
HEADER_LIMIT = 20_480
NEAR = 0.8  # warn beyond 80 % of a limit
ERROR_TTL = 10  # seconds: CloudFront's default error-caching minimum TTL (facts §7.7)


def _prerequisites(origin: OriginSettings) -> tuple[str, ...]:
    # match-viewer: tcp.http; the HTTPS half is judged only where the handshake worked (the
    # exchange records a failed handshake and the HTTPS finding becomes a skip).
    if origin.protocol_policy == ProtocolPolicy.HTTPS_ONLY:
        return ("tls.handshake",)
    return ("tcp.http",)


class _HttpCheck:
    """Common shape: fetch the shared exchanges, judge each, merge."""

    id = ""
    title = ""

    def prerequisites(self, origin: OriginSettings) -> tuple[str, ...]:
        return _prerequisites(origin)

    async def run(self, probe: Probe) -> CheckResult:
        exchanges = await origin_exchanges(probe)
        return self.judge_all(exchanges, probe.origin, _viewer_hosts(probe))

    def judge(self, ex: Exchange, origin: OriginSettings, hosts: frozenset[str]) -> Finding:
        raise NotImplementedError

    def evidence(self, ex: Exchange, prefix: str) -> list[tuple[str, object]]:
        return exchange_evidence(ex, prefix)

    def judge_all(
        self, exchanges: Sequence[Exchange], origin: OriginSettings, hosts: frozenset[str]
    ) -> CheckResult:
        """Pure: judge every exchange and merge the findings."""
        pairs = [(ex, self.judge(ex, origin, hosts)) for ex in exchanges]
        ev: list[tuple[str, object]] = []
        for ex in exchanges:
            ev += self.evidence(ex, f"{ex.label} " if len(exchanges) > 1 else "")
        commands = list(dict.fromkeys(direct_curl(ex) for ex in exchanges))
        return combine(self, pairs, evidence=ev, commands=commands)


def _viewer_hosts(probe: Probe) -> frozenset[str]:
    """The names that lead back to this same origin: its domain, the forwarded Host, CloudFront's."""
    names = {probe.host, probe.host_header, probe.origin.cloudfront_domain or ""}
    return frozenset(n.lower().rstrip(".") for n in names if n)


# --- http.response -------------------------------------------------------------------------------


class Response(_HttpCheck):
    """`http.response`: the origin's reply is a complete, well-formed HTTP/1.1 response."""

    id = "http.response"
    title = "Origin response is valid HTTP"

    def judge(self, ex: Exchange, origin: OriginSettings, hosts: frozenset[str]) -> Finding:
        return judge_response(ex)

    def evidence(self, ex: Exchange, prefix: str) -> list[tuple[str, object]]:
        ev = exchange_evidence(ex, prefix)
        r = ex.response
        if r.error:
            ev.append((f"{prefix}first bytes", repr(r.first_bytes)))
        if r.error_kind == "interim-flood":
            ev.append(
                (f"{prefix}interim responses read", f"{len(r.interim)}, {r.raw_bytes:,} bytes")
            )
        if r.head_done:
            ev.append((f"{prefix}framing", _framing_words(ex)))
            ev.append((f"{prefix}body bytes received", r.body_bytes))
        if ex.io_error:
            ev.append((f"{prefix}read error", ex.io_error))
        return ev


_INVALID_FIX = (
    "Fix the origin's HTTP server (or whatever answers on this port) so that it sends a complete, "
    "well-formed HTTP/1.1 response: CloudFront answers 502 when it cannot parse the origin's reply."
)


def _framing_words(ex: Exchange) -> str:
    r = ex.response
    if r.framing == "content-length":
        return f"Content-Length: {r.content_length}"
    if r.framing == "chunked":
        return "Transfer-Encoding: chunked"
    if r.framing == "none":
        return "no body (by status or method)"
    return "no Content-Length, not chunked: the body ends when the connection closes"


def judge_response(ex: Exchange) -> Finding:
    """Pure verdict on the reply's framing and syntax (timeouts and sizes are other checks')."""
    skipped = not_reached(ex)
    if skipped is not None:
        return skipped
    r = ex.response
    where = f"({ex.scheme.upper()} port {ex.port})"
    kind = r.error_kind
    if kind == "interim-flood":
        return Finding(
            Status.FAIL,
            f"{_cap(r.error or '')} {where}: CloudFront gets no response to pass on.",
            "Find what makes the origin send interim responses in a loop (a 103 Early Hints or "
            "100 Continue emitted per retry, or per worker, by the application or a proxy in "
            "front of it) and have it send its final response after at most one or two.",
            502,
            "OriginInvalidResponseError",
        )
    if kind in ("not-http", "malformed", "interim"):
        fix = _INVALID_FIX
        if kind == "not-http":
            fix = (
                f"Make sure port {ex.port} of the origin serves "
                f"{'HTTPS' if ex.scheme == 'https' else 'plain HTTP'}: CloudFront sends "
                f"HTTP/1.1 {'over TLS ' if ex.scheme == 'https' else ''}to it and answers 502 "
                "when the reply is not HTTP."
            )
        return Finding(
            Status.FAIL,
            f"{_cap(r.error or '')} {where}.",
            fix,
            502,
            "OriginInvalidResponseError",
        )
    if kind in ("empty", "closed-in-head"):
        return Finding(
            Status.FAIL,
            f"{_cap(r.error or '')} {where}" + (f" ({ex.io_error})" if ex.io_error else "") + ".",
            "Find out why the origin drops the request (its error log, a crashing worker, a "
            "proxy or load balancer in front of it closing idle or unknown connections).",
            502,
            "OriginReadError",
        )
    if kind in ("truncated", "zero-body", "chunked"):
        error = {
            "truncated": "OriginReadError",
            "zero-body": "OriginZeroSizeObjectError",
            "chunked": "OriginInvalidResponseError",
        }[kind]
        return Finding(
            Status.FAIL,
            f"{_cap(r.error or '')} ({status_line(ex)}): CloudFront has already passed the "
            "headers on, so viewers get a cut-off response, and CloudFront does not cache it.",
            "Fix the origin so the body it sends matches its framing (a Content-Length that is "
            "the real size, or valid chunked encoding ending with a 0-size chunk), and look for "
            "the origin closing connections mid-response (worker timeouts, crashes, proxies).",
            None,
            error,
        )
    if ex.io_error and not r.started:
        return Finding(Status.ERROR, f"The request could not be made: {ex.io_error}.")
    if ex.timeout == "head":
        return Finding(
            Status.SKIP,
            f"Not judged: {r.raw_bytes:,} bytes came but the status line and headers were not "
            "complete within the response timeout; see http.latency.",
        )
    if ex.timeout is not None and not r.complete and ex.timeout != "budget":
        got = f"after {r.raw_bytes} bytes" if r.raw_bytes else "before any byte"
        return Finding(
            Status.SKIP, f"Not judged: the response stopped {got} (a timeout); see http.latency."
        )
    if r.head_cap_hit:
        return Finding(
            Status.SKIP,
            f"Not judged: the headers did not end within {HEAD_CAP:,} bytes; see http.headers.",
        )
    if r.status is None:
        return Finding(Status.SKIP, "Not judged: no response was read; see http.latency.")
    return _judge_status(ex, r.status)


def _judge_status(ex: Exchange, status: int) -> Finding:
    r = ex.response
    body = _body_words(ex)
    if status >= 500:
        return Finding(
            Status.FAIL,
            f"The origin itself answers {status} {r.reason} ({status_line(ex)}): CloudFront "
            f"passes it on and caches it for the error-caching TTL ({ERROR_TTL} s by default).",
            f"Look at the origin application and what is behind it: the {status} comes from "
            f"the origin, not from CloudFront. Search its logs for X-Amz-Cf-Id {ex.request_id}.",
            status,
            None,
        )
    if r.framing == "close" and r.complete:
        return Finding(
            Status.WARN,
            f"{status_line(ex)} parses, but the body has neither Content-Length nor chunked "
            f"encoding ({body}): CloudFront cannot tell a cut-off body from a complete one and "
            "may cache a truncated object.",
            "Have the origin send Content-Length or use chunked transfer encoding.",
        )
    return Finding(Status.PASS, f"{status_line(ex)}: status line and headers parse; {body}.")


def _body_words(ex: Exchange) -> str:
    r = ex.response
    if r.body_cap_hit:
        return f"the first {BODY_CAP:,} body bytes arrived, the rest was not read"
    if r.event_cap_hit:
        return (
            f"the first {r.body_bytes:,} body bytes arrived, well framed, in {r.body_events:,} "
            "pieces (chunks and reads); the rest was not read"
        )
    if ex.timeout == "budget":
        return f"{r.body_bytes:,} body bytes arrived before reading stopped at the time limit"
    if r.framing == "content-length":
        return f"{r.body_bytes:,} of {r.content_length:,} body bytes (Content-Length)"
    if r.framing == "chunked":
        return f"chunked body complete ({r.body_bytes:,} bytes)"
    if r.framing == "none":
        return "no body expected"
    return f"{r.body_bytes:,} body bytes until the origin closed the connection"


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


# --- http.headers --------------------------------------------------------------------------------


class Headers(_HttpCheck):
    """`http.headers`: the response headers fit CloudFront's 20,480-byte limit."""

    id = "http.headers"
    title = "Origin response headers fit CloudFront's limit"

    def judge(self, ex: Exchange, origin: OriginSettings, hosts: frozenset[str]) -> Finding:
        return judge_headers(ex)

    def evidence(self, ex: Exchange, prefix: str) -> list[tuple[str, object]]:
        ev = exchange_evidence(ex, prefix)
        r = ex.response
        if r.head_bytes is not None:
            ev.append((f"{prefix}header bytes", f"{r.head_bytes:,} (limit {HEADER_LIMIT:,})"))
            ev.append((f"{prefix}header count", len(r.headers)))
            ev.append((f"{prefix}largest headers", _largest(ex) or "none"))
        elif r.head_cap_hit:
            ev.append((f"{prefix}header bytes", f"more than {HEAD_CAP:,} (reading stopped)"))
        return ev


def _header_size(name: str, value: str) -> int:
    return len(name) + len(value) + 4  # "Name: value\r\n"


def _largest(ex: Exchange, n: int = 3) -> str:
    sizes: dict[str, int] = {}
    for name, value in ex.response.headers:
        sizes[name] = sizes.get(name, 0) + _header_size(name, value)
    top = sorted(sizes.items(), key=lambda kv: -kv[1])[:n]
    return ", ".join(f"{name} ({size:,} bytes)" for name, size in top)


_HEADERS_FIX = (
    f"Trim the origin's response headers below {HEADER_LIMIT:,} bytes in total (status line and "
    "all headers): look at the largest ones named here, typically oversized or repeated "
    "Set-Cookie, Content-Security-Policy, Link or debug headers."
)


def judge_headers(ex: Exchange) -> Finding:
    """Pure verdict on the size of the response's header block."""
    skipped = not_reached(ex)
    if skipped is not None:
        return skipped
    r = ex.response
    if r.head_cap_hit:
        return Finding(
            Status.FAIL,
            f"The origin's headers run past {HEAD_CAP:,} bytes, where reading stopped "
            f"(CloudFront's limit is {HEADER_LIMIT:,}).",
            _HEADERS_FIX + " A header block that never ends is usually a bug in the origin.",
            502,
            "OriginHeaderTooBigError",
        )
    if r.head_bytes is None:
        return Finding(
            Status.SKIP, "Not measured: no complete response headers; see http.response."
        )
    size = r.head_bytes
    largest = _largest(ex)
    share = size / HEADER_LIMIT
    if size > HEADER_LIMIT:
        return Finding(
            Status.FAIL,
            f"The response headers are {size:,} bytes, over CloudFront's {HEADER_LIMIT:,}-byte "
            f"limit; largest: {largest}.",
            _HEADERS_FIX,
            502,
            "OriginHeaderTooBigError",
        )
    if share > NEAR:
        return Finding(
            Status.WARN,
            f"The response headers are {size:,} bytes, {share:.0%} of CloudFront's "
            f"{HEADER_LIMIT:,}-byte limit; largest: {largest}. A little more (a cookie) and "
            "CloudFront answers 502.",
            _HEADERS_FIX,
            502,
            "OriginHeaderTooBigError",
        )
    return Finding(
        Status.PASS,
        f"The response headers are {size:,} bytes (CloudFront's limit is {HEADER_LIMIT:,}); "
        f"largest: {largest or 'none'}.",
    )


# --- http.latency --------------------------------------------------------------------------------


class Latency(_HttpCheck):
    """`http.latency`: connect, TLS and first byte come within CloudFront's timeouts."""

    id = "http.latency"
    title = "Origin answers within CloudFront's timeouts"

    def judge(self, ex: Exchange, origin: OriginSettings, hosts: frozenset[str]) -> Finding:
        return judge_latency(ex, origin)

    def evidence(self, ex: Exchange, prefix: str) -> list[tuple[str, object]]:
        ev = exchange_evidence(ex, prefix)
        ev.append((f"{prefix}connect", ms(ex.connect.elapsed_ms)))
        if ex.scheme == "https":
            ev.append((f"{prefix}TLS handshake", ms(ex.tls_ms)))
        ev.append((f"{prefix}time to first byte", ms(ex.ttfb_ms)))
        ev.append((f"{prefix}total", ms(ex.total_ms)))
        if ex.timeout:
            ev.append((f"{prefix}stopped by", _TIMEOUT_WORDS[ex.timeout]))
        if ex.timeout == "head":
            ev.append((f"{prefix}last byte", ms(ex.last_byte_ms)))
            ev.append((f"{prefix}CloudFront with an unfinished head", _unfinished_head_words(ex)))
        return ev


_TIMEOUT_WORDS = {
    "tls": "the TLS handshake deadline",
    "first-byte": "the response timeout (no first byte)",
    "head": "the response timeout (status line and headers not complete)",
    "stall": "the response timeout (no next packet)",
    "budget": "the overall time limit of the request",
}


def _retries(origin: OriginSettings) -> int:
    # CloudFront retries GET and HEAD on a response timeout, up to the connection attempts.
    return origin.connection_attempts if origin.method in ("GET", "HEAD") else 1


def _limits_words(origin: OriginSettings) -> str:
    return (
        f"connection timeout {origin.connect_timeout:g} s x {origin.connection_attempts} "
        f"attempt(s), response timeout {origin.read_timeout:g} s"
    )


def judge_latency(ex: Exchange, origin: OriginSettings) -> Finding:
    """Pure verdict on the timings against CloudFront's connection and response timeouts."""
    skipped = not_reached(ex)
    if skipped is not None:
        return skipped
    r = ex.response
    read = origin.read_timeout
    tries = _retries(origin)
    slow_fix = (
        f"Make the origin answer {ex.target} faster (CloudFront's access logs show "
        f"time-to-first-byte), or raise the origin response timeout (now {read:g} s; up to "
        "120 s, more with a quota increase)."
    )
    if ex.timeout == "head":
        return Finding(
            Status.FAIL,
            f"The origin sent {r.raw_bytes:,} bytes but no complete status line and headers "
            f"within the {read:g} s response timeout (connect {ms(ex.connect.elapsed_ms)}, "
            f"first byte {ms(ex.ttfb_ms)}): CloudFront passes nothing on before the headers "
            "end, so viewers wait, then get 504.",
            "Find why the origin's headers come so slowly or never end (an application "
            "streaming its headers, a proxy in front of it trickling bytes, or something on "
            f"port {ex.port} that is not an HTTP server): it must send its complete status line "
            f"and headers within {read:g} s.",
            504,
            "OriginCommError",
        )
    if ex.timeout in ("first-byte", "stall"):
        after = (
            "sent nothing"
            if ex.timeout == "first-byte"
            else f"stopped sending after {r.raw_bytes:,} bytes"
        )
        during_body = r.head_done
        consequence = (
            "CloudFront has already passed the headers on, so viewers get a cut-off response"
            if during_body
            else f"CloudFront waits {read:g} s, tries {tries} time(s), then answers 504 after "
            f"about {read * tries:g} s"
        )
        return Finding(
            Status.FAIL,
            f"The origin {after} within the {read:g} s response timeout "
            f"(connect {ms(ex.connect.elapsed_ms)}): {consequence}.",
            slow_fix,
            None if during_body else 504,
            "OriginCommError",
        )
    if ex.ttfb_ms is None:
        return Finding(Status.SKIP, "Not measured: no response arrived; see http.response.")
    timings = (
        f"connect {ms(ex.connect.elapsed_ms)}"
        + (f", TLS {ms(ex.tls_ms)}" if ex.scheme == "https" else "")
        + f", first byte {ms(ex.ttfb_ms)}, total {ms(ex.total_ms)}"
    )
    connect_share = ex.connect.elapsed_ms / (origin.connect_timeout * 1000)
    ttfb_share = ex.ttfb_ms / (read * 1000)
    if ttfb_share > NEAR:
        return Finding(
            Status.WARN,
            f"The first byte came after {ms(ex.ttfb_ms)}, {ttfb_share:.0%} of the {read:g} s "
            f"response timeout ({timings}): a little slower and CloudFront answers 504.",
            slow_fix,
            504,
            "OriginCommError",
        )
    if connect_share > NEAR:
        return Finding(
            Status.WARN,
            f"Connecting took {ms(ex.connect.elapsed_ms)}, {connect_share:.0%} of the "
            f"{origin.connect_timeout:g} s connection timeout ({timings}).",
            "Find out why connections to the origin are slow (overloaded accept queue, "
            "distant region, packet loss), or raise the connection timeout (at most 10 s).",
            504,
            "OriginCommError",
        )
    note = ""
    if ex.timeout == "budget":
        note = f"; reading stopped after {ms(ex.total_ms)} while the body was still arriving"
    return Finding(Status.PASS, f"{_cap(timings)} ({_limits_words(origin)}){note}.")


def _unfinished_head_words(ex: Exchange) -> str:
    """Why an unfinished head predicts 504, for the evidence."""
    read = ex.limits.read
    quiet = read - (ex.last_byte_ms or 0) / 1000
    return (
        f"{ex.response.raw_bytes:,} bytes in {read:g} s, the last {quiet:.1f} s before the "
        "timeout. CloudFront restarts its response timeout with each packet, so a head that "
        "keeps dripping keeps it waiting, with nothing to forward to viewers; it ends in 504 "
        "(OriginCommError) when a gap between packets reaches the response timeout or when the "
        "origin's response completion timeout (if set) expires, or in 502 "
        f"(OriginHeaderTooBigError) if the headers grow past {HEADER_LIMIT:,} bytes. Either "
        "way viewers get no response within the response timeout: 504 is the prediction."
    )


# --- http.redirect -------------------------------------------------------------------------------


class Redirect(_HttpCheck):
    """`http.redirect`: the origin's redirect (not followed, as CloudFront does) is no loop."""

    id = "http.redirect"
    title = "No redirect loop through CloudFront"

    def judge(self, ex: Exchange, origin: OriginSettings, hosts: frozenset[str]) -> Finding:
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


def judge_redirect(ex: Exchange, origin: OriginSettings, hosts: frozenset[str]) -> Finding:
    """Pure verdict: would a viewer following this redirect come back to the same request?

    `hosts` are the names that lead back to this origin (its domain, the forwarded Host, the
    CloudFront domain).
    """
    skipped = not_reached(ex)
    if skipped is not None:
        return skipped
    r = ex.response
    if r.status is None:
        return Finding(Status.SKIP, "Not checked: no response; see http.response.")
    location = r.header("Location")
    if not 300 <= r.status < 400 or not location:
        return Finding(Status.PASS, f"No redirect: the origin answers {r.status} {r.reason}.")
    base = f"{ex.scheme}://{ex.host}{ex.target}"
    target = urlsplit(urljoin(base, location.strip()))
    host = (target.hostname or "").rstrip(".")
    same_host = host in hosts
    same_path = _path(target.path, target.query) == _path(*_split_target(ex.target))
    code = f"{r.status} to {location.strip()}"
    policy = origin.protocol_policy
    if ex.scheme == "http" and target.scheme == "https" and same_host:
        why = (
            "CloudFront always asks the origin over HTTP (policy http-only) and caches the "
            "redirect, so viewers are sent to HTTPS, come back, and are redirected again"
            if policy == ProtocolPolicy.HTTP_ONLY
            else "with match-viewer CloudFront keeps one cached copy for HTTP and HTTPS "
            "viewers, so the redirect cached from an HTTP request is served to HTTPS viewers "
            "too, who are sent to the same URL again"
        )
        return Finding(
            Status.FAIL,
            f"Redirect loop: over HTTP the origin answers {code}; {why} "
            "(browsers show ERR_TOO_MANY_REDIRECTS).",
            _LOOP_FIX,
        )
    if same_host and same_path and target.scheme == ex.scheme:
        return Finding(
            Status.FAIL,
            f"Redirect loop: the origin answers {code}, the URL viewers asked for: CloudFront "
            "caches that redirect and viewers come straight back to it.",
            "Stop the origin redirecting to its own public URL: check its canonical host or "
            "base-URL setting against the Host header CloudFront sends "
            f"({ex.host}), then invalidate the cached redirect.",
        )
    if ex.scheme == "https" and target.scheme == "http" and same_host:
        return Finding(
            Status.WARN,
            f"Over HTTPS the origin answers {code}: if the viewer protocol policy redirects "
            "HTTP to HTTPS, viewers bounce between the two forever.",
            "Make the origin redirect to https:// (or not at all) when CloudFront asks over "
            "HTTPS; it may need to trust CloudFront-Forwarded-Proto or X-Forwarded-Proto.",
        )
    return Finding(
        Status.PASS,
        f"The origin answers {code}; CloudFront passes the redirect on and caches it "
        "(it does not follow redirects); no loop.",
    )


def _split_target(target: str) -> tuple[str, str]:
    path, _, query = target.partition("?")
    return path, query


def _path(path: str, query: str) -> str:
    return (path or "/") + (f"?{query}" if query else "")
