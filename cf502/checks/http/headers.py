"""`http.headers`: the origin's response headers fit CloudFront's 20,480-byte limit."""

from __future__ import annotations

from cf502.checks.http._check import NEAR, HttpCheck
from cf502.checks.http._exchange import Exchange
from cf502.checks.http._report import ExchangeFinding, exchange_evidence, not_reached
from cf502.checks.http._wire import HEAD_CAP
from cf502.model import Status
from cf502.settings import OriginSettings

__all__ = ["HEADER_LIMIT", "Headers", "judge_headers"]

# cloudfront-facts.md §4.1: origin response headers (status line + headers) at most 20,480 bytes.
HEADER_LIMIT = 20_480


class Headers(HttpCheck):
    """`http.headers`: the response headers fit CloudFront's 20,480-byte limit."""

    id = "http.headers"
    title = "Response header size"

    def judge(self, ex: Exchange, origin: OriginSettings, hosts: frozenset[str]) -> ExchangeFinding:
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


def judge_headers(ex: Exchange) -> ExchangeFinding:
    """Pure verdict on the size of the response's header block."""
    skipped = not_reached(ex)
    if skipped is not None:
        return skipped
    r = ex.response
    if r.head_cap_hit:
        return ExchangeFinding(
            Status.FAIL,
            f"The origin's headers run past {HEAD_CAP:,} bytes, where reading stopped "
            f"(CloudFront's limit is {HEADER_LIMIT:,}).",
            _HEADERS_FIX + " A header block that never ends is usually a bug in the origin.",
            502,
            "OriginHeaderTooBigError",
        )
    if r.head_bytes is None:
        return ExchangeFinding(
            Status.SKIP, "Not measured: no complete response headers; see http.response."
        )
    size = r.head_bytes
    largest = _largest(ex)
    share = size / HEADER_LIMIT
    if size > HEADER_LIMIT:
        return ExchangeFinding(
            Status.FAIL,
            f"The response headers are {size:,} bytes, over CloudFront's {HEADER_LIMIT:,}-byte "
            f"limit; largest: {largest}.",
            _HEADERS_FIX,
            502,
            "OriginHeaderTooBigError",
        )
    if share > NEAR:
        return ExchangeFinding(
            Status.WARN,
            f"The response headers are {size:,} bytes, {share:.0%} of CloudFront's "
            f"{HEADER_LIMIT:,}-byte limit; largest: {largest}. A little more (a cookie) and "
            "CloudFront answers 502.",
            _HEADERS_FIX,
            502,
            "OriginHeaderTooBigError",
        )
    return ExchangeFinding(
        Status.PASS,
        f"The response headers are {size:,} bytes (CloudFront's limit is {HEADER_LIMIT:,}); "
        f"largest: {largest or 'none'}.",
    )
