"""DNS I/O for the checks: the origin's A/AAAA through the resolver, and a survey of the zone's
name servers asked one by one. Every query runs under the operator's DNS timeout.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace

import dns.asyncbackend
import dns.asyncquery
import dns.asyncresolver
import dns.exception
import dns.flags
import dns.inet
import dns.message
import dns.name
import dns.nameserver
import dns.rdatatype
import dns.resolver

from cf502.checks.dns._first import adopt
from cf502.checks.dns._wire import (
    Reply,
    ServerAnswer,
    cname_chain,
    server_answer,
    zone_of_nodata,
)
from cf502.checks.probe import Probe
from cf502.firstconnect import SURVEYED_NS
from cf502.net import os_error_words
from cf502.safety import blocked_reason

__all__ = [
    "MAX_NS_ADDRESSES",
    "MAX_NS_NAMES",
    "Resolution",
    "ZoneSurvey",
    "make_resolver",
    "resolve_origin",
    "survey_zone",
]

# Bounded work whatever a hostile zone lists: 13 is the most NS names a referral usually carries
# (one cap for the survey and for `cf502 check`'s early questions).
MAX_NS_NAMES = SURVEYED_NS
MAX_NS_ADDRESSES = 26


@dataclass(frozen=True)
class Resolution:
    """The origin name's A/AAAA answer through the recursive resolver.

    Attributes:
        name: the name asked for.
        addresses: IPv4 then IPv6 addresses (empty on failure).
        cname_chain: the CNAME targets followed, in order.
        error: None, "nxdomain", "nodata", "servfail", "timeout" (the resolver is alive but
            found no answer in time), "refused" (the resolver refused us), "unreachable" (no
            resolver reachable), "silent" (the resolver answers nothing at all), "noresolver"
            or "error".
        detail: the failure in short technical words (an rcode, an errno name).
        resolver: which resolver answered ("IP" or "IP:PORT"; several when none did).
        zone: the zone the name is in, when an answer already said it (the SOA of a NODATA or
            NXDOMAIN answer, e.g. to AAAA for an IPv4-only name); the zone survey starts there.
    """

    name: str
    addresses: tuple[str, ...]
    cname_chain: tuple[str, ...] = ()
    error: str | None = None
    detail: str = ""
    resolver: str = "system"
    zone: str | None = None


def make_resolver(probe: Probe) -> dns.asyncresolver.Resolver:
    """A resolver honouring the operator's `resolver` setting and DNS timeout, without cache.

    Raises dns.resolver.NoResolverConfiguration when no resolver is set and the system has none.
    """
    address = probe.engine.resolver_address
    if address is None:
        res = dns.asyncresolver.Resolver()
    else:
        res = dns.asyncresolver.Resolver(configure=False)
        res.nameservers = [address[0]]
        res.port = address[1]
    res.timeout = probe.deadlines.dns
    res.lifetime = probe.deadlines.dns
    res.cache = None
    return res


def _server_text(ip: str, port: int) -> str:
    shown = f"[{ip}]" if ":" in ip else ip
    return f"{shown}:{port}" if port != 53 else ip


def resolver_label(probe: Probe, res: dns.asyncresolver.Resolver | None = None) -> str:
    if probe.engine.resolver:
        return probe.engine.resolver
    if res is None:
        return "the system resolver"
    return ", ".join(_server_text(ns, res.port) for ns in _addresses(res)) or "system"


def _addresses(res: dns.asyncresolver.Resolver) -> list[str]:
    """The resolver's nameservers as addresses (an adopted one is a Nameserver object)."""
    return [
        ns.answer_nameserver() if isinstance(ns, dns.nameserver.Nameserver) else ns
        for ns in res.nameservers
    ]


@dataclass(frozen=True)
class _Lookup:
    values: tuple[str, ...] = ()
    chain: tuple[str, ...] = ()
    error: str | None = None
    detail: str = ""
    server: str = ""
    zone: str | None = None


def _no_servers(exc: dns.resolver.NoNameservers) -> _Lookup:
    """Tell a failing zone (SERVFAIL) from a resolver that refuses us or cannot be reached."""
    errors = exc.kwargs.get("errors") or []
    said = [str(err[3]) for err in errors]
    if any(s == "SERVFAIL" for s in said) or not said:
        return _Lookup(error="servfail", detail="SERVFAIL")
    if all(s == "REFUSED" for s in said):
        return _Lookup(error="refused", detail="REFUSED")
    if all(isinstance(err[3], OSError) for err in errors):
        return _Lookup(error="unreachable", detail=_net_words(errors[0][3]))
    return _Lookup(error="error", detail="unusable answers: " + ", ".join(dict.fromkeys(said)))


def _net_words(exc: object) -> str:
    return os_error_words(exc) if isinstance(exc, OSError) else "no usable answer"


async def _lookup(res: dns.asyncresolver.Resolver, name: str, rdtype: str) -> _Lookup:
    try:
        answer = await res.resolve(name, rdtype, search=False)
    except dns.resolver.NXDOMAIN as exc:
        responses = exc.kwargs.get("responses") or {}
        response = next(iter(responses.values()), None)
        return _Lookup(
            chain=cname_chain(response, name),
            error="nxdomain",
            detail="NXDOMAIN",
            zone=zone_of_nodata(response, name),
        )
    except dns.resolver.NoAnswer as exc:
        response = exc.kwargs.get("response")
        return _Lookup(
            chain=cname_chain(response, name),
            error="nodata",
            detail=f"no {rdtype} record",
            zone=zone_of_nodata(response, name),
        )
    except dns.resolver.NoNameservers as exc:
        return _no_servers(exc)
    except dns.exception.Timeout:
        return _Lookup(error="timeout", detail=f"no answer within {res.lifetime:g} s")
    except dns.exception.DNSException as exc:
        return _Lookup(error="error", detail=_dns_words(exc))
    server = ""
    if answer.nameserver is not None and answer.port is not None:
        server = _server_text(str(answer.nameserver), answer.port)
    values = tuple(rd.to_text() for rd in answer)
    return _Lookup(values, cname_chain(answer.response, name), server=server)


# When no address came back, the most telling reason wins: a definite NXDOMAIN first, a bare
# NODATA (the other type may simply not exist) last.
_PRECEDENCE = ("nxdomain", "servfail", "timeout", "refused", "unreachable", "error", "nodata")


def _dns_words(exc: dns.exception.DNSException) -> str:
    """dnspython's failures in short words (its own messages read like crashes)."""
    if isinstance(exc, dns.resolver.NoRootSOA):
        return "no zone found for the name (no SOA record up to the root)"
    if isinstance(exc, dns.resolver.YXDOMAIN):
        return "the name is too long after following a DNAME (YXDOMAIN)"
    if isinstance(exc, dns.exception.FormError | dns.exception.SyntaxError):
        return "a malformed DNS answer"
    return "an unusable DNS answer"


async def resolver_answers(res: dns.asyncresolver.Resolver) -> bool:
    """The control query: does the resolver answer anything at all (NS of the root zone, which
    every resolver has at hand)? Any reply, even REFUSED, means it is alive."""
    try:
        await res.resolve(dns.name.root, dns.rdatatype.NS, search=False)
    except dns.resolver.NoNameservers as exc:
        errors = exc.kwargs.get("errors") or []
        return not errors or not all(isinstance(err[3], OSError) for err in errors)
    except dns.exception.Timeout:
        return False
    except dns.exception.DNSException:  # NXDOMAIN, NoAnswer, ...: an answer all the same
        return True
    return True


async def resolve_origin(probe: Probe) -> Resolution:
    """Ask the configured resolver for the origin's A and AAAA records (concurrently).

    A control query runs alongside once the lookups have gone unanswered for half the DNS
    timeout, so when they time out we can tell a dead resolver (our problem: the check cannot
    run) from a live one that finds no answer in time (the origin's DNS): at no extra wait, and
    never sent when the lookups are answered (nearly always: one DNS message fewer).
    """
    try:
        res = make_resolver(probe)
    except dns.resolver.NoResolverConfiguration:
        return Resolution(probe.host, (), error="noresolver", detail="no resolver configured")
    if probe.first_queries is not None:  # the A/AAAA queries `cf502 check` sent before loading
        adopt(res, probe.first_queries)
    control = asyncio.ensure_future(_control_later(res))
    try:
        v4, v6 = await asyncio.gather(
            _lookup(res, probe.host, "A"), _lookup(res, probe.host, "AAAA")
        )
        silent = False
        if v4.error == v6.error == "timeout":  # one answer of any kind shows it is alive
            silent = not await control
    finally:
        control.cancel()
    if silent:
        return Resolution(
            probe.host,
            (),
            error="silent",
            detail=f"no answer within {res.lifetime:g} s, not even to a query for the root zone",
            resolver=resolver_label(probe, res),
        )
    chain = v4.chain or v6.chain
    addresses = v4.values + v6.values
    zone = v4.zone or v6.zone
    if addresses:
        label = v4.server or v6.server or resolver_label(probe, res)
        return Resolution(probe.host, addresses, chain, resolver=label, zone=zone)
    label = resolver_label(probe, res)
    for kind in _PRECEDENCE:
        for lookup in (v4, v6):
            if lookup.error == kind:
                return Resolution(
                    probe.host, (), chain, kind, lookup.detail, lookup.server or label, zone
                )
    return Resolution(probe.host, (), chain, "nodata", "no A or AAAA record", label, zone)


async def _control_later(res: dns.asyncresolver.Resolver) -> bool:
    """`resolver_answers` after half the DNS timeout, within the other half (a live resolver
    answers for the root zone from its cache at once)."""
    half = res.lifetime / 2
    await asyncio.sleep(half)
    control = dns.asyncresolver.Resolver(configure=False)
    # The addresses, not res's nameservers: the control query never takes an early query.
    control.nameservers, control.port = _addresses(res), res.port
    control.timeout = control.lifetime = half
    control.cache = None
    return await resolver_answers(control)


@dataclass(frozen=True)
class ZoneSurvey:
    """The origin's zone and what each of its name servers answers when asked directly.

    Attributes:
        name: the origin name.
        zone: the zone apex, or None when it could not be found.
        ns_names: the zone's NS names (sorted, at most MAX_NS_NAMES).
        servers: one entry per name server address, in NS-name order.
        unresolved: (NS name, why it has no usable address).
        error: why the zone or its NS set could not be found.
        resolver: the resolver used to find the zone and the servers' addresses.
        port: the port the servers were asked on.
        timeout: seconds each server had to answer.
        types: the origin record types asked, e.g. ("A",) or ("A", "AAAA").
        left_out: NS names or addresses not asked because of the caps.
    """

    name: str
    zone: str | None
    ns_names: tuple[str, ...] = ()
    servers: tuple[ServerAnswer, ...] = ()
    unresolved: tuple[tuple[str, str], ...] = ()
    error: str | None = None
    resolver: str = ""
    port: int = 53
    timeout: float = 5.0
    types: tuple[str, ...] = ("A",)
    left_out: int = 0


async def _zone_and_ns(
    res: dns.asyncresolver.Resolver, name: str, timeout: float, zone: str | None
) -> tuple[str, tuple[str, ...], int]:
    """The zone apex (`zone` when the resolution's answers named it, else walking up from `name`
    with SOA queries) and its NS names."""
    if zone is not None:
        apex = dns.name.from_text(zone)
    else:
        # Two timeouts for the walk: a typical origin is found in one or two SOA queries.
        apex = await dns.asyncresolver.zone_for_name(name, resolver=res, lifetime=2 * timeout)
    answer = await res.resolve(apex, dns.rdatatype.NS, search=False)
    names = sorted({rd.target.to_text(omit_final_dot=True).lower() for rd in answer})
    return apex.to_text(omit_final_dot=True), tuple(names[:MAX_NS_NAMES]), len(names)


async def _ns_addresses(
    res: dns.asyncresolver.Resolver, ns: str
) -> tuple[tuple[str, ...], str | None]:
    v4, v6 = await asyncio.gather(_lookup(res, ns, "A"), _lookup(res, ns, "AAAA"))
    addresses = v4.values + v6.values
    if addresses:
        return addresses, None
    why = next((k for k in _PRECEDENCE if k in (v4.error, v6.error)), "nodata")
    return (), {"nxdomain": "NXDOMAIN", "nodata": "no A or AAAA record"}.get(why, why)


async def _exchange(
    qname: str, rdtype: str, address: str, port: int, timeout: float
) -> tuple[dns.message.Message, bool]:
    query = dns.message.make_query(qname, rdtype)
    query.flags &= ~dns.flags.RD  # ask the server itself, as a resolver does (dig +norec)
    af = dns.inet.af_for_address(address)
    backend = dns.asyncbackend.get_default_backend()
    # A connected UDP socket sees ICMP "port unreachable", so a dead server is told at once
    # instead of looking silent until the timeout.
    sock = await backend.make_socket(af, socket.SOCK_DGRAM, 0, None, (address, port))  # type: ignore[no-untyped-call]
    async with sock:
        return await dns.asyncquery.udp_with_fallback(
            query, address, timeout=timeout, port=port, udp_sock=sock
        )


async def _ask(
    ns: str, address: str, name: str, zone: str, types: Sequence[str], port: int, timeout: float
) -> ServerAnswer:
    started = time.perf_counter()
    replies: list[Reply]
    try:
        # One deadline for the server's answers, UDP and any TCP retry included.
        async with asyncio.timeout(timeout):
            replies = list(
                await asyncio.gather(
                    *(_exchange(name, t, address, port, timeout) for t in types),
                    _exchange(zone, "SOA", address, port, timeout),
                    return_exceptions=True,
                )
            )
    except TimeoutError as exc:
        replies = [exc]
    elapsed = (time.perf_counter() - started) * 1000
    return server_answer(
        ns, address, replies, types=types, zone=zone, timeout=timeout, elapsed_ms=elapsed
    )


def _zone_error(exc: dns.exception.DNSException, timeout: float) -> str:
    """Why the zone or its NS set could not be found, in words."""
    if isinstance(exc, dns.resolver.NoNameservers):
        kind = _no_servers(exc).error
        if kind == "servfail":
            return (
                "the resolver answered SERVFAIL (usually none of the zone's name servers "
                "answers; see dns.resolve)"
            )
        if kind == "refused":
            return "the resolver refused the query (REFUSED)"
    if isinstance(exc, dns.exception.Timeout):
        return f"no answer within {timeout:g} s"
    if isinstance(exc, dns.resolver.NoAnswer):
        return "the zone has no NS records"
    if isinstance(exc, dns.resolver.NXDOMAIN):
        return "the name does not exist (NXDOMAIN)"
    return _dns_words(exc)


async def survey_zone(probe: Probe, types: Sequence[str], zone: str | None = None) -> ZoneSurvey:
    """Find the origin's zone (or take `zone`, already known from the resolution) and its name
    servers, then ask each server address directly."""
    engine = probe.engine
    timeout = probe.deadlines.dns
    base = ZoneSurvey(probe.host, None, port=engine.dns_port, timeout=timeout, types=tuple(types))
    try:
        res = make_resolver(probe)
    except dns.resolver.NoResolverConfiguration:
        return replace(
            base, error="no resolver is configured on this host: set one with --resolver"
        )
    if probe.first_queries is not None:
        adopt(res, probe.first_queries)  # the zone's NS query, when `cf502 check` sent it early
    label = resolver_label(probe, res)
    try:
        zone, ns_names, ns_total = await _zone_and_ns(res, probe.host, timeout, zone)
    except dns.exception.DNSException as exc:
        return replace(base, error=_zone_error(exc, timeout), resolver=label)
    found = await asyncio.gather(*(_ns_addresses(res, ns) for ns in ns_names))
    targets: list[tuple[str, str]] = []
    unresolved: list[tuple[str, str]] = []
    for ns, (addresses, why) in zip(ns_names, found, strict=True):
        if why is not None:
            unresolved.append((ns, why))
        targets.extend((ns, a) for a in addresses)
    left_out = ns_total - len(ns_names) + max(0, len(targets) - MAX_NS_ADDRESSES)
    targets = targets[:MAX_NS_ADDRESSES]

    async def one(ns: str, address: str) -> ServerAnswer:
        # Name-server addresses come from DNS too: vet them like the origin's own addresses.
        reason = None if engine.allow_private else blocked_reason(address)
        if reason is not None:
            return ServerAnswer(ns, address, "blocked", reason)
        return await _ask(ns, address, probe.host, zone, types, engine.dns_port, timeout)

    servers = await asyncio.gather(*(one(ns, a) for ns, a in targets))
    return ZoneSurvey(
        name=probe.host,
        zone=zone,
        ns_names=ns_names,
        servers=tuple(servers),
        unresolved=tuple(unresolved),
        resolver=label,
        port=engine.dns_port,
        timeout=timeout,
        types=tuple(types),
        left_out=left_out,
    )
