"""The short things people paste besides log lines: a result-type value, an `X-Cache` value, a
block of response headers (`curl -sI` output) and CloudFront's error page. Pure; linear in the
input's size.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass

from cf502.cloudfront_errors import cause_for, error_page_reason, is_error_page, x_cache_type

__all__ = ["Headers", "Page", "parse_headers", "parse_page", "result_type_value"]

# `x-edge-detailed-result-type: OriginDnsError`, `x-edge-result-type=Error`, or the bare value.
_NAMED_VALUE = re.compile(
    r"(?:x-edge-(?:detailed-|response-)?result-type\s*[:=]\s*)?([A-Za-z]{2,64})", re.IGNORECASE
)
_STATUS_LINE = re.compile(r"HTTP/\d(?:\.\d)?\s+(\d{3})\b")
_HEADER = re.compile(r"([A-Za-z0-9-]{1,64})\s*:\s*(.*)")
_PAGE_STATUS = re.compile(r"\b([45]\d\d) ERROR\b")
_REQUEST_ID = re.compile(r"Request ID:\s*([A-Za-z0-9_=.-]{1,128})")
_PAGE_CAP = 64 * 1024  # CloudFront's page is about 1 KB
MAX_HEADER_VALUE = 512


def result_type_value(text: str) -> str | None:
    """A known result type, spelt as CloudFront spells it, when `text` is one (optionally with its
    field name); None otherwise."""
    m = _NAMED_VALUE.fullmatch(text.strip())
    if m is None:
        return None
    cause = cause_for(m.group(1))
    return cause.result_type if cause is not None else None


@dataclass(frozen=True)
class Headers:
    """A CloudFront answer's `X-Cache` and what else of its status line and headers was pasted.

    Attributes:
        x_cache: the `X-Cache` value's result type ("Error").
        status: the status line's code, or None.
        pop / request_id: `X-Amz-Cf-Pop` / `X-Amz-Cf-Id`, or None.
    """

    x_cache: str
    status: int | None = None
    pop: str | None = None
    request_id: str | None = None


def parse_headers(lines: Sequence[str]) -> Headers | None:
    """The headers among `lines` (`X-Cache: Hit from cloudfront`, or a lone `X-Cache` value);
    None without an `X-Cache` value of CloudFront's."""
    if len(lines) == 1 and (kind := x_cache_type(lines[0])) is not None:
        return Headers(kind)
    status: int | None = None
    found: dict[str, str] = {}
    for line in lines:
        text = line.strip()
        if (m := _STATUS_LINE.match(text)) is not None:
            status = int(m.group(1))
        elif (h := _HEADER.fullmatch(text)) is not None:
            found.setdefault(h.group(1).lower(), h.group(2).strip()[:MAX_HEADER_VALUE])
    kind = x_cache_type(found["x-cache"]) if "x-cache" in found else None
    if kind is None:
        return None
    return Headers(kind, status, found.get("x-amz-cf-pop"), found.get("x-amz-cf-id"))


@dataclass(frozen=True)
class Page:
    """CloudFront's error page: the status it shows, the reason it gives ("" when none) and its
    request id."""

    status: int | None
    reason: str
    request_id: str | None


def parse_page(text: str) -> Page | None:
    """CloudFront's error page (HTML, or its text as a browser shows it), or None."""
    body = text[:_PAGE_CAP]
    if not is_error_page(body):
        return None
    reason = error_page_reason(body) or ""
    plain = html.unescape(body)
    status = _PAGE_STATUS.search(plain)
    request_id = _REQUEST_ID.search(plain)
    return Page(
        int(status.group(1)) if status else None,
        " ".join(reason.split()),
        request_id.group(1) if request_id else None,
    )
