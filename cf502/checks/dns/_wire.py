"""Reading DNS answers: CNAME chains, answers in words, one name server's replies judged. Pure.

Everything here takes dnspython messages and returns plain data, so it is unit-tested with
messages built in memory; the I/O lives in `_lookup`.
"""

from __future__ import annotations

import errno
import re
from collections.abc import Sequence
from dataclasses import dataclass

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype

from cf502.net import os_error_words

__all__ = [
    "AwsEndpoint",
    "ServerAnswer",
    "aws_endpoint",
    "cname_chain",
    "describe_answer",
    "server_answer",
    "zone_of_nodata",
]

# Longest answer text kept for humans; comparisons use the full answer.
_SHOWN_VALUES = 8


@dataclass(frozen=True)
class AwsEndpoint:
    """An AWS service endpoint recognised in the origin name or its CNAME chain.

    Attributes:
        kind: "elb", "s3-website" or "api-gateway".
        name: the endpoint name as found.
        region: its region, when the name carries one.
    """

    kind: str
    name: str
    region: str | None

    @property
    def noun(self) -> str:
        return {
            "elb": "Elastic Load Balancing load balancer",
            "s3-website": "Amazon S3 website endpoint",
            "api-gateway": "Amazon API Gateway endpoint",
        }[self.kind]

    @property
    def label(self) -> str:
        """E.g. "an Amazon S3 website endpoint in us-east-1"."""
        article = "an" if self.noun[0] in "AEIOU" else "a"
        return f"{article} {self.noun}" + (f" in {self.region}" if self.region else "")

    @property
    def internal(self) -> bool:
        """An internal load balancer: private addresses CloudFront cannot reach over the internet."""
        return self.kind == "elb" and self.name.startswith(("internal-", "dualstack.internal-"))


_SUFFIX = r"\.amazonaws\.com(?:\.cn)?$"
_AWS_PATTERNS = (
    # Classic/Application LB: name-123.us-east-1.elb.amazonaws.com
    ("elb", re.compile(r"\.([a-z]{2}(?:-[a-z]+)+-\d+)\.elb" + _SUFFIX)),
    # Network LB: name-0123abcd.elb.us-east-1.amazonaws.com
    ("elb", re.compile(r"\.elb\.([a-z]{2}(?:-[a-z]+)+-\d+)" + _SUFFIX)),
    ("elb", re.compile(r"\.elb" + _SUFFIX)),
    # bucket.s3-website-us-east-1.amazonaws.com and bucket.s3-website.eu-central-1.amazonaws.com
    ("s3-website", re.compile(r"(?:^|\.)s3-website[-.]([a-z0-9-]+)" + _SUFFIX)),
    ("api-gateway", re.compile(r"\.execute-api\.([a-z0-9-]+)" + _SUFFIX)),
)


def aws_endpoint(names: Sequence[str]) -> AwsEndpoint | None:
    """The first AWS endpoint among `names` (the origin name, then its CNAME targets)."""
    for raw in names:
        name = raw.rstrip(".").lower()
        for kind, pattern in _AWS_PATTERNS:
            match = pattern.search(name)
            if match:
                region = match.group(1) if pattern.groups else None
                return AwsEndpoint(kind, name, region)
    return None


def _text(name: dns.name.Name) -> str:
    return name.to_text(omit_final_dot=True)


def cname_chain(response: dns.message.Message | None, qname: str) -> tuple[str, ...]:
    """The CNAME targets followed from `qname` in `response`'s answer section, in order."""
    if response is None:
        return ()
    cnames: dict[dns.name.Name, dns.name.Name] = {}
    for rrset in response.answer:
        if rrset.rdtype == dns.rdatatype.CNAME and len(rrset):
            cnames[rrset.name] = next(iter(rrset)).target
    chain: list[str] = []
    current = dns.name.from_text(qname)
    while current in cnames and len(chain) < 16:  # a looping chain must not loop here
        current = cnames[current]
        chain.append(_text(current))
    return tuple(chain)


def zone_of_nodata(response: dns.message.Message | None, qname: str) -> str | None:
    """The zone a NODATA or NXDOMAIN answer for `qname` itself names: the owner of the SOA in its
    authority section, when that is `qname` or one of its ancestors (what a resolver's zone walk
    takes from the same answer to its first SOA query). None for an answer with records (e.g. a
    CNAME: the SOA would then be the target's zone) or without such an SOA."""
    if response is None or response.answer:
        return None
    name = dns.name.from_text(qname)
    for rrset in response.authority:
        if rrset.rdtype == dns.rdatatype.SOA and name.is_subdomain(rrset.name):
            return None if rrset.name == dns.name.root else _text(rrset.name)
    return None


def describe_answer(response: dns.message.Message, rdtype: str) -> str:
    """What a name server answered for one type, in words: "127.0.0.10", "NXDOMAIN",
    "CNAME lb.example.net", "no AAAA record". The full text: callers shorten it for display."""
    rcode = response.rcode()
    if rcode != dns.rcode.NOERROR:
        return dns.rcode.to_text(rcode)
    wanted = dns.rdatatype.from_text(rdtype)
    parts: list[str] = []
    values: list[str] = []
    for rrset in response.answer:
        if rrset.rdtype == dns.rdatatype.CNAME:
            parts.extend(f"CNAME {_text(rd.target)}" for rd in rrset)
        elif rrset.rdtype == wanted:
            values.extend(rd.to_text() for rd in rrset)
    parts.extend(sorted(values))
    return ", ".join(parts) if parts else f"no {rdtype} record"


def shorten(text: str, limit: int = _SHOWN_VALUES) -> str:
    """At most `limit` comma-separated items, then "(+N more)"."""
    items = text.split(", ")
    if len(items) <= limit:
        return text
    return ", ".join(items[:limit]) + f" (+{len(items) - limit} more)"


@dataclass(frozen=True)
class ServerAnswer:
    """What one name server address said, or why it was not asked.

    Attributes:
        ns: the name server's name, e.g. "ns2.example.com".
        address: the address asked.
        status: "ok"; lame: "silent" (no answer in time), "refused", "servfail", "rcode" (another
            error rcode), "not-authoritative" (no AA flag), "no-soa", "closed" (port refused),
            "error" (unusable answer); not asked: "blocked" (safety), "unreachable" (from here).
        detail: specifics (the rcode, the blocked reason, the OS error).
        answers: per type asked, what it answered for the origin, e.g. ("A: 192.0.2.1",).
        serial: its SOA serial for the zone.
        tcp: the answer came over TCP after a truncated UDP answer.
        elapsed_ms: time to answer (or to give up).
    """

    ns: str
    address: str
    status: str
    detail: str = ""
    answers: tuple[str, ...] = ()
    serial: int | None = None
    tcp: bool = False
    elapsed_ms: float = 0.0

    @property
    def who(self) -> str:
        return f"{self.ns} ({self.address})"

    @property
    def queried(self) -> bool:
        return self.status not in ("blocked", "unreachable")

    @property
    def lame(self) -> bool:
        return self.queried and self.status != "ok"


Reply = tuple[dns.message.Message, bool] | BaseException

_UNREACHABLE = (errno.ENETUNREACH, errno.EHOSTUNREACH, errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT)


def _failure(exc: BaseException, timeout: float) -> tuple[str, str]:
    if isinstance(exc, TimeoutError | dns.exception.Timeout):
        return "silent", f"no answer within {timeout:g} s"
    if isinstance(exc, ConnectionRefusedError):
        return "closed", "connection refused"
    if isinstance(exc, OSError):
        kind = "unreachable" if exc.errno in _UNREACHABLE else "error"
        return kind, os_error_words(exc)
    if isinstance(exc, dns.exception.DNSException):
        return "error", "a malformed or unexpected DNS message"
    return "error", "an unexpected failure"


def _serial(response: dns.message.Message, zone: str) -> int | None:
    apex = dns.name.from_text(zone)
    for rrset in response.answer:
        if rrset.rdtype == dns.rdatatype.SOA and rrset.name == apex and len(rrset):
            return int(next(iter(rrset)).serial)
    return None


def server_answer(
    ns: str,
    address: str,
    replies: Sequence[Reply],
    *,
    types: Sequence[str],
    zone: str,
    timeout: float,
    elapsed_ms: float = 0.0,
) -> ServerAnswer:
    """Judge one server from its replies to the origin queries (one per type in `types`, in
    order) and, last, the zone's SOA query. Any failure makes the whole server lame."""
    failures = [r for r in replies if isinstance(r, BaseException)]
    if failures:
        # A timeout tells the most (the server is there but silent); report it first.
        failures.sort(key=lambda e: not isinstance(e, TimeoutError | dns.exception.Timeout))
        status, detail = _failure(failures[0], timeout)
        return ServerAnswer(ns, address, status, detail, elapsed_ms=elapsed_ms)
    messages = [r for r in replies if not isinstance(r, BaseException)]
    tcp = any(used_tcp for _, used_tcp in messages)
    for response, _ in messages:
        rcode = response.rcode()
        if rcode == dns.rcode.REFUSED:
            return ServerAnswer(ns, address, "refused", "REFUSED", tcp=tcp, elapsed_ms=elapsed_ms)
        if rcode == dns.rcode.SERVFAIL:
            return ServerAnswer(ns, address, "servfail", "SERVFAIL", tcp=tcp, elapsed_ms=elapsed_ms)
        if rcode not in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
            text = dns.rcode.to_text(rcode)
            return ServerAnswer(ns, address, "rcode", text, tcp=tcp, elapsed_ms=elapsed_ms)
    answers = tuple(
        f"{rdtype}: {describe_answer(response, rdtype)}"
        for rdtype, (response, _) in zip(types, messages, strict=False)
    )
    serial = _serial(messages[-1][0], zone) if len(messages) > len(types) else None
    if not all(response.flags & dns.flags.AA for response, _ in messages):
        return ServerAnswer(
            ns, address, "not-authoritative", "no AA flag", answers, serial, tcp, elapsed_ms
        )
    if serial is None:
        return ServerAnswer(
            ns, address, "no-soa", f"no SOA for {zone}", answers, None, tcp, elapsed_ms
        )
    return ServerAnswer(ns, address, "ok", "", answers, serial, tcp, elapsed_ms)
