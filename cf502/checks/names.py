"""DNS checks: `dns.resolve` and `dns.authoritative` (dnspython)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import dns.asyncresolver
import dns.exception
import dns.name
import dns.rdatatype
import dns.resolver

from cf502.checks.base import result
from cf502.commands import sh
from cf502.config import OriginSettings
from cf502.model import CheckResult, Status
from cf502.probe import Probe

__all__ = ["Resolution", "Resolve", "make_resolver", "resolution"]


@dataclass(frozen=True, slots=True)
class Resolution:
    """The origin name's A/AAAA answer through the recursive resolver.

    Attributes:
        name: the name asked for.
        addresses: IPv4 then IPv6 addresses (empty on failure).
        cname_chain: the CNAME targets followed, in order.
        error: None, "nxdomain", "nodata", "servfail" or "timeout".
        detail: the resolver's own words for the error.
        resolver: which resolver answered ("system" or IP:PORT).
    """

    name: str
    addresses: tuple[str, ...]
    cname_chain: tuple[str, ...] = ()
    error: str | None = None
    detail: str = ""
    resolver: str = "system"


def make_resolver(probe: Probe) -> dns.asyncresolver.Resolver:
    """A resolver honouring the operator's `resolver` setting and DNS timeout."""
    address = probe.engine.resolver_address
    if address is None:
        res = dns.asyncresolver.Resolver()
    else:
        res = dns.asyncresolver.Resolver(configure=False)
        res.nameservers = [address[0]]
        res.port = address[1]
    res.timeout = probe.engine.dns_timeout
    res.lifetime = probe.engine.dns_timeout
    res.cache = None
    return res


def _resolver_label(probe: Probe, res: dns.asyncresolver.Resolver) -> str:
    if probe.engine.resolver:
        return probe.engine.resolver
    return ", ".join(str(ns) for ns in res.nameservers) or "system"


async def _query(
    res: dns.asyncresolver.Resolver, name: str, rdtype: str
) -> tuple[list[str], list[str], str | None, str]:
    try:
        answer = await res.resolve(name, rdtype, search=False)
    except dns.resolver.NXDOMAIN as exc:
        return [], [], "nxdomain", str(exc)
    except dns.resolver.NoAnswer:
        return [], [], "nodata", f"no {rdtype} record"
    except dns.resolver.NoNameservers as exc:
        return [], [], "servfail", str(exc)
    except dns.exception.Timeout as exc:
        return [], [], "timeout", str(exc)
    chain: list[str] = []
    if answer.response is not None:
        for rrset in answer.response.answer:
            if rrset.rdtype == dns.rdatatype.CNAME:
                chain.extend(str(rd.target).rstrip(".") for rd in rrset)
    return [rd.to_text() for rd in answer], chain, None, ""


async def _resolve(probe: Probe) -> Resolution:
    res = make_resolver(probe)
    (v4, chain4, err4, det4), (v6, chain6, err6, det6) = await asyncio.gather(
        _query(res, probe.host, "A"), _query(res, probe.host, "AAAA")
    )
    label = _resolver_label(probe, res)
    addresses = tuple(v4 + v6)
    chain = tuple(dict.fromkeys(chain4 or chain6))
    if addresses:
        return Resolution(probe.host, addresses, chain, resolver=label)
    # Prefer the most telling error: NXDOMAIN over SERVFAIL over timeout over NODATA.
    for kind in ("nxdomain", "servfail", "timeout", "nodata"):
        if kind in (err4, err6):
            detail = det4 if err4 == kind else det6
            return Resolution(probe.host, (), chain, kind, detail, label)
    return Resolution(probe.host, (), chain, "nodata", "no A or AAAA record", label)


async def resolution(probe: Probe) -> Resolution:
    """The shared A/AAAA observation of the origin name (resolved once per diagnosis)."""
    return await probe.once("dns.resolution", lambda: _resolve(probe))


_ERRORS = {
    "nxdomain": "{name} does not exist (NXDOMAIN) according to {resolver}",
    "nodata": "{name} exists but has no A or AAAA record (NODATA) according to {resolver}",
    "servfail": "{name} could not be resolved: the resolver {resolver} answered SERVFAIL",
    "timeout": "{name} could not be resolved: no answer from {resolver} in time",
}


class Resolve:
    """`dns.resolve`: the origin name resolves to at least one address."""

    id = "dns.resolve"
    title = "Origin name resolves"

    def prerequisites(self, origin: OriginSettings) -> tuple[str, ...]:
        return ()

    async def run(self, probe: Probe) -> CheckResult:
        res = await resolution(probe)
        return judge_resolution(self, res, server=probe.engine.resolver)


def judge_resolution(check: Resolve, res: Resolution, *, server: str | None) -> CheckResult:
    """Pure verdict over a Resolution."""
    dig = ["dig", "+short", res.name, "A"]
    if server:
        ip, _, port = server.rpartition(":") if server.count(":") == 1 else (server, "", "")
        dig = ["dig", f"@{ip}", *(["-p", port] if port else []), "+short", res.name, "A"]
    commands = [sh(*dig), sh(*dig[:-1], "AAAA")]
    ev: list[tuple[str, object]] = [("resolver", res.resolver)]
    if res.cname_chain:
        ev.append(("CNAME chain", " -> ".join((res.name, *res.cname_chain))))
    if res.error is not None:
        ev.append(("error", res.detail or res.error))
        return result(
            check,
            Status.FAIL,
            _ERRORS[res.error].format(name=res.name, resolver=res.resolver) + ".",
            evidence=ev,
            remediation=(
                "Fix the origin's DNS record: CloudFront resolves the origin domain name through "
                "public DNS, so it must have an A or AAAA record there (check the zone's name "
                "servers and any delegation)."
            ),
            commands=commands,
            cloudfront_status=502,
            cloudfront_error="OriginDnsError",
        )
    ev.append(("addresses", ", ".join(res.addresses)))
    return result(
        check,
        Status.PASS,
        f"{res.name} resolves to {', '.join(res.addresses)}.",
        evidence=ev,
        commands=commands,
    )
