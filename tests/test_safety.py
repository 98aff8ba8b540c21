"""The address safety rules: only public unicast addresses are connected to by default."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cf502.errors import TargetNotAllowed
from cf502.safety import blocked_reason, vet_addresses

BLOCKED = [
    "127.0.0.1",
    "127.255.0.9",
    "10.1.2.3",
    "172.16.0.1",
    "192.168.1.1",
    "169.254.169.254",
    "169.254.1.1",
    "100.64.0.1",
    "0.0.0.0",
    "224.0.0.1",
    "240.0.0.1",
    "255.255.255.255",
    "192.0.2.1",
    "::1",
    "::",
    "fe80::1",
    "fc00::1",
    "fd00:ec2::254",
    "ff02::1",
    "::ffff:10.0.0.1",
    "::ffff:127.0.0.1",
    "::ffff:169.254.169.254",
    "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
    "2002:a00:1::",  # 6to4 of 10.0.0.1
    "::127.0.0.1",  # IPv4-compatible loopback
]
PUBLIC = ["93.184.216.34", "8.8.8.8", "2606:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808"]


@pytest.mark.parametrize("address", BLOCKED)
def test_blocked_addresses(address: str) -> None:
    assert blocked_reason(address) is not None


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses(address: str) -> None:
    assert blocked_reason(address) is None


def test_vet_refuses_whole_target_on_one_private_answer() -> None:
    # Given a name answering one public and one private address (what a rebind looks like)
    with pytest.raises(TargetNotAllowed) as info:
        vet_addresses("origin.example.com", ["8.8.8.8", "10.0.0.7"], allow_private=False)
    # Then the refusal names the address and the way out, on one line
    assert "10.0.0.7" in str(info.value) and "--allow-private" in str(info.value)
    assert "\n" not in str(info.value)


def test_vet_allows_private_when_operator_allows() -> None:
    assert vet_addresses("o.example", ["127.0.0.1", "127.0.0.1"], allow_private=True) == (
        "127.0.0.1",
    )


@given(st.ip_addresses(v=4))
def test_mapped_forms_judged_like_ipv4(ip: ipaddress.IPv4Address) -> None:
    # Every IPv4-mapped IPv6 form is blocked exactly when its IPv4 address is
    mapped = ipaddress.IPv6Address(f"::ffff:{ip}")
    assert (blocked_reason(mapped) is None) == (blocked_reason(ip) is None)


@given(st.ip_addresses())
def test_non_global_is_always_blocked(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> None:
    # Anything Python's IANA tables call non-global, or multicast, is never allowed
    if not ip.is_global or ip.is_multicast:
        assert blocked_reason(ip) is not None


@given(st.ip_addresses(v=4))
def test_nat64_forms_judged_like_ipv4(ip: ipaddress.IPv4Address) -> None:
    nat64 = ipaddress.IPv6Address(int(ipaddress.IPv6Address("64:ff9b::")) | int(ip))
    if blocked_reason(ip) is not None:
        assert blocked_reason(nat64) is not None
