"""The `cf502 check …` line to run for a decoded request, shell-quoted. Pure.

A log line names the CloudFront site the viewer asked for (`x-host-header`, else `cs(Host)`), the
path and the viewer's protocol, never the origin: the command diagnoses the site, and the origin
is added with `--origin NAME` by someone who knows it. `c-port` is the viewer's own port, not the
site's (viewers reach CloudFront on 80 and 443), so no port is carried over.
"""

from __future__ import annotations

from dataclasses import dataclass

from cf502.errors import InvalidTarget
from cf502.shell import sh
from cf502.target import normalise_hostname

__all__ = ["ORIGIN_HINT", "SITE", "Command", "check_command"]

SITE = "SITE"  # the placeholder when the input names no site
ORIGIN_HINT = "the origin is not known: add --origin NAME (the origin's domain name) to diagnose it"
MAX_PATH = 8192  # CloudFront's URL limit


@dataclass(frozen=True)
class Command:
    """The command line and what to know about it (one sentence each)."""

    line: str
    notes: tuple[str, ...] = ()


def _site(host: str | None) -> tuple[str | None, str | None]:
    """(site, note): the log's host as a DNS name, or None and why not."""
    if not host:
        return None, None
    name = host
    # A Host header may carry the port (`www.example.com:443`); the site is the name.
    head, sep, port = name.rpartition(":")
    if sep and port.isascii() and port.isdigit():
        name = head
    try:
        return normalise_hostname(name), None
    except InvalidTarget:
        return None, "the host in the input is not a DNS name cf502 can check"


def _path(path: str | None) -> str | None:
    if not path or path == "/":
        return None
    ok = (
        path.startswith("/")
        and path.isascii()
        and path.isprintable()
        and " " not in path
        and len(path) <= MAX_PATH
    )
    return path if ok else None


def check_command(
    host: str | None,
    path: str | None = None,
    protocol: str | None = None,
    *,
    origin_side: bool = True,
) -> Command:
    """`cf502 check SITE [--path P]` for the request, with notes on what to add to it.

    Args:
        host: the site the viewer asked for, None when the input does not say.
        path: the request path (`cs-uri-stem`, percent-encoded as logged).
        protocol: the viewer's protocol (`cs-protocol`: http, https, ws, wss).
        origin_side: the cause lies at the origin, so diagnosing it needs `--origin NAME`.
    """
    site, site_note = _site(host)
    argv: list[str] = ["cf502", "check", site or SITE]
    notes: list[str] = []
    if site is None:
        notes.append(
            f"replace {SITE} with the name viewers use (e.g. www.example.com)"
            if site_note is None
            else f"{site_note}: replace {SITE} with the name viewers use"
        )
    good_path = _path(path)
    if good_path is not None:
        argv += ["--path", good_path]
    elif path and path != "/":
        notes.append("the logged path is not a plain request path, so it was left out")
    if origin_side:
        notes.append(ORIGIN_HINT)
        if protocol in ("http", "ws"):
            notes.append(
                "the viewer used HTTP: if the origin protocol policy is match-viewer, CloudFront "
                "used HTTP to the origin too (add --protocol-policy match-viewer)"
            )
    return Command(sh(*argv), tuple(notes))
