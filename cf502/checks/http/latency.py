"""`http.latency`: connect, TLS and first byte come within CloudFront's timeouts."""

from __future__ import annotations

from cf502.checks.http._check import NEAR, HttpCheck
from cf502.checks.http._exchange import Exchange
from cf502.checks.http._report import ExchangeFinding, cap, exchange_evidence, ms, not_reached
from cf502.checks.http.headers import HEADER_LIMIT
from cf502.model import Status
from cf502.settings import OriginSettings

__all__ = ["Latency", "judge_latency"]


class Latency(HttpCheck):
    """`http.latency`: connect, TLS and first byte come within CloudFront's timeouts."""

    id = "http.latency"
    title = "Response time"

    def judge(self, ex: Exchange, origin: OriginSettings, hosts: frozenset[str]) -> ExchangeFinding:
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


def judge_latency(ex: Exchange, origin: OriginSettings) -> ExchangeFinding:
    """Pure verdict on the timings against CloudFront's connection and response timeouts."""
    skipped = not_reached(ex)
    if skipped is not None:
        return skipped
    r = ex.response
    read = ex.timeouts.response
    tries = _retries(origin)
    slow_fix = (
        f"Make the origin answer {ex.target} faster (CloudFront's access logs show "
        f"time-to-first-byte), or raise the origin response timeout (now {read:g} s; up to "
        "120 s, more with a quota increase)."
    )
    if ex.timeout == "head":
        return ExchangeFinding(
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
        return ExchangeFinding(
            Status.FAIL,
            f"The origin {after} within the {read:g} s response timeout "
            f"(connect {ms(ex.connect.elapsed_ms)}): {consequence}.",
            slow_fix,
            None if during_body else 504,
            "OriginCommError",
        )
    if ex.ttfb_ms is None:
        return ExchangeFinding(Status.SKIP, "Not measured: no response arrived; see http.response.")
    timings = (
        f"connect {ms(ex.connect.elapsed_ms)}"
        + (f", TLS {ms(ex.tls_ms)}" if ex.scheme == "https" else "")
        + f", first byte {ms(ex.ttfb_ms)}, total {ms(ex.total_ms)}"
    )
    connect_share = ex.connect.elapsed_ms / (ex.timeouts.connect * 1000)
    ttfb_share = ex.ttfb_ms / (read * 1000)
    if ttfb_share > NEAR:
        return ExchangeFinding(
            Status.WARN,
            f"The first byte came after {ms(ex.ttfb_ms)}, {ttfb_share:.0%} of the {read:g} s "
            f"response timeout ({timings}): a little slower and CloudFront answers 504.",
            slow_fix,
            504,
            "OriginCommError",
        )
    if connect_share > NEAR:
        return ExchangeFinding(
            Status.WARN,
            f"Connecting took {ms(ex.connect.elapsed_ms)}, {connect_share:.0%} of the "
            f"{ex.timeouts.connect:g} s connection timeout ({timings}).",
            "Find out why connections to the origin are slow (overloaded accept queue, "
            "distant region, packet loss), or raise the connection timeout (at most 10 s).",
            504,
            "OriginCommError",
        )
    note = ""
    if ex.timeout == "budget":
        note = f"; reading stopped after {ms(ex.total_ms)} while the body was still arriving"
    return ExchangeFinding(Status.PASS, f"{cap(timings)} ({_limits_words(origin)}){note}.")


def _unfinished_head_words(ex: Exchange) -> str:
    """Why an unfinished head predicts 504, for the evidence."""
    read = ex.timeouts.response
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
