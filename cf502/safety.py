"""Target safety: which resolved addresses cf502 may connect to.

The bot connects to hosts that strangers type, so by default it refuses anything that is not a
public unicast address: loopback, RFC 1918, link-local (cloud metadata at 169.254.169.254),
CGNAT, multicast, reserved, unspecified, IPv6 ULA/link-local, and those same ranges hidden inside
IPv4-mapped, NAT64, 6to4 or Teredo IPv6 addresses. Pure functions: no I/O here.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from cf502.errors import TargetNotAllowed

__all__ = ["MAX_ADDRESSES", "blocked_reason", "connect_to", "of_family", "vet_addresses"]

# Every address is vetted, but a hostile name can answer thousands: connect to a bounded few.
MAX_ADDRESSES = 16

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_METADATA = {
    ipaddress.ip_address("169.254.169.254"),  # AWS/GCP/Azure instance metadata
    ipaddress.ip_address("fd00:ec2::254"),  # AWS IMDS over IPv6
}
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")


def _v4_reason(ip: ipaddress.IPv4Address) -> str | None:
    if ip in _METADATA:
        return "a cloud metadata address"
    if ip.is_unspecified:
        return "the unspecified address"
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_link_local:
        return "a link-local address"
    if ip in _CGNAT:
        return "a carrier-grade NAT (100.64.0.0/10) address"
    if ip.is_multicast:
        return "a multicast address"
    if ip.is_private:
        return "a private address"
    if ip.is_reserved or not ip.is_global:
        return "a reserved address"
    return None


def _embedded_v4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 form carries, so ::ffff:10.0.0.1 is judged as 10.0.0.1."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    # IPv4-compatible (deprecated ::a.b.c.d) forms.
    if int(ip) >> 32 == 0 and int(ip) > 1:
        return ipaddress.IPv4Address(int(ip))
    return None


def _v6_reason(ip: ipaddress.IPv6Address) -> str | None:
    embedded = _embedded_v4(ip)
    if embedded is not None:
        inner = _v4_reason(embedded)
        if inner is not None:
            return f"{inner} (IPv4 {embedded} inside IPv6)"
    if ip in _METADATA:
        return "a cloud metadata address"
    if ip.is_unspecified:
        return "the unspecified address"
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_site_local:
        return "a site-local address"
    if ip.is_multicast:
        return "a multicast address"
    if ip in _NAT64_LOCAL:
        return "a local-use NAT64 address"
    if ip.is_private:
        return "a private (unique local) address"
    if embedded is None and (ip.is_reserved or not ip.is_global):
        return "a reserved address"
    return None


def blocked_reason(address: str | IPAddress) -> str | None:
    """Why `address` must not be connected to, or None when it is a public unicast address."""
    ip = ipaddress.ip_address(address) if isinstance(address, str) else address
    if isinstance(ip, ipaddress.IPv6Address) and ip.scope_id:
        return "a scoped (link-local) address"
    if isinstance(ip, ipaddress.IPv4Address):
        return _v4_reason(ip)
    return _v6_reason(ip)


def vet_addresses(name: str, addresses: Iterable[str], *, allow_private: bool) -> tuple[str, ...]:
    """Return the addresses cf502 may connect to, or raise TargetNotAllowed naming the first bad one.

    One blocked address refuses the whole target: a name that mixes public and private answers is
    exactly what a rebinding attack looks like.
    """
    vetted = tuple(dict.fromkeys(str(ipaddress.ip_address(a)) for a in addresses))
    if allow_private:
        return vetted
    for addr in vetted:
        reason = blocked_reason(addr)
        if reason is not None:
            raise TargetNotAllowed(
                f"{name!s} resolves to {addr}, {reason}; cf502 does not connect to it "
                "(CloudFront cannot reach it either). An operator can allow it with --allow-private."
            )
    return vetted


def of_family(addresses: tuple[str, ...], ip_address_type: str | None) -> tuple[str, ...]:
    """The addresses CloudFront connects to for the origin's IP address type (a distribution's
    `ipv4` or `ipv6`; all of them for `dualstack` or when not given, or when none is left)."""
    version = {"ipv4": 4, "ipv6": 6}.get(ip_address_type or "")
    if version is None:
        return addresses
    kept = tuple(a for a in addresses if ipaddress.ip_address(a).version == version)
    return kept or addresses


def connect_to(
    name: str,
    addresses: Iterable[str],
    *,
    allow_private: bool,
    ip_address_type: str | None = None,
) -> tuple[tuple[str, ...], int]:
    """The addresses a diagnosis of `name` connects to (vetted, of the origin's IP address type,
    at most MAX_ADDRESSES) and how many it could have: the one rule for every connection to an
    origin, early ones included. Raises TargetNotAllowed as `vet_addresses` does."""
    vetted = of_family(vet_addresses(name, addresses, allow_private=allow_private), ip_address_type)
    return vetted[:MAX_ADDRESSES], len(vetted)
