"""The demo's origins: what each one gets wrong, and what a diagnosis must find. Pure data.

Every name lives in the demo's own zone (`demo.example`, a name reserved for examples) or in the
look-alike `cloudfront.net` zone the demo's DNS serves; all of them resolve to loopback.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cf502.demo.origins import Answer

__all__ = ["DOMAIN", "EDGE_NAME", "SCENARIOS", "Scenario", "by_name", "zones"]

DOMAIN = "demo.example"
EDGE_NAME = "d1demo2edge3abc.cloudfront.net"
HOST = "127.0.0.1"


@dataclass(frozen=True)
class Scenario:
    """One demo origin.

    Attributes:
        name: what `--show` takes.
        host: the origin name diagnosed.
        fault: what is wrong with it, in words.
        expected: the check id a diagnosis must name as the likely cause (None: nothing fails).
        answer: how its HTTPS server answers; None when nothing listens on its port.
        cert_names: the names on its certificate.
        expired / with_intermediate: how its certificate is broken.
        cname: the name its DNS record points at, when it is an alias.
        origin: CloudFront origin settings differing from the demo's defaults.
    """

    name: str
    host: str
    fault: str
    expected: str | None
    answer: Answer | None = Answer.OK
    cert_names: tuple[str, ...] = ()
    expired: bool = False
    with_intermediate: bool = True
    cname: str | None = None
    origin: dict[str, Any] = field(default_factory=dict)

    @property
    def names(self) -> tuple[str, ...]:
        return self.cert_names or (self.host,)


SCENARIOS: tuple[Scenario, ...] = (
    Scenario("healthy", f"healthy.{DOMAIN}", "nothing: a healthy origin", None),
    Scenario(
        "expired-cert",
        f"expired.{DOMAIN}",
        "its certificate expired 3 days ago",
        "tls.cert.expiry",
        expired=True,
    ),
    Scenario(
        "wrong-name",
        f"wrong-name.{DOMAIN}",
        "its certificate is for another name",
        "tls.cert.hostname",
        cert_names=(f"www.other.{DOMAIN}",),
    ),
    Scenario(
        "missing-intermediate",
        f"chain.{DOMAIN}",
        "it serves its certificate without the intermediate",
        "tls.cert.chain",
        with_intermediate=False,
    ),
    Scenario(
        "closed-port",
        f"closed.{DOMAIN}",
        "nothing listens on its HTTPS port",
        "tcp.https",
        answer=None,
    ),
    Scenario(
        "slow",
        f"slow.{DOMAIN}",
        "its first byte comes after the 2 s response timeout",
        "http.latency",
        answer=Answer.SLOW,
        origin={"read_timeout": 2},
    ),
    Scenario(
        "big-headers",
        f"headers.{DOMAIN}",
        "its response headers are over CloudFront's 20,480-byte limit",
        "http.headers",
        answer=Answer.BIG_HEADERS,
    ),
    Scenario(
        "cloudfront-site",
        f"shop.{DOMAIN}",
        "it is the CloudFront site itself, answering CloudFront's 502 page",
        "cloudfront.edge",
        answer=Answer.EDGE_502,
        cert_names=(f"shop.{DOMAIN}", "*.cloudfront.net"),
        cname=EDGE_NAME,
    ),
)


def by_name(name: str) -> Scenario | None:
    return next((s for s in SCENARIOS if s.name == name), None)


def zones(scenarios: tuple[Scenario, ...] = SCENARIOS) -> dict[str, str]:
    """The zone files of the demo's DNS: every origin and the edge on loopback."""
    records = []
    for s in scenarios:
        label = s.host.removesuffix(f".{DOMAIN}")
        records.append(f"{label} CNAME {s.cname}." if s.cname else f"{label} A {HOST}")
    demo = "\n".join(
        [
            "$TTL 60",
            "@ SOA ns1 hostmaster 2026010101 3600 600 86400 60",
            "@ NS ns1",
            f"ns1 A {HOST}",
            *records,
        ]
    )
    label = EDGE_NAME.removesuffix(".cloudfront.net")
    edge = "\n".join(
        [
            "$TTL 60",
            f"@ SOA ns1.{DOMAIN}. hostmaster.{DOMAIN}. 1 3600 600 86400 60",
            f"@ NS ns1.{DOMAIN}.",
            f"{label} A {HOST}",
        ]
    )
    return {f"{DOMAIN}.": demo, "cloudfront.net.": edge}
