"""The certificate checks: `tls.cert.expiry`, `tls.cert.hostname`, `tls.cert.trust`, `tls.cert.chain`.

All four judge the chain each address served during the shared handshake (`_observe`), never
fetching anything: CloudFront validates only what the origin serves, against Mozilla's roots, and
does not follow AIA links. Each `judge_*` is pure (x509 objects in, a TlsFinding out); the check
classes group addresses that serve the same chain, so one node with an old certificate shows up
as a difference between addresses.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
from cryptography.x509 import verification

from cf502.checks.base import address_affects, result
from cf502.checks.probe import Probe
from cf502.checks.tls._observe import TlsObservation, tls_observations
from cf502.checks.tls._wire import MAX_CERTS
from cf502.checks.tls._x509 import (
    TrustStore,
    TrustStoreError,
    aia_issuer_url,
    describe,
    dns_names,
    fingerprint,
    format_age,
    is_ca,
    is_self_signed,
    issued_by,
    matches,
    trust_store,
    weak_hash,
)
from cf502.checks.tls.handshake import TlsFinding, s_client
from cf502.model import CheckResult, Status
from cf502.settings import OriginSettings
from cf502.shell import sh

__all__ = [
    "CertChain",
    "CertExpiry",
    "CertHostname",
    "CertTrust",
    "judge_chain",
    "judge_expiry",
    "judge_hostname",
    "judge_trust",
]

Chain = tuple[x509.Certificate, ...]

# Keys outside what public CAs issue are warnings, not failures: CloudFront documents RSA and ECDSA
# keys (a failure otherwise), and its one RSA size limit (4096 bits) is stated for viewer
# certificates; for origin certificates no size rule is documented (cloudfront-facts §3).
_RSA_USUAL_BITS = (2048, 4096)
_CURVES = ("secp256r1", "secp384r1")  # CloudFront's ECDHE curves; P-521 is not among them
_MAX_NAMES = 12
_UNSUPPORTED_KEYS: tuple[tuple[type, str], ...] = (
    (ed25519.Ed25519PublicKey, "Ed25519"),
    (ed448.Ed448PublicKey, "Ed448"),
    (dsa.DSAPublicKey, "DSA"),
)


def _when(t: dt.datetime) -> str:
    return t.strftime("%Y-%m-%d %H:%M UTC")


def _sentence(words: str) -> str:
    return words[0].upper() + words[1:] + ("" if words.endswith(".") else ".")


# --- tls.cert.expiry -------------------------------------------------------------------------


def judge_expiry(chain: Chain, *, now: dt.datetime, warn_days: int) -> TlsFinding:
    """Leaf and served intermediates must be within their validity dates at `now`."""
    leaf = chain[0]
    nb, na = leaf.not_valid_before_utc, leaf.not_valid_after_utc
    ev = [("notBefore", _when(nb)), ("notAfter", _when(na))]
    renew = (
        "Renew the certificate and install it, with its intermediates, on the origin: CloudFront "
        "drops connections to origins whose certificate is not currently valid (502)."
    )
    if now < nb:
        return TlsFinding(
            Status.FAIL,
            f"certificate {describe(leaf)} is not valid yet: it starts on {_when(nb)}, "
            f"in {format_age(nb - now)}",
            "Serve the previous certificate until this one starts, and check the clock of the "
            "machine that issued it.",
            502,
            evidence=tuple(ev),
        )
    if now > na:
        return TlsFinding(
            Status.FAIL,
            f"certificate {describe(leaf)} expired on {_when(na)}, {format_age(now - na)} ago",
            renew,
            502,
            evidence=tuple(ev),
        )
    for i, cert in enumerate(chain[1:], 2):
        if is_self_signed(cert):
            continue  # a served root is ignored: validators use their own copy
        ev.append((f"certificate {i} {describe(cert)} notAfter", _when(cert.not_valid_after_utc)))
        if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
            state = (
                f"expired on {_when(cert.not_valid_after_utc)}"
                if now > cert.not_valid_after_utc
                else f"is not valid before {_when(cert.not_valid_before_utc)}"
            )
            return TlsFinding(
                Status.FAIL,
                f"the served intermediate {describe(cert)} {state}",
                "Serve your CA's current intermediate certificate with the leaf.",
                502,
                evidence=tuple(ev),
            )
    left = na - now
    if left <= dt.timedelta(days=warn_days):
        return TlsFinding(
            Status.WARN,
            f"certificate {describe(leaf)} expires on {_when(na)}, in {format_age(left)}",
            renew.replace("Renew", "Renew soon", 1),
            None,
            evidence=tuple(ev),
        )
    return TlsFinding(
        Status.PASS,
        f"certificate {describe(leaf)} is valid until {_when(na)} ({format_age(left)} left)",
        evidence=tuple(ev),
    )


# --- tls.cert.hostname -----------------------------------------------------------------------


def _listed(names: Sequence[str]) -> str:
    shown = ", ".join(names[:_MAX_NAMES])
    more = len(names) - _MAX_NAMES
    return shown + (f" and {more} more" if more > 0 else "")


def judge_hostname(
    leaf: x509.Certificate, *, name: str, origin_host: str, forwarded: bool
) -> TlsFinding:
    """RFC 6125: SAN dNSNames (CN only without SAN); `name` is the forwarded Host, else origin."""
    sans, cn = dns_names(leaf)
    names = list(sans) if sans else ([cn] if cn else [])
    has_san = bool(sans) or _has_san_extension(leaf)
    ev = [("names in the certificate", _listed(names) or "(none)"), ("name checked", name)]
    if not has_san:
        ev.append(("note", "no subjectAltName extension: the CN is used"))
    hit = next((p for p in names if matches(p, name)), None)
    if hit is not None:
        via = f" (via {hit})" if hit.lower() != name.lower() else ""
        return TlsFinding(Status.PASS, f"certificate covers {name}{via}", evidence=tuple(ev))
    role = (
        f"the forwarded Host header {name}, which CloudFront sends as SNI and checks"
        if forwarded
        else f"the origin domain {name}"
    )
    words = f"certificate does not cover {role}; it names {_listed(names) or 'no DNS name'}"
    hints = []
    for pattern in (p for p in names if p.startswith("*.")):
        if pattern.count(".") < 2:
            hints.append(f"a wildcard directly under a top-level label ({pattern}) is not valid")
            break
        if name.lower().endswith(pattern[1:].lower()) and name.count(".") > pattern.count("."):
            hints.append(f"the wildcard {pattern} covers exactly one label, not {name}")
            break
    if forwarded and any(matches(p, origin_host) for p in names):
        hints.append(f"it does cover the origin domain {origin_host}")
    if has_san and cn and matches(cn, name):
        hints.append("its CN matches, but the CN is ignored when subjectAltNames are present")
    if hints:
        words += " (" + "; ".join(hints) + ")"
    fix = f"Install a certificate whose subjectAltName includes {name} on the origin" + (
        ", or stop forwarding the Host header so CloudFront checks the origin domain."
        if forwarded
        else "."
    )
    return TlsFinding(Status.FAIL, words, fix, 502, evidence=tuple(ev))


def _has_san_extension(cert: x509.Certificate) -> bool:
    try:
        cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return False
    return True


# --- tls.cert.trust --------------------------------------------------------------------------


def _key_problems(i: int, cert: x509.Certificate) -> list[tuple[Status, str]]:
    """What is unusual about this certificate's key or signature, with how much it matters."""
    key = cert.public_key()
    who = f"certificate {i} {describe(cert)}"
    found: list[tuple[Status, str]] = []
    lo, hi = _RSA_USUAL_BITS
    if isinstance(key, rsa.RSAPublicKey) and key.key_size < lo:
        found.append(
            (
                Status.WARN,
                f"{who} has a {key.key_size}-bit RSA key, below the {lo} bits public CAs issue; "
                "CloudFront does not document whether it accepts such a key from an origin",
            )
        )
    elif isinstance(key, rsa.RSAPublicKey) and key.key_size > hi:
        found.append(
            (
                Status.WARN,
                f"{who} has a {key.key_size}-bit RSA key; CloudFront documents RSA keys of up to "
                f"{hi} bits for viewer certificates and no size for origins, so whether it accepts "
                "this one is undocumented",
            )
        )
    kind = next((n for t, n in _UNSUPPORTED_KEYS if isinstance(key, t)), None)
    if kind is not None:
        found.append(
            (Status.FAIL, f"{who} has a {kind} key; CloudFront supports RSA and ECDSA keys only")
        )
    if isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name not in _CURVES:
        found.append(
            (
                Status.WARN,
                f"{who} uses the curve {key.curve.name}, which is not among CloudFront's curves "
                "(P-256, P-384); its support for it is undocumented",
            )
        )
    try:
        _ = cert.signature_hash_algorithm
    except UnsupportedAlgorithm:
        found.append((Status.FAIL, f"{who} is signed with an algorithm validators do not support"))
    weak = weak_hash(cert)
    if weak is not None and not is_self_signed(cert):  # a root's own signature is never checked
        found.append(
            (
                Status.WARN,
                f"{who} is signed with {weak}, a weak signature hash browsers reject; CloudFront "
                f"does not document whether it accepts {weak}-signed origin certificates",
            )
        )
    return found


def _strictly_refused(cert: x509.Certificate) -> bool:
    """Refused by the X.509 verifier's web PKI policy, though not a trust problem: a weak
    signature hash or a small RSA key (reported as such by `_key_problems`)."""
    key = cert.public_key()
    small = isinstance(key, rsa.RSAPublicKey) and key.key_size < _RSA_USUAL_BITS[0]
    return small or (weak_hash(cert) is not None and not is_self_signed(cert))


def _verification_time(chain: Chain, now: dt.datetime) -> tuple[dt.datetime, bool]:
    """`now`, or a moment all served certificates are valid, so that trust is judged apart from
    the dates (tls.cert.expiry's job). Returns (time, shifted)."""
    certs = [c for c in chain if not is_self_signed(c)] or list(chain[:1])
    start = max(c.not_valid_before_utc for c in certs)
    end = min(c.not_valid_after_utc for c in certs)
    if start <= now <= end or start >= end:
        return now, False
    return start + (end - start) / 2, True


def _verify(chain: Chain, store: TrustStore, when: dt.datetime) -> x509.Certificate:
    """Validate the served chain with cryptography's X.509 verifier; returns the root reached.

    The server verifier is given one of the leaf's own names, so that name matching stays the
    hostname check's job; a leaf without DNS names gets the client verifier with no EE policy.
    """
    leaf, rest = chain[0], list(chain[1:])
    builder = verification.PolicyBuilder().store(store.store).time(when)
    sans, _ = dns_names(leaf)
    subject = None
    for name in sans:
        try:
            subject = x509.DNSName(name.replace("*", "wildcard", 1))
            break
        except ValueError:
            continue
    if subject is not None:
        built = builder.build_server_verifier(subject).verify(leaf, rest)
        return built[-1]
    policy = builder.extension_policies(
        ca_policy=verification.ExtensionPolicy.webpki_defaults_ca(),
        ee_policy=verification.ExtensionPolicy.permit_all(),
    )
    return policy.build_client_verifier().verify(leaf, rest).chain[-1]


_NOISE = re.compile(r"^validation failed: |\s*\(encountered processing <Certificate.*$")


def _served_path(chain: Chain) -> list[int]:
    """Indexes of the served certificates that chain up from the leaf, in chain order."""
    path = [0]
    while not is_self_signed(chain[path[-1]]):
        current = chain[path[-1]]
        nxt = next(
            (i for i, c in enumerate(chain) if i not in path and issued_by(current, c)), None
        )
        if nxt is None:
            break
        path.append(nxt)
    return path


def _why_untrusted(chain: Chain, store: TrustStore, error: str) -> TlsFinding:
    leaf = chain[0]
    fix_ca = (
        "Use a certificate from a CA in Mozilla's root program (e.g. ACM for a load balancer, "
        "Let's Encrypt, DigiCert) and serve it with its intermediates."
    )
    if is_self_signed(leaf) and not store.contains(leaf):
        return TlsFinding(
            Status.FAIL,
            f"certificate {describe(leaf)} is self-signed; CloudFront never accepts self-signed "
            "origin certificates",
            fix_ca,
            502,
        )
    path = _served_path(chain)
    top = chain[path[-1]]
    if len(path) > 1 and is_self_signed(top) and not store.contains(top):
        return TlsFinding(
            Status.FAIL,
            f"the chain ends at the root {describe(top)}, which is not a trusted root "
            "(not in Mozilla's list nor the CA file)",
            fix_ca,
            502,
        )
    anchors = store.issuers_of(top)
    if not is_self_signed(top) and not anchors:
        if not is_ca(top) and _missing_intermediate(top):
            return TlsFinding(
                Status.WARN,
                f"not judged: the issuer of {describe(top)}, {_issuer(top)}, is missing from the "
                "served chain (see tls.cert.chain)",
                "Serve the intermediate certificate(s) with the leaf, then check trust again.",
                502,
            )
        return TlsFinding(
            Status.FAIL,
            f"the chain ends at {_issuer(top)}, the issuer of {describe(top)}, which is not "
            "served and is not a trusted root (not in Mozilla's list nor the CA file)",
            fix_ca,
            502,
        )
    if anchors and not any(issued_by(top, a) for a in anchors):
        return TlsFinding(
            Status.FAIL,
            f"{describe(top)} names the trusted root {describe(anchors[0])} as its issuer, but "
            "its signature does not verify with that root's key",
            "Serve the intermediate your CA issued (its current version) with the leaf.",
            502,
        )
    return TlsFinding(
        Status.FAIL,
        f"the served chain is rejected: {_NOISE.sub('', error)}",
        fix_ca,
        502,
    )


def _issuer(cert: x509.Certificate) -> str:
    cns = cert.issuer.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    return f"'{cns[0].value!s}'" if cns else f"'{cert.issuer.rfc4514_string()}'"


_ROOT_WORD = re.compile(r"\broot\b", re.IGNORECASE)


def _missing_intermediate(cert: x509.Certificate) -> bool:
    """Is the unserved, untrusted issuer of this end-entity certificate an intermediate the origin
    forgot to serve, or a root nobody trusts? Nothing is fetched, so the certificate decides:
    public CAs issue from intermediates and name them in the caIssuers URL (AIA); a certificate
    without one, or whose issuer calls itself a root, comes from a private or test CA."""
    return aia_issuer_url(cert) is not None and not _ROOT_WORD.search(_issuer(cert))


def _weak_anchor(chain: Chain, store: TrustStore) -> x509.Certificate | None:
    """The trusted root the served path reaches when only weak signatures or keys made the
    verifier refuse the chain (their findings say so), else None."""
    if not any(_strictly_refused(c) for c in chain):
        return None
    top = chain[_served_path(chain)[-1]]
    if store.contains(top):
        return top
    return next((a for a in store.issuers_of(top) if issued_by(top, a)), None)


def judge_trust(chain: Chain, store: TrustStore, *, now: dt.datetime) -> TlsFinding:
    """The served chain (no AIA fetching) must reach a root of `store` with acceptable keys."""
    problems = [p for i, c in enumerate(chain, 1) for p in _key_problems(i, c)]
    when, shifted = _verification_time(chain, now)
    ev = [("trust store", "Mozilla's list" + (" + CA file" if store.ca_file else ""))]
    if shifted:
        ev.append(("validated at", f"{_when(when)} (inside the validity dates; see expiry)"))
    error = ""
    try:
        root: x509.Certificate | None = _verify(chain, store, when)
    except (verification.VerificationError, ValueError) as exc:
        root, error = _weak_anchor(chain, store), str(exc)
    if root is None:
        found = _why_untrusted(chain, store, error)
    else:
        ev.append(("root", f"{describe(root)} ({store.source(root)})"))
        found = TlsFinding(
            Status.PASS,
            f"the served chain reaches the trusted root {describe(root)} ({store.source(root)})",
        )
    if problems:
        status = max((found.status, *(p[0] for p in problems)), key=lambda s: s.rank)
        words = "; ".join(w for _, w in problems)
        if found.status is not Status.PASS:
            words = f"{found.words}; {words}"
        elif root is not None:
            words += f" (the chain does reach the trusted root {describe(root)})"
        key_fix = (
            "Have the certificate reissued with an RSA key of 2048-4096 bits or an ECDSA "
            "P-256/P-384 key, signed with SHA-256 or better, as public CAs issue today."
        )
        fix = f"{found.remediation} {key_fix}" if found.remediation else key_fix
        found = TlsFinding(status, words, fix)
    return TlsFinding(
        found.status,
        found.words,
        found.remediation,
        502 if found.status is Status.FAIL else None,
        evidence=tuple(ev),
    )


# --- tls.cert.chain --------------------------------------------------------------------------


def _few(items: Sequence[str], limit: int = 3) -> str:
    more = len(items) - limit
    return ", ".join(items[:limit]) + (f" and {more} more" if more > 0 else "")


def _anchored(cert: x509.Certificate, store: TrustStore) -> bool:
    return store.contains(cert) or any(issued_by(cert, a) for a in store.issuers_of(cert))


def judge_chain(chain: Chain, served_count: int, store: TrustStore) -> TlsFinding:
    """The chain as served: each certificate issued by the next, nothing missing or extra."""
    served = ", ".join(f"{i} {describe(c)}" for i, c in enumerate(chain, 1))
    ev = [
        (
            "served",
            served + (f" (+{served_count - len(chain)} more)" if served_count > len(chain) else ""),
        )
    ]
    fails: list[str] = []
    warns: list[str] = []
    fix: list[str] = []
    if served_count > MAX_CERTS:
        fails.append(
            f"the origin serves {served_count} certificates (only the first {MAX_CERTS} were "
            "examined); a chain needs the leaf and its intermediates"
        )
        fix.append("Serve only the leaf and its intermediates.")
    path = _served_path(chain)
    on_path = set(path)
    duplicates = [i for i, c in enumerate(chain) if i not in on_path and c in chain[:i]]
    extras = [i for i in range(len(chain)) if i not in on_path and i not in duplicates]
    if path != sorted(path):
        want = " then ".join(describe(chain[i]) for i in path)
        fails.append(f"wrong order: each certificate must be followed by its issuer ({want})")
        fix.append(f"Serve the chain in this order: {want}.")
    if duplicates:
        warns.append("served more than once: " + _few([describe(chain[i]) for i in duplicates]))
    if extras:
        warns.append("unrelated certificates served: " + _few([describe(chain[i]) for i in extras]))
        fix.append("Remove certificates that are not part of the leaf's chain.")
    top = chain[path[-1]]
    # Complete when the served path reaches a trust anchor anywhere (a cross-signed root served
    # after the intermediate is fine: validators stop at their own copy of the root).
    anchored = any(_anchored(chain[i], store) for i in path)
    if not is_self_signed(top) and not anchored:
        url = aia_issuer_url(top)
        aia = f" (it points to {url} for it)" if url else ""
        if not is_ca(top) and _missing_intermediate(top):
            fails.append(
                f"missing intermediate: {_issuer(top)}, the issuer of {describe(top)}, is not "
                f"served{aia}; browsers may fix this themselves (AIA), CloudFront will not"
            )
            fix.append(
                f"Serve the intermediate {_issuer(top)} after the leaf (e.g. nginx "
                "`ssl_certificate` with the full chain file)."
            )
        else:
            warns.append(
                f"the chain ends at {describe(top)}, whose issuer {_issuer(top)} is neither "
                "served nor a trusted root (see tls.cert.trust)"
            )
    if fails or warns:
        status = Status.FAIL if fails else Status.WARN
        return TlsFinding(
            status,
            "; ".join(fails + warns),
            " ".join(fix),
            502 if fails else None,
            evidence=tuple(ev),
        )
    if len(chain) == 1 and is_self_signed(top):
        words = "a single self-signed certificate is served (trust: see tls.cert.trust)"
    else:
        words = "served in order: " + " <- ".join(describe(chain[i]) for i in path)
        if not is_self_signed(top) and _anchored(top, store):
            words += " <- a trusted root"
    return TlsFinding(Status.PASS, words, evidence=tuple(ev))


# --- the checks --------------------------------------------------------------------------------


def _group(
    observations: Sequence[TlsObservation],
) -> list[tuple[list[TlsObservation], Chain, int]]:
    groups: dict[tuple[str, ...], tuple[list[TlsObservation], Chain, int]] = {}
    for obs in observations:
        key = (*(fingerprint(c) for c in obs.chain), str(obs.served_count))
        groups.setdefault(key, ([], obs.chain, obs.served_count))[0].append(obs)
    return list(groups.values())


def _label(obs_list: Sequence[TlsObservation], chain: Chain) -> str:
    leaf = chain[0]
    verb = "serves" if len(obs_list) == 1 else "serve"
    return (
        f"{', '.join(o.address for o in obs_list)} {verb} {describe(leaf)} "
        f"(serial {leaf.serial_number:x}, expires {leaf.not_valid_after_utc:%Y-%m-%d})"
    )


class _CertCheck:
    """Shared run(): judge each distinct served chain, report differences between addresses."""

    id = ""
    title = ""

    def prerequisites(self, origin: OriginSettings) -> tuple[str, ...]:
        return ("tls.handshake",)

    def judge(self, chain: Chain, served_count: int, probe: Probe) -> TlsFinding:
        raise NotImplementedError

    def commands(self, obs: TlsObservation, probe: Probe) -> list[str]:
        raise NotImplementedError

    async def run(self, probe: Probe) -> CheckResult:
        # A chain also comes from a handshake that stopped at the origin's client certificate
        # request (judged only when CloudFront presents one: --origin-mtls).
        observations = [o for o in await tls_observations(probe) if o.connected or o.chain]
        with_chain = [o for o in observations if o.chain]
        if not with_chain:
            why = next((o.chain_error for o in observations if o.chain_error), None)
            return result(
                self, Status.ERROR, f"No certificate to judge: {why or 'no handshake succeeded'}."
            )
        try:
            return self._combine(_group(with_chain), probe)
        except TrustStoreError as exc:
            return result(self, Status.ERROR, str(exc))

    def _combine(
        self, groups: list[tuple[list[TlsObservation], Chain, int]], probe: Probe
    ) -> CheckResult:
        judged = [(obs, chain, self.judge(chain, count, probe)) for obs, chain, count in groups]
        worst = max((f for _, _, f in judged), key=lambda f: f.status.rank)
        commands = [c for obs, _, _ in judged for c in self.commands(obs[0], probe)]
        evidence = [
            (f"{obs[0].address} {label}" if len(judged) > 1 else label, value)
            for obs, _, f in judged
            for label, value in f.evidence
        ]
        if len(judged) == 1:
            summary = _sentence(judged[0][2].words)
            status, fix = worst.status, worst.remediation
        else:
            parts = "; ".join(f"{_label(obs, chain)}: {f.words}" for obs, chain, f in judged)
            summary = f"Addresses serve different certificates: {parts}."
            status = max(worst.status, Status.WARN, key=lambda s: s.rank)
            fix = (worst.remediation + " " if worst.remediation else "") + (
                "Install the same, current certificate and chain on every node behind the name."
            )
        return result(
            self,
            status,
            summary,
            evidence=evidence,
            remediation=fix,
            commands=list(dict.fromkeys(commands)),
            cloudfront_status=worst.cloudfront_status if worst.status is Status.FAIL else None,
            affects=address_affects(
                sum(len(o) for o, _, f in judged if f.status is Status.FAIL), len(probe.addresses)
            ),
        )


def _x509_command(obs: TlsObservation) -> str:
    return (
        s_client(obs)
        + " 2>/dev/null | "
        + sh("openssl", "x509", "-noout", "-dates", "-subject", "-issuer", "-ext", "subjectAltName")
    )


class CertExpiry(_CertCheck):
    """`tls.cert.expiry`: the served certificates are within their validity dates."""

    id = "tls.cert.expiry"
    title = "Certificate expiry"

    def judge(self, chain: Chain, served_count: int, probe: Probe) -> TlsFinding:
        return judge_expiry(chain, now=probe.now(), warn_days=probe.origin.expiry_warn_days)

    def commands(self, obs: TlsObservation, probe: Probe) -> list[str]:
        return [_x509_command(obs)]


class CertHostname(_CertCheck):
    """`tls.cert.hostname`: the leaf covers the name CloudFront checks (Host header or origin)."""

    id = "tls.cert.hostname"
    title = "Certificate name"

    def judge(self, chain: Chain, served_count: int, probe: Probe) -> TlsFinding:
        return judge_hostname(
            chain[0],
            name=probe.host_header,
            origin_host=probe.host,
            forwarded=probe.origin.host_header is not None,
        )

    def commands(self, obs: TlsObservation, probe: Probe) -> list[str]:
        return [_x509_command(obs)]


def _save_chain(obs: TlsObservation) -> str:
    return (
        s_client(obs)
        + " 2>/dev/null | "
        + sh("sed", "-n", "/-----BEGIN CERTIFICATE-----/,/-----END CERTIFICATE-----/p")
        + " > served-chain.pem"
    )


class CertTrust(_CertCheck):
    """`tls.cert.trust`: the served chain reaches a trusted root, without fetching anything."""

    id = "tls.cert.trust"
    title = "Certificate trust"

    def judge(self, chain: Chain, served_count: int, probe: Probe) -> TlsFinding:
        return judge_trust(chain, trust_store(probe.engine.ca_file), now=probe.now())

    def commands(self, obs: TlsObservation, probe: Probe) -> list[str]:
        store = trust_store(probe.engine.ca_file)
        cmds = [_save_chain(obs)]
        roots = store.mozilla_path
        if store.ca_file:
            cmds.append(sh("cat", store.mozilla_path, store.ca_file) + " > roots.pem")
            roots = "roots.pem"
        # -untrusted: the served intermediates, never fetched ones; -partial_chain off: roots only.
        cmds.append(
            sh(
                "openssl",
                "verify",
                "-CAfile",
                roots,
                "-untrusted",
                "served-chain.pem",
                "served-chain.pem",
            )
        )
        return cmds


class CertChain(_CertCheck):
    """`tls.cert.chain`: the chain is served complete and in order."""

    id = "tls.cert.chain"
    title = "Certificate chain"

    def judge(self, chain: Chain, served_count: int, probe: Probe) -> TlsFinding:
        return judge_chain(chain, served_count, trust_store(probe.engine.ca_file))

    def commands(self, obs: TlsObservation, probe: Probe) -> list[str]:
        return [s_client(obs) + " 2>/dev/null | " + sh("grep", "-E", "^ *[0-9]+ s:|^ +i:")]
