"""`http.response`: the origin's reply is a complete, well-formed HTTP/1.1 response."""

from __future__ import annotations

from cf502.checks.http._check import HttpCheck
from cf502.checks.http._exchange import Exchange
from cf502.checks.http._report import (
    ExchangeFinding,
    cap,
    exchange_evidence,
    not_reached,
    status_line,
)
from cf502.checks.http._wire import BODY_CAP, HEAD_CAP
from cf502.model import Status
from cf502.settings import OriginSettings

__all__ = ["ERROR_TTL", "Response", "judge_response"]

ERROR_TTL = 10  # seconds: CloudFront's default error-caching minimum TTL (facts §7.7)


class Response(HttpCheck):
    """`http.response`: the origin's reply is a complete, well-formed HTTP/1.1 response."""

    id = "http.response"
    title = "HTTP response"

    def judge(self, ex: Exchange, origin: OriginSettings, hosts: frozenset[str]) -> ExchangeFinding:
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


def judge_response(ex: Exchange) -> ExchangeFinding:
    """Pure verdict on the reply's framing and syntax (timeouts and sizes are other checks')."""
    skipped = not_reached(ex)
    if skipped is not None:
        return skipped
    r = ex.response
    where = f"({ex.scheme.upper()} port {ex.port})"
    kind = r.error_kind
    if kind == "interim-flood":
        return ExchangeFinding(
            Status.FAIL,
            f"{cap(r.error or '')} {where}: CloudFront gets no response to pass on.",
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
        return ExchangeFinding(
            Status.FAIL,
            f"{cap(r.error or '')} {where}.",
            fix,
            502,
            "OriginInvalidResponseError",
        )
    if kind in ("empty", "closed-in-head"):
        return ExchangeFinding(
            Status.FAIL,
            f"{cap(r.error or '')} {where}" + (f" ({ex.io_error})" if ex.io_error else "") + ".",
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
        return ExchangeFinding(
            Status.FAIL,
            f"{cap(r.error or '')} ({status_line(ex)}): CloudFront has already passed the "
            "headers on, so viewers get a cut-off response, and CloudFront does not cache it.",
            "Fix the origin so the body it sends matches its framing (a Content-Length that is "
            "the real size, or valid chunked encoding ending with a 0-size chunk), and look for "
            "the origin closing connections mid-response (worker timeouts, crashes, proxies).",
            None,
            error,
        )
    if ex.io_error and not r.started:
        return ExchangeFinding(Status.ERROR, f"The request could not be made: {ex.io_error}.")
    if ex.timeout == "head":
        return ExchangeFinding(
            Status.SKIP,
            f"Not judged: {r.raw_bytes:,} bytes came but the status line and headers were not "
            "complete within the response timeout; see http.latency.",
        )
    if ex.timeout is not None and not r.complete and ex.timeout != "budget":
        got = f"after {r.raw_bytes} bytes" if r.raw_bytes else "before any byte"
        return ExchangeFinding(
            Status.SKIP, f"Not judged: the response stopped {got} (a timeout); see http.latency."
        )
    if r.head_cap_hit:
        return ExchangeFinding(
            Status.SKIP,
            f"Not judged: the headers did not end within {HEAD_CAP:,} bytes; see http.headers.",
        )
    if r.status is None:
        return ExchangeFinding(Status.SKIP, "Not judged: no response was read; see http.latency.")
    return _judge_status(ex, r.status)


def _judge_status(ex: Exchange, status: int) -> ExchangeFinding:
    r = ex.response
    body = _body_words(ex)
    if status >= 500:
        return ExchangeFinding(
            Status.FAIL,
            f"The origin itself answers {status} {r.reason} ({status_line(ex)}): CloudFront "
            f"passes it on and caches it for the error-caching TTL ({ERROR_TTL} s by default).",
            f"Look at the origin application and what is behind it: the {status} comes from "
            f"the origin, not from CloudFront. Search its logs for X-Amz-Cf-Id {ex.request_id}.",
            status,
            None,
        )
    if r.framing == "close" and r.complete:
        return ExchangeFinding(
            Status.WARN,
            f"{status_line(ex)} parses, but the body has neither Content-Length nor chunked "
            f"encoding ({body}): CloudFront cannot tell a cut-off body from a complete one and "
            "may cache a truncated object.",
            "Have the origin send Content-Length or use chunked transfer encoding.",
        )
    return ExchangeFinding(
        Status.PASS, f"{status_line(ex)}: status line and headers parse; {body}."
    )


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
