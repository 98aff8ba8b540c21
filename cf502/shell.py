"""Equivalent shell commands, shell-quoted from the actual values of a run. Pure."""

from __future__ import annotations

import ipaddress
import shlex

__all__ = ["hostport", "sh"]


def sh(*argv: str | int | float) -> str:
    """One shell command line with every argument quoted (`shlex.join`)."""
    return shlex.join(str(a) for a in argv)


def hostport(address: str, port: int) -> str:
    """`ADDR:PORT`, with IPv6 addresses in brackets as openssl and curl expect."""
    try:
        if isinstance(ipaddress.ip_address(address), ipaddress.IPv6Address):
            return f"[{address}]:{port}"
    except ValueError:
        pass
    return f"{address}:{port}"
