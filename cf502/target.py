"""Parse what a user typed into a CloudFront origin target. Pure: no I/O.

Accepts `origin.example.com`, `origin.example.com:8443`, `https://origin.example.com:8443/path`,
and internationalised names (converted to their IDNA A-label form).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from cf502.errors import InvalidTarget

__all__ = ["Target", "check_port", "normalise_hostname", "parse_target"]

MAX_NAME = 253
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_SCHEMES = ("http", "https")


@dataclass(frozen=True)
class Target:
    """A parsed origin target.

    Attributes:
        input: what the user typed (stripped).
        host: the origin domain name in lower-case A-label (punycode) form.
        port: the port the user typed, if any.
        scheme: "http" or "https" when a URL was typed, else None.
        path: the path (and query) of a typed URL, else None.
    """

    input: str
    host: str
    port: int | None = None
    scheme: str | None = None
    path: str | None = None

    @property
    def display_host(self) -> str:
        """The host in Unicode (U-label) form for humans."""
        import idna  # (see `normalise_hostname`)

        try:
            return str(idna.decode(self.host))
        except idna.IDNAError:
            return self.host

    def to_dict(self) -> dict[str, Any]:
        return {
            "input": self.input,
            "host": self.host,
            "port": self.port,
            "scheme": self.scheme,
            "path": self.path,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Target:
        port = d.get("port")
        return cls(
            input=str(d["input"]),
            host=str(d["host"]),
            port=int(port) if port is not None else None,
            scheme=d.get("scheme"),
            path=d.get("path"),
        )


def check_port(port: int, what: str = "port") -> int:
    """CloudFront accepts origin ports 80, 443 and 1024-65535 only."""
    if port in (80, 443) or 1024 <= port <= 65535:
        return port
    raise InvalidTarget(
        f"{what} {port} is not allowed by CloudFront: origin ports must be 80, 443 or 1024-65535."
    )


def _ip_literal(text: str) -> bool:
    try:
        ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return False
    return True


def _q(text: str) -> str:
    """The user's value quoted for a message, shortened so one line stays one line."""
    return repr(text if len(text) <= 70 else text[:60] + "...")


def _ip_error(raw: str) -> InvalidTarget:
    return InvalidTarget(
        f"{_q(raw)} is an IP address, but CloudFront origins are DNS names: "
        "use the DNS name that resolves to it."
    )


def _check_labels(ascii_host: str, raw: str) -> None:
    if len(ascii_host) > MAX_NAME:
        raise InvalidTarget(
            f"The name is {len(ascii_host)} characters long; DNS names are at most {MAX_NAME}."
        )
    labels = ascii_host.split(".")
    for label in labels:
        if not _LABEL.match(label):
            raise InvalidTarget(
                f"{_q(raw)} has an invalid label {_q(label)}: labels are 1-63 letters, digits or "
                "hyphens, not starting or ending with a hyphen."
            )
    if len(labels) < 2:
        raise InvalidTarget(
            f"{_q(raw)} is not a fully qualified domain name: CloudFront needs the origin's public "
            "DNS name, e.g. origin.example.com."
        )
    if labels[-1].isdigit():
        raise InvalidTarget(
            f"{_q(raw)} is not a valid domain name: the top-level label is numeric."
        )


def normalise_hostname(name: str) -> str:
    """Validate a DNS name and return its lower-case A-label form, or raise InvalidTarget."""
    raw = name.strip()
    if not raw:
        raise InvalidTarget(
            "The target is empty: give the origin domain name, e.g. origin.example.com."
        )
    if any(ch.isspace() for ch in raw):
        raise InvalidTarget(f"{_q(raw)} contains spaces: give one origin domain name.")
    if _ip_literal(raw):
        raise _ip_error(raw)
    host = raw[:-1] if raw.endswith(".") else raw
    if not host or host.startswith(".") or ".." in host:
        raise InvalidTarget(f"{_q(raw)} has an empty label.")
    if host.isascii():
        # Plain ASCII names are checked by our own LDH rule first, for precise messages.
        _check_labels(host.lower(), raw)
        if "xn--" not in host.lower():
            return host.lower()
    import idna  # only for international names: not before a plain name's first packet

    try:
        ascii_host = idna.encode(host, uts46=True).decode("ascii").lower()
    except (idna.IDNAError, UnicodeError) as exc:
        raise InvalidTarget(f"{_q(raw)} is not a valid domain name ({exc}).") from None
    _check_labels(ascii_host, raw)
    return ascii_host


def _split_host_port(hostport: str, raw: str) -> tuple[str, int | None]:
    if hostport.startswith("["):
        raise _ip_error(raw)
    if hostport.count(":") > 1:
        if _ip_literal(hostport):
            raise _ip_error(raw)
        raise InvalidTarget(f"{_q(raw)} is not host, host:port or a URL.")
    host, sep, port_text = hostport.partition(":")
    if not sep:
        return host, None
    if not (port_text.isascii() and port_text.isdigit()) or len(port_text) > 5:
        raise InvalidTarget(f"{_q(raw)} has an invalid port {port_text!r}.")
    return host, check_port(int(port_text))


def parse_target(text: str) -> Target:
    """Parse `host`, `host:port` or an http(s) URL into a Target, or raise InvalidTarget."""
    raw = text.strip()
    if not raw:
        raise InvalidTarget(
            "The target is empty: give the origin domain name, e.g. origin.example.com."
        )
    if any(ch.isspace() for ch in raw):
        raise InvalidTarget(f"{_q(raw)} contains spaces: give one origin domain name.")
    if len(raw) > 2048:
        raise InvalidTarget("The target is too long: give the origin domain name.")
    scheme: str | None = None
    path: str | None = None
    rest = raw
    if "://" in raw:
        try:
            parts = urlsplit(raw)
        except ValueError as exc:
            raise InvalidTarget(f"{_q(raw)} is not a valid URL ({exc}).") from None
        if parts.scheme.lower() not in _SCHEMES:
            raise InvalidTarget(
                f"{_q(raw)}: only http:// and https:// URLs can be CloudFront origins."
            )
        if parts.username or parts.password:
            raise InvalidTarget(f"{_q(raw)} contains credentials; give the origin without them.")
        scheme = parts.scheme.lower()
        rest = parts.netloc
        if parts.path or parts.query:
            path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    elif "/" in raw:
        rest, _, tail = raw.partition("/")
        path = "/" + tail
    host, port = _split_host_port(rest, raw)
    return Target(input=raw, host=normalise_hostname(host), port=port, scheme=scheme, path=path)
