"""The name `cf502 check` will resolve, and where, read from its arguments before they are parsed.

Parsing the command line needs argparse, dataclasses and the settings: ~40 ms of a cold start,
all before the first packet. So the process entry (`cf502.entry`) reads just the origin's name
and the resolver from the raw arguments, has the name's A and AAAA queries sent
(`cf502.firstquery.send_early`), and only then imports and parses the command line, which is read
and validated as always. The diagnosis takes those queries only when they are exactly the ones it
would send (`cf502.firstquery.claim`: the same name, the same resolver); a command line refused
later costs these two datagrams to the resolver, never a connection (those wait for the parsed,
validated settings).

The reading is conservative: anything it is not sure of means no early queries. An unknown or
abbreviated option, `--opt=value` for a flag, a second positional, `--help`, `--aws` (AWS says
what to diagnose), `--redis-url` (the workers diagnose), a `CF502_AWS*` variable, a distribution
id, an IP literal, an international name. The options it knows are the check command's own,
which `tests/test_firstargs.py` holds to the parser. Standard library only, and little of it.
"""

from __future__ import annotations

TYPE_CHECKING = False  # (see cf502.firstquery: no `typing` before the first packet)
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

__all__ = ["FLAGS", "VALUED", "resolve_request"]

# `cf502 check`'s options without a value, and with one (the parser's, tests/test_firstargs.py).
FLAGS = frozenset({"--json", "-v", "--verbose", "--no-color", "--origin-mtls", "--allow-private"})
VALUED = frozenset(
    {
        "--redis-url", "--https-port", "--http-port", "--protocol-policy", "--host-header",
        "--path", "--cloudfront-domain", "--origin", "--connect-timeout",
        "--connection-attempts", "--read-timeout", "--origin-ssl-protocols",
        "--expiry-warn-days", "--only", "--resolver", "--ca-file", "--dns-port", "--dns-timeout",
        "--aws-role-arn",
    }
)  # fmt: skip
# Given these, what is diagnosed (and whether here) is not the name read: nothing early.
_NOT_HERE = frozenset({"-h", "--help", "--aws", "--redis-url"})
_LDH = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-.")


def resolve_request(
    argv: Sequence[str], environ: Mapping[str, str]
) -> tuple[str, tuple[str, int] | None] | None:
    """(origin name, resolver (IP, port) or None for the system's) that `cf502 check` with
    `argv` (without the program name) will resolve first, or None when not certain."""
    if not argv or argv[0] != "check" or any(k.startswith("CF502_AWS") for k in environ):
        return None
    options: dict[str, str] = {}
    positionals: list[str] = []
    rest = list(argv[1:])
    while rest:
        arg = rest.pop(0)
        if arg == "--":
            positionals += rest
            break
        if not arg.startswith("-") or arg == "-":
            positionals.append(arg)
            continue
        name, equals, value = arg.partition("=")
        if name in _NOT_HERE or (name in FLAGS and equals):
            return None
        if name in FLAGS:
            continue
        if name not in VALUED:
            return None  # unknown, abbreviated or a short option with its value attached
        if not equals:
            if not rest:
                return None
            value = rest.pop(0)
        options[name] = value
    if len(positionals) != 1:
        return None
    host = _host(options.get("--origin", positionals[0]))
    if host is None:
        return None
    if "--resolver" not in options:
        return host, None
    resolver = _resolver(options["--resolver"])
    return None if resolver is None else (host, resolver)


def _host(text: str) -> str | None:
    """The lower-case name in a plain target (`name`, `name:port`, `scheme://name[:port]/...`),
    or None for anything else: an IP literal, an international name, a distribution id."""
    raw = text.strip()
    scheme, found, after = raw.partition("://")
    if found:
        if scheme.lower() not in ("http", "https"):
            return None
        raw = after.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
    name, _, port = raw.partition(":")
    if port and not port.isdigit():
        return None
    host = name.lower()
    host = host[:-1] if host.endswith(".") else host
    labels = host.split(".")
    if (
        not host
        or not _LDH.issuperset(host)
        or "" in labels
        or "." not in host  # a distribution id (E2QWRUHAPOMQZL) or a bare label: not sure
        or all(label.isdigit() for label in labels)  # an IPv4 literal
    ):
        return None
    return host


def _resolver(text: str) -> tuple[str, int] | None:
    """`IPv4` or `IPv4:PORT` as (IP, port); None for anything else (IPv6, a name, a bad port):
    the command line then says what it is."""
    address, _, port_text = text.strip().partition(":")
    parts = address.split(".")
    if len(parts) != 4 or not all(p.isdigit() and len(p) <= 3 and int(p) <= 255 for p in parts):
        return None
    if any(len(p) > 1 and p.startswith("0") for p in parts):
        return None  # leading zeros: ipaddress refuses them
    if not port_text:
        port = 53
    elif port_text.isdigit() and len(port_text) <= 5:
        port = int(port_text)
    else:
        return None
    if not 0 < port <= 65535:
        return None
    return ".".join(parts), port
