"""`aws.firewall`: whether the origin's security groups let CloudFront in on the origin port. Pure.

CloudFront connects from its origin-facing ranges (the managed prefix lists
`com.amazonaws.global.cloudfront.origin-facing`, and `…ipv6…` for IPv6). A port is open to it
when an inbound rule (TCP or all traffic, covering the port) allows that prefix list, the whole
internet, or CIDRs that cover every range of the list. Security groups only allow, so otherwise
CloudFront's packets are dropped: connections time out and CloudFront answers 504.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

from cf502.aws.judge._result import make
from cf502.model import CheckResult, Status

__all__ = ["PREFIX_LISTS", "Firewall", "Rule", "allows", "judge_firewall"]

ID = "aws.firewall"
PREFIX_LISTS = {
    "IPv4": "com.amazonaws.global.cloudfront.origin-facing",
    "IPv6": "com.amazonaws.global.ipv6.cloudfront.origin-facing",
}


@dataclass(frozen=True)
class Rule:
    """One inbound rule: protocol ("tcp", "-1" all, ...), port range, and sources."""

    group: str
    protocol: str
    from_port: int | None
    to_port: int | None
    cidrs: tuple[str, ...] = ()
    prefix_lists: tuple[str, ...] = ()

    def covers(self, port: int) -> bool:
        if self.protocol == "-1":
            return True
        if self.protocol not in ("tcp", "6"):
            return False
        lo = self.from_port if self.from_port is not None else 0
        hi = self.to_port if self.to_port is not None else 65535
        return lo <= port <= hi


@dataclass(frozen=True)
class Firewall:
    """The security groups in front of the origin and CloudFront's prefix lists.

    Attributes:
        families: the address families CloudFront uses ("IPv4", "IPv6") by IP address type.
        prefix_lists: family -> (prefix list id, its CIDRs); a family missing: the list was not
            found in the Region.
    """

    where: str
    groups: tuple[str, ...]
    rules: tuple[Rule, ...]
    ports: tuple[int, ...]
    families: tuple[str, ...]
    prefix_lists: dict[str, tuple[str, tuple[str, ...]]]
    commands: tuple[str, ...] = ()


def _covered(entries: Sequence[str], cidrs: Sequence[str]) -> bool:
    nets = []
    for c in cidrs:
        try:
            nets.append(ipaddress.ip_network(c, strict=False))
        except ValueError:
            continue
    for e in entries:
        try:
            entry = ipaddress.ip_network(e, strict=False)
        except ValueError:
            return False
        if not any(n.version == entry.version and entry.subnet_of(n) for n in nets):  # type: ignore[arg-type]
            return False
    return bool(entries)


def allows(fw: Firewall, port: int, family: str) -> str | None:
    """How CloudFront's `family` ranges may reach `port` (a sentence), or None when they cannot."""
    world = "0.0.0.0/0" if family == "IPv4" else "::/0"
    listed = fw.prefix_lists.get(family)
    rules = [r for r in fw.rules if r.covers(port)]
    for r in rules:
        if listed and listed[0] in r.prefix_lists:
            return f"{r.group} allows the CloudFront prefix list {listed[0]}"
        if world in r.cidrs:
            return f"{r.group} allows {world}"
    if listed and _covered(listed[1], [c for r in rules for c in r.cidrs]):
        return "the groups' CIDRs cover every CloudFront origin-facing range"
    return None


def judge_firewall(fw: Firewall) -> CheckResult:
    evidence: list[tuple[str, object]] = [
        ("security groups", f"{', '.join(fw.groups) or 'none'} ({fw.where})")
    ]
    for family, (pl_id, entries) in fw.prefix_lists.items():
        evidence.append((f"CloudFront {family} prefix list", f"{pl_id} ({len(entries)} ranges)"))
    for r in fw.rules:
        ports = "all" if r.protocol == "-1" else f"{r.protocol} {r.from_port}-{r.to_port}"
        sources = ", ".join((*r.cidrs, *r.prefix_lists)) or "other groups"
        evidence.append((f"inbound {r.group}", f"{ports} from {sources}"))
    closed: list[str] = []
    for port in fw.ports:
        for family in fw.families:
            how = allows(fw, port, family)
            if how is None:
                closed.append(f"{port} ({family})")
            else:
                evidence.append((f"port {port} {family}", how))
    if closed:
        pl = PREFIX_LISTS[fw.families[0]]
        return make(
            ID,
            Status.FAIL,
            f"The security groups of {fw.where} do not let CloudFront's origin-facing ranges in "
            f"on {', '.join(closed)}: CloudFront's connections time out (504).",
            evidence=evidence,
            remediation=(
                f"Add an inbound rule on {', '.join(closed)} from the managed prefix list {pl} "
                f"to {fw.groups[0] if fw.groups else 'the origin security group'}."
            ),
            commands=fw.commands,
            cloudfront_status=504,
            cloudfront_error="OriginCommError",
        )
    return make(
        ID,
        Status.PASS,
        f"The security groups of {fw.where} let CloudFront in on "
        f"{', '.join(str(p) for p in fw.ports)} ({', '.join(fw.families)}).",
        evidence=evidence,
        commands=fw.commands,
    )
