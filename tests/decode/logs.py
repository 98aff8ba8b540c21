"""Realistic CloudFront standard-log records, built field by field as CloudFront writes them.

The field order is written out here from the documented `#Fields:` header (not taken from the
code under test), so a wrong default order in the decoder fails the tests.
"""

from __future__ import annotations

import json
from typing import Any

FIELDS_HEADER = (
    "#Fields: date time x-edge-location sc-bytes c-ip cs-method cs(Host) cs-uri-stem sc-status "
    "cs(Referer) cs(User-Agent) cs-uri-query cs(Cookie) x-edge-result-type x-edge-request-id "
    "x-host-header cs-protocol cs-bytes time-taken x-forwarded-for ssl-protocol ssl-cipher "
    "x-edge-response-result-type cs-protocol-version fle-status fle-encrypted-fields c-port "
    "time-to-first-byte x-edge-detailed-result-type sc-content-type sc-content-len "
    "sc-range-start sc-range-end"
)
FIELDS = FIELDS_HEADER.split()[1:]
HEADER = f"#Version: 1.0\n{FIELDS_HEADER}"
REQUEST_ID = "Zx2v3_Ab9kq0x3v7Jd1sQbqk1K3cPZ0t8oHn0d7y1Qm2xk0w9bYcQ=="
DIST = "d111111abcdef8.cloudfront.net"
SITE = "www.example.com"


def record(
    detailed: str,
    status: int,
    *,
    result: str | None = None,
    host: str = SITE,
    path: str = "/api/orders",
    protocol: str = "https",
    time_taken: str = "0.012",
    **fields: str,
) -> dict[str, str]:
    """One request's fields, as CloudFront logs a request that ended in `detailed`."""
    if result is None:
        result = detailed if detailed in ("Hit", "Miss", "RefreshHit", "Redirect") else "Error"
    values = {
        "date": "2024-05-01",
        "time": "12:00:01",
        "x-edge-location": "LHR61-P1",
        "sc-bytes": "915",
        "c-ip": "203.0.113.9",
        "cs-method": "GET",
        "cs(Host)": DIST,
        "cs-uri-stem": path,
        "sc-status": str(status),
        "cs(Referer)": "https://www.example.com/checkout",
        "cs(User-Agent)": "Mozilla/5.0%20(X11;%20Linux%20x86_64)%20Firefox/125.0",
        "cs-uri-query": "id=7",
        "cs(Cookie)": "-",
        "x-edge-result-type": result,
        "x-edge-request-id": REQUEST_ID,
        "x-host-header": host,
        "cs-protocol": protocol,
        "cs-bytes": "120",
        "time-taken": time_taken,
        "x-forwarded-for": "-",
        "ssl-protocol": "TLSv1.3" if protocol == "https" else "-",
        "ssl-cipher": "TLS_AES_128_GCM_SHA256" if protocol == "https" else "-",
        "x-edge-response-result-type": result,
        "cs-protocol-version": "HTTP/2.0",
        "fle-status": "-",
        "fle-encrypted-fields": "-",
        "c-port": "51234",
        "time-to-first-byte": time_taken,
        "x-edge-detailed-result-type": detailed,
        "sc-content-type": "text/html",
        "sc-content-len": "915",
        "sc-range-start": "-",
        "sc-range-end": "-",
    }
    values.update(fields)
    return values


def w3c(detailed: str, status: int, **kw: Any) -> str:
    """One W3C line (tab-separated, in the documented order)."""
    values = record(detailed, status, **kw)
    return "\t".join(values[name] for name in FIELDS)


def json_line(detailed: str, status: int, **kw: Any) -> str:
    """One v2 JSON record: W3C names as keys, numbers as JSON numbers."""
    values: dict[str, Any] = dict(record(detailed, status, **kw))
    for name in ("sc-status", "sc-bytes", "cs-bytes", "c-port"):
        values[name] = int(values[name])
    for name in ("time-taken", "time-to-first-byte"):
        values[name] = float(values[name])
    return json.dumps(values)
