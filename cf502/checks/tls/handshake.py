"""`tls.handshake`: does a handshake with CloudFront's own offer succeed on every address?

The I/O is in `_observe` (shared with the certificate checks in `cert.py`); `judge_handshake` is
pure and turns the observed facts into the cause in words. `TlsFinding` and `s_client` are shared
with `cert.py`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from cf502.checks.base import address_affects, result
from cf502.checks.probe import Probe
from cf502.checks.tls._observe import (
    MAX_LISTED_SUITES,
    TlsObservation,
    start_observations,
    tested,
    tls_observations,
)
from cf502.checks.tls._offer import (
    CLOUDFRONT_CIPHERS,
    CLOUDFRONT_GROUPS,
    CLOUDFRONT_SIGALGS,
    LEGACY_CIPHERS,
    cipher_string,
    openssl_version_flags,
)
from cf502.model import CheckResult, Status
from cf502.settings import OriginSettings
from cf502.shell import hostport, sh

__all__ = ["Handshake", "TlsFinding", "judge_address", "judge_handshake", "s_client"]

_MODERN_RSA = "ECDHE-RSA-AES128-GCM-SHA256"
_MODERN_ECDSA = "ECDHE-ECDSA-AES128-GCM-SHA256"


def s_client(obs: TlsObservation, *extra: str, offer: bool = True) -> str:
    """The `openssl s_client` command reproducing an attempt (CloudFront's offer by default)."""
    argv = ["openssl", "s_client", "-connect", hostport(obs.address, obs.port)]
    argv += ["-servername", obs.sni]
    if offer:
        argv += openssl_version_flags(obs.offered)
        argv += ["-cipher", cipher_string(), "-groups", ":".join(CLOUDFRONT_GROUPS)]
        argv += ["-sigalgs", ":".join(CLOUDFRONT_SIGALGS)]
    argv += [*extra, "-showcerts"]
    return sh(*argv) + " </dev/null"


@dataclass(frozen=True)
class TlsFinding:
    """The verdict on one address (or one group of addresses that behave alike).

    Attributes:
        status / words: the outcome and its one-line cause (no trailing full stop).
        remediation: what to change.
        cloudfront_status: what CloudFront would answer because of it.
        commands: the commands that show it.
        evidence: (label, value) facts.
    """

    status: Status
    words: str
    remediation: str = ""
    cloudfront_status: int | None = None
    commands: tuple[str, ...] = ()
    evidence: tuple[tuple[str, str], ...] = ()


def _fix_suites(suites: Sequence[str]) -> str:
    ecdsa = any("ECDSA" in s for s in suites)
    example = _MODERN_ECDSA if ecdsa else _MODERN_RSA
    return (
        f"Enable at least one suite CloudFront offers on the origin, e.g. {example} "
        f"(CloudFront offers: {', '.join(CLOUDFRONT_CIPHERS)})."
    )


def _and(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


_NO_CLIENT_CERT = (
    "AWS documents that CloudFront drops the request when an origin asks for a client "
    "certificate, unless the distribution configures origin mutual TLS. Stop requesting client "
    "certificates on this port (e.g. nginx `ssl_verify_client off;`), or configure origin mTLS "
    "for this origin in CloudFront (then check again with --origin-mtls)."
)


def _client_cert(obs: TlsObservation, *, required: bool, mtls: bool) -> TlsFinding:
    """The origin sent a CertificateRequest: CloudFront sends no certificate without origin mTLS.

    With origin mTLS the words follow "CloudFront's offer negotiates" in the summary.
    """
    main = obs.main
    session = f"{main.protocol} with {main.cipher}" if main and main.cipher else "a session"
    if mtls:
        words = (
            f"{session} up to the origin's request for a client certificate, which CloudFront "
            "presents (origin mTLS); cf502 has none, so the rest of the handshake was not checked"
            if required
            else f"{session}; the origin asks for a client certificate, which CloudFront "
            "presents (origin mTLS), and went on without one when cf502 sent none"
        )
        return TlsFinding(Status.PASS, words, commands=(s_client(obs),))
    if required:
        words = "origin requires a client certificate, which CloudFront does not send"
    else:
        words = (
            f"origin asks for a client certificate (optional in the {session} handshake), "
            "which CloudFront does not send"
        )
    return TlsFinding(Status.FAIL, words, _NO_CLIENT_CERT, 502, (s_client(obs),))


def _connected(obs: TlsObservation, *, mtls: bool) -> TlsFinding:
    main, legacy = obs.main, obs.legacy
    if legacy is not None and obs.legacy_only:
        return TlsFinding(
            Status.WARN,
            f"the only suite the origin shares with CloudFront is the legacy {legacy.cipher} "
            f"({legacy.protocol})",
            f"CloudFront still connects, but enable a modern suite on the origin, e.g. "
            f"{_MODERN_RSA}; legacy suites may be withdrawn from CloudFront's offer.",
            None,
            (
                s_client(obs),
                s_client(
                    obs,
                    *openssl_version_flags(obs.offered),
                    "-cipher",
                    cipher_string(LEGACY_CIPHERS),
                    offer=False,
                ),
            ),
        )
    if main is None:
        return TlsFinding(Status.ERROR, "no handshake was attempted")
    words = f"{main.protocol} with {main.cipher}" + (f" ({main.group})" if main.group else "")
    if main.cipher in LEGACY_CIPHERS:
        return TlsFinding(
            Status.WARN,
            f"negotiates the legacy suite {main.cipher} ({main.protocol})",
            f"Prefer a modern suite on the origin, e.g. {_MODERN_RSA}.",
            None,
            (s_client(obs),),
        )
    if main.cert_request:
        return _client_cert(obs, required=False, mtls=mtls)
    return TlsFinding(Status.PASS, words, commands=(s_client(obs),))


def _version_words(obs: TlsObservation) -> TlsFinding | None:
    accepted = [v for v, ok in obs.versions if ok]
    if not accepted:
        return None
    offered = ", ".join(obs.offered)
    flag = {"TLSv1.3": "-tls1_3", "TLSv1.2": "-tls1_2", "TLSv1.1": "-tls1_1", "TLSv1": "-tls1"}
    commands = (s_client(obs), s_client(obs, flag[accepted[0]], offer=False))
    if accepted == ["TLSv1.3"]:
        return TlsFinding(
            Status.FAIL,
            "origin accepts only TLS 1.3, which CloudFront does not use to origins "
            f"(CloudFront offers {offered})",
            "Enable TLS 1.2 on the origin (e.g. nginx `ssl_protocols TLSv1.2 TLSv1.3;`) with "
            f"one of CloudFront's suites such as {_MODERN_RSA}.",
            502,
            commands,
        )
    older = [v for v in accepted if v != "TLSv1.3"]
    which = "which CloudFront is not" if len(accepted) == 1 else "none of which CloudFront is"
    return TlsFinding(
        Status.FAIL,
        f"origin accepts only {_and(accepted)}, {which} set to offer ({offered})",
        f"Enable TLS 1.2 on the origin, or add {_and(older)} to the origin's SSL protocols in "
        "CloudFront (old protocols are best avoided).",
        502,
        commands,
    )


def _suite_words(obs: TlsObservation) -> TlsFinding | None:
    broad = obs.broad
    if broad is None or not broad.ok or not broad.cipher or broad.protocol not in obs.offered:
        return None
    suites = list(obs.origin_suites or (broad.cipher,))
    commands = (
        s_client(obs),
        s_client(
            obs,
            *openssl_version_flags(obs.offered),
            "-cipher",
            "ALL:COMPLEMENTOFALL:@SECLEVEL=0",
            offer=False,
        ),
    )
    if broad.cipher in CLOUDFRONT_CIPHERS:
        return TlsFinding(
            Status.FAIL,
            f"origin picks {broad.cipher}, which CloudFront offers, but rejects CloudFront's "
            f"handshake ({obs.main.detail if obs.main else 'no detail'}): it needs a curve or "
            "signature scheme CloudFront does not offer",
            f"Allow the curves {', '.join(CLOUDFRONT_GROUPS)} and RSA PKCS#1 or ECDSA "
            "signatures (CloudFront offers no RSA-PSS) on the origin, and use an RSA or "
            "ECDSA P-256/P-384 certificate.",
            502,
            commands,
        )
    more = " (at least)" if len(suites) >= MAX_LISTED_SUITES else ""
    verb = "offers only" if not more else "offers"
    return TlsFinding(
        Status.FAIL,
        f"origin {verb} {_and(suites)}{more}, none of which CloudFront offers",
        _fix_suites(suites),
        502,
        commands,
    )


_FINAL_WORDS = {
    "timeout": (
        "origin accepts TCP but does not complete the TLS handshake: {detail}",
        "Check that port {port} really serves TLS and that nothing between CloudFront and the "
        "origin (firewall, load balancer) stalls the handshake.",
        504,
    ),
    "plain-http": (
        "not TLS at all: plain HTTP on the HTTPS port ({detail} to CloudFront's ClientHello)",
        "Serve HTTPS on port {port}, or point CloudFront at the right port, or set the origin "
        "protocol policy to HTTP only if the origin has no TLS.",
        502,
    ),
    "not-tls": (
        "not TLS at all: {detail}",
        "Check what listens on port {port}: CloudFront expects a TLS server there.",
        502,
    ),
    "reset": (
        "connection reset during the handshake ({detail})",
        "Check the origin's TLS configuration and logs, and any firewall or IPS that resets "
        "TLS connections from CloudFront's IP ranges.",
        502,
    ),
    "closed": (
        "{detail}",
        "Check the origin's TLS configuration and logs: it drops CloudFront's ClientHello.",
        502,
    ),
    "oversized": (
        "the origin's handshake is too large: {detail}",
        "Serve a normal certificate chain (leaf plus intermediates, a few KB); TLS clients such "
        "as OpenSSL refuse handshake messages over 100 KB.",
        502,
    ),
    "connect": (
        "no TCP connection for the handshake ({detail})",
        "See tcp.https.",
        502,
    ),
}


def _final(obs: TlsObservation, failure: str, detail: str) -> TlsFinding:
    words, fix, status = _FINAL_WORDS[failure]
    return TlsFinding(
        Status.FAIL,
        words.format(detail=detail),
        fix.format(port=obs.port),
        status,
        (s_client(obs),),
    )


def judge_address(obs: TlsObservation, *, mtls: bool = False) -> TlsFinding:
    """Pure verdict for one address from its observation; `mtls`: CloudFront presents a client
    certificate to this origin (--origin-mtls)."""
    if obs.unavailable:
        return TlsFinding(Status.ERROR, obs.unavailable.rstrip("."))
    if obs.connected:
        return _connected(obs, mtls=mtls)
    main = obs.main
    if main is None:
        return TlsFinding(Status.ERROR, "no handshake was attempted")
    if main.cert_request:  # however the origin then ended it (alert, close, reset)
        return _client_cert(obs, required=True, mtls=mtls)
    if main.failure in _FINAL_WORDS and obs.legacy is None:  # no follow-ups were made
        return _final(obs, main.failure, main.detail)
    if main.alert == "unrecognized_name":
        return TlsFinding(
            Status.FAIL,
            f"origin does not recognise the server name {obs.sni} (TLS alert unrecognized_name)",
            f"Configure a TLS virtual host for {obs.sni} on the origin: CloudFront sends it as "
            "the server name (SNI).",
            502,
            (s_client(obs),),
        )
    found = _suite_words(obs) or _version_words(obs)
    if found is not None:
        return found
    if main.failure in _FINAL_WORDS:
        return _final(obs, main.failure, main.detail)
    partial = " (the follow-up probes ran out of time)" if obs.incomplete else ""
    return TlsFinding(
        Status.FAIL,
        f"handshake fails ({main.detail}) and the origin also refused every other suite and "
        f"protocol tried{partial}",
        "Check the origin's TLS configuration and logs for why it rejects CloudFront's "
        "ClientHello.",
        502,
        (s_client(obs),),
    )


def _evidence(obs: TlsObservation) -> list[tuple[str, str]]:
    ev: list[tuple[str, str]] = []
    label = hostport(obs.address, obs.port)
    main = obs.main
    if main is not None:
        if main.ok:
            ev.append((f"{label} handshake", f"{main.protocol} {main.cipher} ({main.group})"))
            ev.append((f"{label} certificates served", str(main.served_count)))
        else:
            ev.append((f"{label} handshake", f"failed: {main.failure}: {main.detail}"))
    if obs.legacy is not None:
        got = f"picked {obs.legacy.cipher}" if obs.legacy.ok else f"refused ({obs.legacy.detail})"
        ev.append((f"{label} legacy-only offer", got))
    if obs.broad is not None:
        got = f"picked {obs.broad.cipher}" if obs.broad.ok else f"refused ({obs.broad.detail})"
        ev.append((f"{label} offer of every suite", got))
    if obs.origin_suites:
        ev.append((f"{label} origin's suites", ", ".join(obs.origin_suites)))
    for version, ok in obs.versions:
        ev.append((f"{label} {version}", "accepted" if ok else "refused"))
    return ev


def _group(
    findings: Sequence[tuple[TlsObservation, TlsFinding]],
) -> list[tuple[list[str], TlsFinding]]:
    groups: dict[tuple[Status, str], tuple[list[str], TlsFinding]] = {}
    for obs, finding in findings:
        key = (finding.status, finding.words)
        groups.setdefault(key, ([], finding))[0].append(obs.address)
    return list(groups.values())


def judge_handshake(
    check: Handshake, observations: Sequence[TlsObservation], origin: OriginSettings
) -> CheckResult:
    """Pure verdict over every address's observation: one cause, or how the addresses differ."""
    if not observations:
        return result(check, Status.ERROR, "No vetted address to connect to.")
    findings = [(obs, judge_address(obs, mtls=origin.origin_mtls)) for obs in observations]
    groups = _group(findings)
    worst = max((f for _, f in findings), key=lambda f: f.status.rank)
    evidence = [pair for obs, _ in findings for pair in _evidence(obs)]
    commands = list(dict.fromkeys(c for _, f in groups for c in f.commands))
    offered = ", ".join(origin.ssl_protocols)
    if len(groups) == 1:
        addresses, finding = groups[0]
        where = ", ".join(addresses)
        if finding.status is Status.PASS:
            summary = f"CloudFront's offer ({offered}) negotiates {finding.words} on {where}."
        else:
            summary = f"{finding.words[0].upper()}{finding.words[1:]}, on {where}."
    else:
        parts = [f"{', '.join(a)}: {f.words}" for a, f in groups]
        bad = sum(len(a) for a, f in groups if f.status is not Status.PASS)
        summary = (
            f"Addresses differ: {'; '.join(parts)}. CloudFront picks among the addresses, so "
            f"requests that reach the {bad} of {len(observations)} affected addresses are hit."
        )
    return result(
        check,
        worst.status,
        summary,
        evidence=evidence,
        remediation=worst.remediation,
        commands=commands,
        cloudfront_status=worst.cloudfront_status,
        affects=address_affects(
            sum(f.status is Status.FAIL for _, f in findings), tested(observations)
        ),
    )


class Handshake:
    """`tls.handshake`: CloudFront's protocols, suites, curves and SNI get a TLS session."""

    id = "tls.handshake"
    title = "TLS handshake"

    def prerequisites(self, origin: OriginSettings) -> tuple[str, ...]:
        return ("tcp.https",)

    def start(self, probe: Probe) -> None:
        """The handshakes begin with tcp.https's connects: the request is sent on them."""
        start_observations(probe)

    async def run(self, probe: Probe) -> CheckResult:
        if not probe.origin.protocol_policy.uses_https:
            return result(
                self,
                Status.SKIP,
                f"Not used: the origin protocol policy is {probe.origin.protocol_policy.value}.",
                applies=False,
            )
        observations = await tls_observations(probe)
        return judge_handshake(self, observations, probe.origin)
