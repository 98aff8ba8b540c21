"""What CloudFront's own answers mean: its access-log result types, `X-Cache` values, response
headers and error-page wording, mapped to a cause, the status viewers get, the cf502 checks that
confirm it and what to look at next. Pure data and string matching; standard library only.

Used by the `cloudfront.edge` check (decoding what the edge answers) and by `cf502 decode` (decoding
what people paste). The result types are those of CloudFront's access-log documentation
(`x-edge-detailed-result-type`); `documented=False` marks values seen in real logs and `X-Cache`
headers but not in that list.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

__all__ = [
    "CAUSES",
    "CLOUDFRONT_SUFFIX",
    "EdgeCause",
    "cause_for",
    "cloudfront_header_signs",
    "error_page_reason",
    "interpret",
    "is_cloudfront_domain",
    "is_error_page",
    "page_cause",
    "x_cache_type",
]

CLOUDFRONT_SUFFIX: Final = ".cloudfront.net"

# Origin-side checks, by what they confirm.
_CONNECT = ("tcp.https", "tcp.http")
_TLS = ("tls.handshake", "tls.cert.expiry", "tls.cert.hostname", "tls.cert.trust", "tls.cert.chain")
_DNS = ("dns.resolve", "dns.authoritative")
_EDGE = ("cloudfront.edge",)


@dataclass(frozen=True)
class EdgeCause:
    """One thing CloudFront reports about a request, and what it means.

    Attributes:
        result_type: the access-log `x-edge-detailed-result-type` value, e.g. "OriginDnsError".
        statuses: what CloudFront answers viewers for it, most usual first (empty: not an error,
            or the status is the origin's own).
        cause: the cause in words, one sentence.
        checks: the cf502 check ids that confirm it (origin checks need the origin's name).
        next_step: what to look at next, one or two sentences.
        origin_side: the cause lies in reaching or reading the origin (the origin checks find it);
            False for the edge itself (functions, WAF, geo, distribution settings) or the viewer.
        error: CloudFront counts it as an error (False for Hit, Miss, ...).
        documented: in AWS's documented list of result types (False: seen in real logs only).
    """

    result_type: str
    statuses: tuple[int, ...]
    cause: str
    checks: tuple[str, ...] = ()
    next_step: str = ""
    origin_side: bool = False
    error: bool = True
    documented: bool = True

    @property
    def status(self) -> int | None:
        """The usual status viewers get, or None."""
        return self.statuses[0] if self.statuses else None


_FIREWALL = (
    "Allow CloudFront's origin-facing IP ranges (the managed prefix list "
    "com.amazonaws.global.cloudfront.origin-facing) in the origin's firewall or security group"
)

_ALL: Final[tuple[EdgeCause, ...]] = (
    # -- reaching the origin ----------------------------------------------------------------------
    EdgeCause(
        "OriginDnsError",
        (502,),
        "CloudFront could not resolve the origin's domain name.",
        _DNS,
        "Check the origin name's A/AAAA records in public DNS, its zone's name servers and the "
        "delegation at the parent zone.",
        origin_side=True,
    ),
    EdgeCause(
        "OriginConnectError",
        (502,),
        "CloudFront could not connect to the origin: the port refuses the connection, or the TLS "
        "handshake fails (protocol or cipher, an expired, wrong-name or untrusted certificate, an "
        "incomplete chain).",
        _CONNECT + _TLS,
        f"Check that the origin port is open and the web server runs. {_FIREWALL}. Then check the "
        "TLS handshake and certificate as CloudFront does them.",
        origin_side=True,
    ),
    EdgeCause(
        "OriginCommError",
        (504,),
        "The request timed out while connecting to the origin or reading from it: a firewall or "
        "security group dropping CloudFront's packets, an origin not reachable from the internet, "
        "or an origin slower than the response timeout.",
        (*_CONNECT, "http.latency"),
        f"{_FIREWALL}; make sure the origin is reachable from the internet; measure its time to "
        "first byte against the origin response timeout (30 s by default).",
        origin_side=True,
    ),
    EdgeCause(
        "OriginReadError",
        (502,),
        "CloudFront could not read the origin's response: the origin closed or reset the "
        "connection while answering.",
        ("http.response",),
        "Check the origin's logs for the request id (X-Amz-Cf-Id), its keep-alive and idle "
        "timeouts (longer than CloudFront's keep-alive timeout, 5 s by default), and any load "
        "balancer in front of it.",
        origin_side=True,
    ),
    EdgeCause(
        "OriginWriteError",
        (502,),
        "CloudFront could not send the request to the origin: the connection was closed.",
        ("http.response",),
        "Check the origin's keep-alive and idle timeouts and its request size limits.",
        origin_side=True,
    ),
    EdgeCause(
        "OriginError",
        (502,),
        "The origin returned an incorrect response.",
        ("http.response",),
        "Check the origin's raw response: status line, headers and body framing.",
        origin_side=True,
    ),
    EdgeCause(
        "OriginInvalidResponseError",
        (502,),
        "The origin returned an invalid HTTP response (malformed status line or headers, bad "
        "chunked framing, more than one 100-Continue).",
        ("http.response", "http.headers"),
        "Check the origin's raw response: status line, headers and body framing.",
        origin_side=True,
    ),
    EdgeCause(
        "OriginHeaderTooBigError",
        (502,),
        "A header from the origin is too big for CloudFront (headers are limited to 20,480 "
        "bytes in all).",
        ("http.headers",),
        "Shrink the origin's response headers (large Set-Cookie or CSP headers are the usual "
        "cause).",
        origin_side=True,
    ),
    EdgeCause(
        "OriginContentRangeLengthError",
        (502,),
        "The origin's Content-Length does not match the length in its Content-Range.",
        ("http.response",),
        "Check the origin's answers to range requests.",
        origin_side=True,
    ),
    EdgeCause(
        "OriginZeroSizeObjectError",
        (502,),
        "A zero-size object from the origin caused an error.",
        ("http.response",),
        "Check what the origin returns for this path.",
        origin_side=True,
    ),
    EdgeCause(
        "AbortedOrigin",
        (502,),
        "CloudFront ran into a problem with the origin while serving the request.",
        ("http.response",),
        "Check the origin's logs for the request id (X-Amz-Cf-Id) and the origin checks.",
        origin_side=True,
    ),
    # -- edge functions ---------------------------------------------------------------------------
    EdgeCause(
        "LambdaValidationError",
        (502,),
        "A Lambda@Edge function returned a response CloudFront rejects (malformed, too large, or "
        "adding or changing a read-only header).",
        _EDGE,
        "Check the Lambda@Edge functions on this cache behaviour: their CloudWatch logs (in the "
        "region of the edge location) and the shape and size of what they return.",
        documented=False,
    ),
    EdgeCause(
        "LambdaExecutionError",
        (503, 500),
        "A Lambda@Edge function failed: it threw, timed out, is not a published version in "
        "us-east-1, or CloudFront may not run it.",
        _EDGE,
        "Check the function's CloudWatch logs (in the region of the edge location), that it is a "
        "numbered version in us-east-1, and that its role trusts edgelambda.amazonaws.com.",
        documented=False,
    ),
    EdgeCause(
        "LambdaLimitExceeded",
        (503,),
        "A Lambda@Edge function was throttled or ran out of time (its concurrency or time limit "
        "was reached).",
        _EDGE,
        "Check the function's duration and throttles, and the account's Lambda concurrency quota "
        "in the region of the edge location.",
        documented=False,
    ),
    EdgeCause(
        "FunctionValidationError",
        (502,),
        "A CloudFront Function returned something CloudFront rejects (an invalid object, or a "
        "read-only header changed).",
        _EDGE,
        "Test the CloudFront Function with `aws cloudfront test-function` on this request.",
        documented=False,
    ),
    EdgeCause(
        "FunctionExecutionError",
        (503,),
        "A CloudFront Function failed to run: a runtime error, or over its compute budget.",
        _EDGE,
        "Test the CloudFront Function with `aws cloudfront test-function` (it shows the error and "
        "the compute used); check that the published LIVE version is the one you expect.",
        documented=False,
    ),
    # -- the edge refuses the viewer --------------------------------------------------------------
    EdgeCause(
        "ClientGeoBlocked",
        (403,),
        "The distribution's geographic restriction blocks the viewer's country.",
        _EDGE,
        "Check the distribution's geographic restrictions (allow or block list).",
    ),
    EdgeCause(
        "InvalidRequestBlocked",
        (403,),
        "Access is blocked at the edge, usually by an AWS WAF rule on the distribution.",
        _EDGE,
        "Check the web ACL attached to the distribution: its sampled requests show the rule "
        "that blocked this one.",
    ),
    EdgeCause(
        "InvalidRequestCertificate",
        (421, 403),
        "The distribution does not match the TLS certificate the viewer connected with: the "
        "name is not an alternate domain name of this distribution, or points at another one.",
        _EDGE,
        "Add the name to the distribution's alternate domain names with a certificate that covers "
        "it, and check that its DNS record points at this distribution.",
    ),
    EdgeCause(
        "InvalidRequest",
        (400, 403),
        "CloudFront refused the viewer's request as invalid (for example a Host that is not an "
        "alternate domain name of the distribution).",
        _EDGE,
        "Check the distribution's alternate domain names and the request's Host header.",
    ),
    EdgeCause(
        "InvalidRequestHeader",
        (400,),
        "The viewer's request had an invalid header.",
        _EDGE,
        "Check the headers the client sends.",
    ),
    EdgeCause(
        "InvalidRequestMethod",
        (403,),
        "The method is not allowed by the cache behaviour (GET and HEAD only by default).",
        _EDGE,
        "Allow the method in the cache behaviour's allowed methods.",
    ),
    EdgeCause(
        "LimitExceeded",
        (503,),
        "A CloudFront quota was exceeded.",
        _EDGE,
        "Check the distribution's quotas in Service Quotas and the request rate.",
    ),
    EdgeCause(
        "CapacityExceeded",
        (503,),
        "The edge location had no capacity for the request.",
        _EDGE,
        "Usually brief: try again; if it persists, contact AWS Support with the request id.",
    ),
    # -- the viewer's side ------------------------------------------------------------------------
    EdgeCause(
        "ClientCommError",
        (),
        "The response to the viewer was interrupted (a problem between CloudFront and the viewer).",
        (),
        "Nothing to fix on the origin: look at the viewer's network.",
    ),
    EdgeCause(
        "ClientHungUpRequest",
        (),
        "The viewer stopped while sending the request.",
        (),
        "Nothing to fix on the origin: look at the viewer.",
    ),
    EdgeCause(
        "SlowReaderOriginError",
        (),
        "The viewer read slowly the response to a request on which the origin failed.",
        (),
        "Look at the origin error behind it in the same log line's status.",
    ),
    EdgeCause(
        "Error",
        (),
        "An error that fits no other type: often the origin's own 4xx/5xx passed on, or an error "
        "served from CloudFront's error cache.",
        ("http.response", *_EDGE),
        "Request the origin directly to see whether the error is its own; CloudFront caches 5xx "
        "answers for at least 10 s, so ask again with a new query string.",
    ),
    # -- not errors -------------------------------------------------------------------------------
    EdgeCause("Hit", (), "Served from CloudFront's cache.", error=False),
    EdgeCause(
        "RefreshHit",
        (),
        "Found in the cache but expired; CloudFront revalidated it with the origin.",
        error=False,
    ),
    EdgeCause("Miss", (), "Not in the cache: forwarded to the origin.", error=False),
    EdgeCause(
        "Redirect",
        (),
        "Redirected by CloudFront from HTTP to HTTPS (the viewer protocol policy).",
        error=False,
    ),
    EdgeCause("OriginShieldHit", (), "Served from the Origin Shield cache.", error=False),
    EdgeCause(
        "FunctionGeneratedResponse",
        (),
        "Answered by a CloudFront Function without asking the origin.",
        error=False,
        documented=False,
    ),
    EdgeCause(
        "LambdaGeneratedResponse",
        (),
        "Answered by a Lambda@Edge function without asking the origin.",
        error=False,
        documented=False,
    ),
    EdgeCause(
        "MissGeneratedResponse",
        (),
        "Not in the cache; answered by an edge function.",
        error=False,
        documented=False,
    ),
)

CAUSES: Final[Mapping[str, EdgeCause]] = MappingProxyType({c.result_type: c for c in _ALL})
"""Every known result type (`x-edge-detailed-result-type`, `x-edge-result-type`, the first word
of `X-Cache`), by its exact spelling."""

_BY_LOWER = {name.lower(): cause for name, cause in CAUSES.items()}


def cause_for(result_type: str) -> EdgeCause | None:
    """The cause a result type names (any letter case), or None when it is not a known one."""
    return _BY_LOWER.get(result_type.strip().lower())


# -- X-Cache and response headers -----------------------------------------------------------------

_X_CACHE = re.compile(r"^\s*([A-Za-z]+)\s+from\s+cloudfront\s*$", re.IGNORECASE)


def x_cache_type(value: str) -> str | None:
    """The result type of an `X-Cache` value ("Error from cloudfront" -> "Error"), spelt as in
    CAUSES when known; None when the value is not CloudFront's."""
    m = _X_CACHE.match(value[:200])
    if m is None:
        return None
    word = m.group(1)
    known = cause_for(word)
    return known.result_type if known is not None else word


def cloudfront_header_signs(headers: Iterable[tuple[str, str]]) -> tuple[str, ...]:
    """The response headers that show CloudFront answered (e.g. `X-Cache: Error from cloudfront`),
    as "Name: value" lines; empty when none does."""
    signs: list[str] = []
    for name, value in headers:
        low = name.lower()
        v = value.strip()
        hit = (
            (low == "via" and "(cloudfront)" in v.lower())
            or (low == "x-cache" and x_cache_type(v) is not None)
            or low in ("x-amz-cf-id", "x-amz-cf-pop")
            or (low == "server" and v.lower() == "cloudfront")
        )
        if hit:
            signs.append(f"{name}: {v[:200]}")
    return tuple(signs)


def is_cloudfront_domain(name: str) -> bool:
    """True for a `*.cloudfront.net` name (a distribution's own domain)."""
    n = name.strip().rstrip(".").lower()
    return n.endswith(CLOUDFRONT_SUFFIX) and len(n) > len(CLOUDFRONT_SUFFIX)


# -- CloudFront's error page ----------------------------------------------------------------------

_PAGE_MARKS = ("The request could not be satisfied", "Generated by cloudfront")
_TAG = re.compile(r"<[^<>]+>")  # not `<[^>]+>`: a run of `<` would make that quadratic
_PAGE_CAP = 64 * 1024  # the page is about 1 KB; hostile bodies are cut before any regex runs


def _text(body: bytes | str) -> str:
    raw = body[:_PAGE_CAP]
    return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw


def is_error_page(body: bytes | str) -> bool:
    """True when `body` is CloudFront's own error page (or pasted text of it)."""
    text = _text(body)
    return any(mark.lower() in text.lower() for mark in _PAGE_MARKS)


def error_page_reason(body: bytes | str) -> str | None:
    """The cause CloudFront's error page names ("CloudFront wasn't able to connect to the
    origin."), "" when it is CloudFront's page without one, None when it is not its page."""
    text = _text(body)
    if not is_error_page(text):
        return None
    segment = _reason_segment(text)
    if segment is None:
        # Pasted page text has no markup: the sentence that names a known cause, if any.
        return next((s for s, _ in _PAGE_SENTENCES if s.lower() in text.lower()), "")
    import html  # (its entity table: only for an error page's reason)

    lines = [html.unescape(_TAG.sub("", line)).strip() for line in segment.splitlines()]
    reason = next((line for line in lines if line), "")
    return reason[:200]


def _reason_segment(text: str) -> str | None:
    """What lies between the page's first `<hr …>` and the `<br` after it, found in linear time
    (a regex search for it is quadratic on a body of many `<hr>` and no `<br`)."""
    low = text.lower()
    start = low.find("<hr")
    close = low.find(">", start) if start != -1 else -1
    end = low.find("<br", close) if close != -1 else -1
    return text[close + 1 : end] if end != -1 else None


# The sentences CloudFront's error page uses for each cause, and the result type they mean. The
# same sentence serves a 502 and a 504 for the origin: the status tells a refusal from a timeout.
_PAGE_SENTENCES: Final[tuple[tuple[str, str], ...]] = (
    ("CloudFront wasn't able to connect to the origin", "OriginConnectError"),
    (
        "CloudFront attempted to establish a connection with the origin, but either the attempt "
        "failed or the origin closed the connection",
        "OriginConnectError",
    ),
    ("CloudFront wasn't able to resolve the origin domain name", "OriginDnsError"),
    ("Failed to contact the origin", "OriginConnectError"),
    (
        "The Lambda function associated with the CloudFront distribution was throttled",
        "LambdaLimitExceeded",
    ),
    ("The Lambda function result failed validation", "LambdaValidationError"),
    ("The Lambda function returned an invalid", "LambdaValidationError"),
    (
        "The Lambda function associated with the CloudFront distribution is invalid",
        "LambdaExecutionError",
    ),
    (
        "The CloudFront function associated with the CloudFront distribution is invalid",
        "FunctionExecutionError",
    ),
    ("The CloudFront function returned an invalid", "FunctionValidationError"),
    ("configured to block access from your country", "ClientGeoBlocked"),
    ("Request blocked", "InvalidRequestBlocked"),
    ("does not match the certificate", "InvalidRequestCertificate"),
    (
        "This distribution is not configured to allow the HTTP request method",
        "InvalidRequestMethod",
    ),
    ("Bad request", "InvalidRequest"),
)


def page_cause(reason: str, status: int | None = None) -> EdgeCause | None:
    """The cause a sentence of CloudFront's error page names (see `error_page_reason`), given
    the status it came with; None when the sentence names no known cause."""
    low = reason.lower()
    for sentence, result_type in _PAGE_SENTENCES:
        if sentence.lower() in low:
            if result_type == "OriginConnectError" and status == 504:
                return CAUSES["OriginCommError"]  # the same words, but the origin timed out
            return CAUSES[result_type]
    return None


def interpret(
    status: int | None, x_cache: str | None = None, page_reason: str | None = None
) -> EdgeCause | None:
    """The best-supported cause of one CloudFront answer: the error page's own sentence first,
    then a specific `X-Cache` value, then the status of an answer CloudFront generated itself
    (a bare 502 or 504 with `X-Cache: Error`). None when nothing names a cause."""
    if page_reason:
        found = page_cause(page_reason, status)
        if found is not None:
            return found
    kind = x_cache_type(x_cache) if x_cache else None
    known = cause_for(kind) if kind else None
    if known is not None and known.result_type != "Error":
        return known
    # X-Cache says "Error" for the origin's own 5xx too: only CloudFront's page proves it generated
    # the answer itself.
    generated = page_reason is not None
    if generated and status == 502:
        return CAUSES["OriginConnectError"]
    if generated and status == 504:
        return CAUSES["OriginCommError"]
    return known
