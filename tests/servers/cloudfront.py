"""A fake CloudFront edge on loopback that answers like CloudFront does, and a DNS zone in which a
site is served by it.

`edge_handler(kind)` answers every request the way an edge answers in one situation (`ANSWERS`):
its own error page ("The request could not be satisfied", with the sentence naming the cause),
`X-Cache`, `X-Amz-Cf-Pop`, a fresh `X-Amz-Cf-Id` per request and `Via`; or a healthy cache hit;
or an error from behind CloudFront passed on. Run it with `HttpServer(tls=..., routes={},
default=edge_handler(kind))` (or `HttpServerThread` for a real cf502 process).

`site_zones(edge)` serves `www.example.test` as a CNAME to `d111abc.cloudfront.net` (resolving to
`edge`) and `origin.example.test` as the origin behind it, with the usual name servers.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from cf502.demo.origins import cloudfront_error_page
from tests.servers.dns import NS_ADDRESSES, ORIGIN_ADDRESS, Zones
from tests.servers.http import Conn, Handler, response

__all__ = [
    "ANSWERS",
    "CF_DOMAIN",
    "POP",
    "Answer",
    "edge_handler",
    "error_page",
    "site_zones",
]

CF_DOMAIN = "d111abc.cloudfront.net"
POP = "FRA56-P4"
_VIA = "1.1 5f1e0d2c3b4a59687766554433221100.cloudfront.net (CloudFront)"


@dataclass(frozen=True, slots=True)
class Answer:
    """One way an edge answers.

    Attributes:
        status / reason: the status line.
        x_cache: the X-Cache value ("" for none).
        sentence: the sentence of CloudFront's error page naming the cause; None for a body that
            is not CloudFront's page.
        cloudfront_headers: send Server/X-Cache/X-Amz-Cf-*/Via (False: a proxy stripped them).
    """

    status: int
    reason: str
    x_cache: str
    sentence: str | None = None
    cloudfront_headers: bool = True


ANSWERS: dict[str, Answer] = {
    "connect-502": Answer(
        502,
        "Bad Gateway",
        "Error from cloudfront",
        "CloudFront wasn't able to connect to the origin.",
    ),
    "timeout-504": Answer(
        504,
        "Gateway Timeout",
        "Error from cloudfront",
        "CloudFront attempted to establish a connection with the origin, but either the attempt "
        "failed or the origin closed the connection.",
    ),
    "lambda-validation-502": Answer(
        502,
        "Bad Gateway",
        "LambdaValidationError from cloudfront",
        "The Lambda function returned an invalid response.",
    ),
    "lambda-execution-503": Answer(
        503,
        "Service Unavailable",
        "LambdaExecutionError from cloudfront",
        "The Lambda function associated with the CloudFront distribution is invalid or doesn't "
        "have the required permissions.",
    ),
    "waf-403": Answer(403, "Forbidden", "Error from cloudfront", "Request blocked."),
    "geo-403": Answer(
        403,
        "Forbidden",
        "Error from cloudfront",
        "The Amazon CloudFront distribution is configured to block access from your country.",
    ),
    "hit-200": Answer(200, "OK", "Hit from cloudfront"),
    "relayed-502": Answer(502, "Bad Gateway", "Error from cloudfront"),
    "bare-page-502": Answer(
        502,
        "Bad Gateway",
        "",
        "CloudFront wasn't able to connect to the origin.",
        cloudfront_headers=False,
    ),
}


error_page = cloudfront_error_page  # the one copy of the page, shared with `cf502 demo`


def edge_handler(kind: str) -> Handler:
    """A handler answering every request like an edge in situation `kind` (a key of ANSWERS)."""
    answer = ANSWERS[kind]

    async def handle(c: Conn) -> None:
        request_id = secrets.token_urlsafe(42)[:56]
        headers: list[tuple[str, str]] = [("Content-Type", "text/html")]
        if answer.cloudfront_headers:
            headers += [
                ("Server", "CloudFront" if answer.sentence else "nginx"),
                ("X-Cache", answer.x_cache),
                ("X-Amz-Cf-Pop", POP),
                ("X-Amz-Cf-Id", request_id),
                ("Via", _VIA),
            ]
        if answer.sentence is not None:
            body = error_page(answer.status, answer.sentence, request_id)
        elif answer.status >= 500:
            body = b"<html><body>upstream application is down</body></html>"
        else:
            body = b"<html><body>hello from behind CloudFront</body></html>"
        await c.send(response(answer.status, answer.reason, headers, body))

    return handle


def site_zones(edge: str = "127.0.0.1", *, origin: str = ORIGIN_ADDRESS) -> Zones:
    """`www.example.test` -> CNAME `d111abc.cloudfront.net` -> `edge`; `origin.example.test` ->
    `origin`; `plain.example.test` -> `edge` with no CNAME (a Route 53 alias looks like that)."""
    ns_lines = "\n".join(f"@ NS {name}" for name in NS_ADDRESSES)
    glue = "\n".join(f"{name} A {addr}" for name, addr in NS_ADDRESSES.items())
    example = f"""
$TTL 300
@ SOA ns1 hostmaster 2024010101 3600 600 86400 300
{ns_lines}
{glue}
www CNAME {CF_DOMAIN}.
origin A {origin}
plain A {edge}
"""
    cloudfront = f"""
$TTL 60
@ SOA ns1.example.test. hostmaster.example.test. 1 3600 600 86400 60
@ NS ns1.example.test.
{CF_DOMAIN.removesuffix(".cloudfront.net")} A {edge}
"""
    return Zones.from_text({"example.test.": example, "cloudfront.net.": cloudfront})
