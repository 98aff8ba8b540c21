"""tls.cert.* : pure judges over certificates built in memory, then real servers on loopback.

The test PKI (tests/certs.py) has a trusted root (given as `--ca-file`), an intermediate, and a
second root that nothing trusts. Each broken server must fail exactly the right check.
"""

from __future__ import annotations

import datetime as dt
import functools
import shutil
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from cf502.checks.probe import Probe
from cf502.checks.tls._x509 import TrustStore, matches, trust_store
from cf502.checks.tls.cert import (
    CertChain,
    CertExpiry,
    CertHostname,
    CertTrust,
    judge_chain,
    judge_expiry,
    judge_hostname,
    judge_trust,
)
from cf502.checks.tls.handshake import Handshake
from cf502.engine import diagnose
from cf502.model import CheckResult, Status
from cf502.settings import OriginSettings
from cf502.target import parse_target
from tests.certs import (
    DAY,
    NOW,
    PrivateKey,
    issue_ca,
    issue_leaf,
    pki,
    rsa_key,
    self_signed,
    untrusted_root_leaf,
    weak_signed,
)
from tests.servers.dns import ORIGIN_ADDRESS, DnsWorld, dns_world_fixture
from tests.servers.tls import TlsServer, make_probe, root_ca_file_fixture, same_port

__all__ = ["dns_world_fixture", "root_ca_file_fixture"]  # fixtures used by name

HOST = "origin.example.test"
CERT_CHECKS = (CertExpiry(), CertHostname(), CertTrust(), CertChain())
Chain = tuple[x509.Certificate, ...]


def leaf(names: Sequence[str] = (HOST,), **kw: Any) -> x509.Certificate:
    return issue_leaf(list(names), pki().intermediate, **kw)


def weak_leaf(digest: str) -> Chain:
    """A leaf signed with SHA-1 or MD5 by the RSA intermediate, served with it."""
    ca = pki().rsa_intermediate
    return (weak_signed(issue_leaf([HOST], ca), ca, digest), ca.cert)


def good(**kw: Any) -> Chain:
    return (leaf(**kw), pki().intermediate.cert)


@pytest.fixture(name="store")
def store_fixture(root_ca_file: str) -> TrustStore:
    return trust_store(root_ca_file)


# --- RFC 6125 matching ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "host", "ok"),
    [
        ("origin.example.test", "origin.example.test", True),
        ("Origin.Example.Test", "origin.example.test", True),
        ("*.example.test", "origin.example.test", True),
        ("*.example.test", "a.origin.example.test", False),  # one label only
        ("*.example.test", "example.test", False),
        ("*.test", "example.test", False),  # never directly under a top-level label
        ("o*.example.test", "origin.example.test", False),  # no partial wildcards
        ("origin.*.test", "origin.example.test", False),
        ("other.example.test", "origin.example.test", False),
    ],
)
def test_rfc6125_matching(pattern: str, host: str, ok: bool) -> None:
    assert matches(pattern, host) is ok


# --- judge_expiry ----------------------------------------------------------------------------------


def test_expiry_pass_warn_and_fail() -> None:
    # Given certificates ending in 90 days, in 5 days, 3 days ago, and starting in 4 days
    ok = judge_expiry(good(), now=NOW, warn_days=14)
    soon = judge_expiry(good(not_after=NOW + 5 * DAY), now=NOW, warn_days=14)
    expired = judge_expiry(
        good(not_before=NOW - 90 * DAY, not_after=NOW - 3 * DAY), now=NOW, warn_days=14
    )
    future = judge_expiry(good(not_before=NOW + 4 * DAY), now=NOW, warn_days=14)
    # Then each gets its status with the date and how long ago / how soon
    assert ok.status is Status.PASS and "90 days left" in ok.words
    assert soon.status is Status.WARN and "in 5 days" in soon.words
    assert expired.status is Status.FAIL and "3 days ago" in expired.words
    assert expired.cloudfront_status == 502
    assert future.status is Status.FAIL and "not valid yet" in future.words
    assert "in 4 days" in future.words


def test_expired_intermediate_fails() -> None:
    old_int = pki().intermediate.cert
    int_key = pki().intermediate.key
    # Given a served intermediate re-issued with dates in the past (same key and name)
    expired_int = (
        x509.CertificateBuilder()
        .subject_name(old_int.subject)
        .issuer_name(old_int.issuer)
        .public_key(int_key.public_key())
        .serial_number(7)
        .not_valid_before(NOW - 400 * DAY)
        .not_valid_after(NOW - DAY)
        .sign(pki().root.key, old_int.signature_hash_algorithm)  # type: ignore[arg-type]
    )
    res = judge_expiry((leaf(), expired_int), now=NOW, warn_days=14)
    assert res.status is Status.FAIL
    assert "intermediate 'cf502 Test Intermediate CA' expired" in res.words


# --- judge_hostname ------------------------------------------------------------------------------


def test_hostname_pass_and_wildcards() -> None:
    wild = leaf(["*.example.test"])
    one = judge_hostname(wild, name=HOST, origin_host=HOST, forwarded=False)
    two = judge_hostname(wild, name="a.origin.example.test", origin_host=HOST, forwarded=False)
    assert one.status is Status.PASS and "(via *.example.test)" in one.words
    assert two.status is Status.FAIL
    assert "the wildcard *.example.test covers exactly one label" in two.words


def test_hostname_failure_lists_the_names_the_certificate_carries() -> None:
    cert = leaf(["a.example.test", "b.example.test"], cn=HOST)
    res = judge_hostname(cert, name=HOST, origin_host=HOST, forwarded=False)
    assert res.status is Status.FAIL
    assert "it names a.example.test, b.example.test" in res.words
    assert "CN is ignored when subjectAltNames are present" in res.words


def test_hostname_uses_cn_only_without_san() -> None:
    res = judge_hostname(leaf(san=False), name=HOST, origin_host=HOST, forwarded=False)
    assert res.status is Status.PASS


def test_forwarded_host_mismatch_says_so() -> None:
    res = judge_hostname(leaf(), name="www.other.test", origin_host=HOST, forwarded=True)
    assert res.status is Status.FAIL
    assert "forwarded Host header www.other.test" in res.words
    assert f"it does cover the origin domain {HOST}" in res.words
    assert "stop forwarding the Host header" in res.remediation


# --- judge_trust ---------------------------------------------------------------------------------


def test_trust_pass_names_the_root(store: TrustStore) -> None:
    res = judge_trust(good(), store, now=NOW)
    assert res.status is Status.PASS
    assert "trusted root 'cf502 Test Root CA' (--ca-file)" in res.words


def test_trust_is_judged_apart_from_the_dates(store: TrustStore) -> None:
    # Given an expired but otherwise trusted chain: that is tls.cert.expiry's failure, not trust's
    chain = good(not_before=NOW - 90 * DAY, not_after=NOW - DAY)
    res = judge_trust(chain, store, now=NOW)
    assert res.status is Status.PASS
    assert any(label == "validated at" for label, _ in res.evidence)


def test_trust_failures_each_have_their_own_words(store: TrustStore) -> None:
    other = pki().other_intermediate
    self_s = judge_trust((self_signed([HOST]),), store, now=NOW)
    untrusted_root = judge_trust(
        (issue_leaf([HOST], other), other.cert, pki().other_root.cert), store, now=NOW
    )
    unknown = judge_trust((issue_leaf([HOST], other), other.cert), store, now=NOW)
    missing = judge_trust((leaf(),), store, now=NOW)
    assert self_s.status is Status.FAIL and "is self-signed" in self_s.words
    assert untrusted_root.status is Status.FAIL
    assert "ends at the root 'cf502 Other Root CA', which is not a trusted root" in (
        untrusted_root.words
    )
    assert unknown.status is Status.FAIL
    assert (
        "ends at 'cf502 Other Root CA', the issuer of 'cf502 Other Intermediate CA', which is "
        in (unknown.words)
    )
    # A missing intermediate is tls.cert.chain's failure: trust only warns it could not judge
    assert missing.status is Status.WARN and "see tls.cert.chain" in missing.words


def test_trust_rejects_keys_cloudfront_does_not_support(store: TrustStore) -> None:
    edwards = judge_trust(good(key=ed25519.Ed25519PrivateKey.generate()), store, now=NOW)
    p521 = judge_trust(good(key=ec.generate_private_key(ec.SECP521R1())), store, now=NOW)
    # CloudFront documents RSA and ECDSA keys only: anything else fails
    assert edwards.status is Status.FAIL and "Ed25519 key" in edwards.words
    assert p521.status is Status.WARN and "secp521r1" in p521.words


def test_rsa_sizes_outside_2048_to_4096_warn_without_inventing_an_origin_limit(
    store: TrustStore,
) -> None:
    small = judge_trust(good(key=rsa_key(1024)), store, now=NOW)
    big = judge_trust(
        good(key=rsa.generate_private_key(public_exponent=65537, key_size=4160)), store, now=NOW
    )
    usual = [judge_trust(good(key=rsa_key(bits)), store, now=NOW) for bits in (2048, 3072, 4096)]
    # A 1024-bit key is refused by strict verifiers, yet the chain does reach the trusted root
    assert small.status is Status.WARN and "1024-bit RSA key, below the 2048 bits" in small.words
    assert "the chain does reach the trusted root 'cf502 Test Root CA'" in small.words
    # Over 4096 bits: CloudFront's 4096-bit limit is documented for viewer certificates only
    assert big.status is Status.WARN and "4160-bit RSA key" in big.words
    assert "4096 bits for viewer certificates and no size for origins" in big.words
    assert "accepts RSA keys of at most" not in big.words
    assert [r.status for r in usual] == [Status.PASS] * 3, [r.words for r in usual]


@pytest.mark.parametrize("digest", ["sha1", "md5"])
def test_weak_signature_is_named_never_a_bad_signature_or_missing_intermediate(
    digest: str, store: TrustStore
) -> None:
    # Given a leaf signed with SHA-1 or MD5 by an intermediate of the trusted root, served with it
    chain = weak_leaf(digest)
    trust = judge_trust(chain, store, now=NOW)
    structure = judge_chain(chain, 2, store)
    name = {"sha1": "SHA-1", "md5": "MD5"}[digest]
    # Then trust warns naming the hash (CloudFront documents no rejection of either)
    assert trust.status is Status.WARN, trust.words
    assert (
        f"certificate 1 'origin.example.test' is signed with {name}, a weak signature"
        in trust.words
    )
    assert "the chain does reach the trusted root 'cf502 Test Root CA'" in trust.words
    assert "does not verify" not in trust.words
    # And the chain is complete and in order: the weak signature still links leaf to issuer
    assert structure.status is Status.PASS, structure.words


def test_weak_signature_on_a_root_is_not_reported(store: TrustStore) -> None:
    # A root's self-signature is never checked by validators: nothing to warn about
    res = judge_trust(good(), store, now=NOW)
    assert res.status is Status.PASS and "weak" not in res.words


@pytest.mark.parametrize("serve_root", [True, False], ids=["root-served", "root-not-served"])
def test_untrusted_root_is_named_and_never_a_missing_intermediate(
    serve_root: bool, store: TrustStore
) -> None:
    # Given a leaf issued directly by a root nobody trusts (badssl's untrusted-root)
    chain = untrusted_root_leaf([HOST], serve_root=serve_root)
    trust = judge_trust(chain, store, now=NOW)
    structure = judge_chain(chain, len(chain), store)
    # Then trust fails naming that root, and the chain check neither says "missing
    # intermediate" nor tells anyone to serve one
    assert trust.status is Status.FAIL and trust.cloudfront_status == 502
    assert "'cf502 Other Root CA'" in trust.words and "not a trusted root" in trust.words
    assert structure.status is not Status.FAIL, structure.words
    assert "missing intermediate" not in structure.words.lower()
    assert "intermediate" not in structure.remediation.lower()


# --- judge_chain ---------------------------------------------------------------------------------


def test_chain_findings(store: TrustStore) -> None:
    p = pki()
    ok = judge_chain(good(), 2, store)
    missing = judge_chain((leaf(),), 1, store)
    order = judge_chain((leaf(), p.root.cert, p.intermediate.cert), 3, store)
    dup = judge_chain((*good(), p.intermediate.cert), 3, store)
    extra = judge_chain((*good(), p.other_root.cert), 3, store)
    alone = judge_chain((self_signed([HOST]),), 1, store)
    assert ok.status is Status.PASS and ok.words.startswith("served in order: 'origin.example")
    assert missing.status is Status.FAIL
    assert "missing intermediate: 'cf502 Test Intermediate CA'" in missing.words
    assert "http://pki.localtest/intermediate.crt" in missing.words
    assert "browsers may fix this themselves (AIA), CloudFront will not" in missing.words
    assert order.status is Status.FAIL and order.words.startswith("wrong order")
    assert "'cf502 Test Intermediate CA' then 'cf502 Test Root CA'" in order.words
    assert dup.status is Status.WARN and "served more than once" in dup.words
    assert extra.status is Status.WARN and "unrelated certificates served" in extra.words
    assert alone.status is Status.PASS and "self-signed" in alone.words


def test_cross_signed_root_served_after_the_intermediate_is_complete(store: TrustStore) -> None:
    # Given the test root cross-signed by the other root (as Let's Encrypt's ISRG Root X1 was),
    # served after the intermediate; the store trusts the self-signed test root
    p = pki()
    root = p.root.cert
    cross = (
        x509.CertificateBuilder()
        .subject_name(root.subject)
        .issuer_name(p.other_root.cert.subject)
        .public_key(p.root.key.public_key())
        .serial_number(99)
        .not_valid_before(NOW - DAY)
        .not_valid_after(NOW + 300 * DAY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(p.other_root.key, hashes.SHA256())
    )
    res = judge_chain((*good(), cross), 3, store)
    # Then the chain is complete and in order
    assert res.status is Status.PASS, res.words


def test_too_many_certificates_fail(store: TrustStore) -> None:
    fillers = tuple(issue_ca(f"filler {i}", pki().root).cert for i in range(9))
    res = judge_chain((*good(), *fillers), 50, store)
    assert res.status is Status.FAIL
    assert "serves 50 certificates (only the first 10 were examined)" in res.words


# --- real servers ----------------------------------------------------------------------------


async def run_all(probe: Probe) -> dict[str, CheckResult]:
    try:
        results = {"tls.handshake": await Handshake().run(probe)}
        for check in CERT_CHECKS:
            results[check.id] = await check.run(probe)
        return results
    finally:
        await probe.close()


def other_leaf() -> Chain:
    other = pki().other_intermediate
    return (issue_leaf([HOST], other), other.cert, pki().other_root.cert)


CASES: list[tuple[str, Callable[[], Chain], dict[str, Any], str, Status, str]] = [
    (
        "expired",
        lambda: good(not_before=NOW - 90 * DAY, not_after=NOW - 2 * DAY),
        {},
        "tls.cert.expiry",
        Status.FAIL,
        "expired on",
    ),
    (
        "not-yet-valid",
        lambda: good(not_before=NOW + 3 * DAY),
        {},
        "tls.cert.expiry",
        Status.FAIL,
        "is not valid yet",
    ),
    (
        "wrong-name",
        lambda: good(names=["other.example.test"]),
        {},
        "tls.cert.hostname",
        Status.FAIL,
        "does not cover the origin domain origin.example.test; it names other.example.test",
    ),
    (
        "wildcard-two-levels",
        lambda: good(names=["*.example.test"]),
        {"host": "a.origin.example.test"},
        "tls.cert.hostname",
        Status.FAIL,
        "covers exactly one label",
    ),
    (
        "forwarded-host-mismatch",
        good,
        {"host_header": "www.other.test"},
        "tls.cert.hostname",
        Status.FAIL,
        "does not cover the forwarded Host header www.other.test",
    ),
    (
        "self-signed",
        lambda: (self_signed([HOST]),),
        {},
        "tls.cert.trust",
        Status.FAIL,
        "is self-signed; CloudFront never accepts",
    ),
    (
        "untrusted-root",
        other_leaf,
        {},
        "tls.cert.trust",
        Status.FAIL,
        "not a trusted root",
    ),
    (
        "missing-intermediate",
        lambda: (leaf(),),
        {},
        "tls.cert.chain",
        Status.FAIL,
        "Missing intermediate",
    ),
    (
        "wrong-order",
        lambda: (leaf(), pki().root.cert, pki().intermediate.cert),
        {},
        "tls.cert.chain",
        Status.FAIL,
        "Wrong order",
    ),
    (
        "fifty-certificates",
        lambda: (*good(), *(issue_ca(f"filler {i}", pki().root).cert for i in range(48))),
        {},
        "tls.cert.chain",
        Status.FAIL,
        "serves 50 certificates",
    ),
]


async def test_good_origin_passes_every_certificate_check(root_ca_file: str) -> None:
    with TlsServer(good(), pki().leaf_key) as origin:
        results = await run_all(make_probe(origin.port, root_ca_file))
    assert {cid: r.status for cid, r in results.items()} == dict.fromkeys(results, Status.PASS)


async def test_wildcard_one_level_passes(root_ca_file: str) -> None:
    with TlsServer(good(names=["*.example.test"]), pki().leaf_key) as origin:
        results = await run_all(make_probe(origin.port, root_ca_file))
    assert results["tls.cert.hostname"].status is Status.PASS


@pytest.mark.parametrize(
    ("chain", "probe_kw", "failing", "status", "words"),
    [pytest.param(c, k, f, s, w, id=i) for i, c, k, f, s, w in CASES],
)
async def test_broken_certificate_fails_exactly_the_right_check(
    chain: Callable[[], Chain],
    probe_kw: dict[str, Any],
    failing: str,
    status: Status,
    words: str,
    root_ca_file: str,
) -> None:
    # Given an origin serving a chain broken in one way (handshake itself fine)
    with TlsServer(chain(), pki().leaf_key) as origin:
        # When every TLS check runs
        results = await run_all(make_probe(origin.port, root_ca_file, **probe_kw))
    # Then the right check fails in words, CloudFront's 502 predicted, and no other check fails
    assert results["tls.handshake"].status is Status.PASS
    res = results[failing]
    assert res.status is status, res.summary
    assert words in res.summary, res.summary
    assert res.cloudfront_status == 502 and res.remediation
    others = {cid: r.status for cid, r in results.items() if cid != failing}
    assert Status.FAIL not in others.values(), others


async def test_one_handshake_per_address_serves_every_check(root_ca_file: str) -> None:
    # Given a good origin that counts its connections
    with TlsServer(good(), pki().leaf_key) as origin:
        await run_all(make_probe(origin.port, root_ca_file))
        connections = origin.connections
    # Then the five TLS checks shared one handshake (after the one TCP connect, which tcp.https
    # shares, that picks the addresses to observe)
    assert connections == 2


async def test_a_node_with_an_old_certificate_is_reported(root_ca_file: str) -> None:
    # Given two nodes behind one name: 127.0.0.2 still serves last year's certificate
    old = good(not_before=NOW - 400 * DAY, not_after=NOW - 10 * DAY)
    with same_port(
        [
            ("127.0.0.1", lambda h, p: TlsServer(good(), pki().leaf_key, host=h, port=p)),
            ("127.0.0.2", lambda h, p: TlsServer(old, pki().leaf_key, host=h, port=p)),
        ]
    ) as (node, _old):
        results = await run_all(
            make_probe(node.port, root_ca_file, addresses=("127.0.0.1", "127.0.0.2"))
        )
    expiry = results["tls.cert.expiry"]
    assert expiry.status is Status.FAIL
    assert expiry.summary.startswith("Addresses serve different certificates: 127.0.0.1 serves")
    assert "127.0.0.2 serves 'origin.example.test'" in expiry.summary
    assert "10 days ago" in expiry.summary
    assert "same, current certificate" in expiry.remediation
    # The difference alone is worth a warning in the other certificate checks
    assert results["tls.cert.hostname"].status is Status.WARN


async def test_unreadable_ca_file_is_an_error(tmp_path: Path) -> None:
    with TlsServer(good(), pki().leaf_key) as origin:
        results = await run_all(make_probe(origin.port, str(tmp_path / "nope.pem")))
    assert results["tls.cert.trust"].status is Status.ERROR
    assert "cannot read the CA file" in results["tls.cert.trust"].summary


# --- the broken-TLS catalogue: weak, untrusted and healthy servers -------------------------------


@functools.cache
def ec_key(curve: str) -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key({"P-256": ec.SECP256R1(), "P-384": ec.SECP384R1()}[curve])


HEALTHY: list[tuple[str, Callable[[], tuple[Chain, PrivateKey]]]] = [
    ("rsa-2048", lambda: (good(), pki().leaf_key)),
    ("rsa-4096", lambda: (good(key=rsa_key(4096)), rsa_key(4096))),
    ("ecdsa-p256", lambda: (good(key=ec_key("P-256")), ec_key("P-256"))),
    ("ecdsa-p384", lambda: (good(key=ec_key("P-384")), ec_key("P-384"))),
    ("full-chain-with-root", lambda: ((*good(), pki().root.cert), pki().leaf_key)),
    (
        "rsa-intermediate",
        lambda: (
            (issue_leaf([HOST], pki().rsa_intermediate), pki().rsa_intermediate.cert),
            pki().leaf_key,
        ),
    ),
]


@pytest.mark.parametrize("served", [pytest.param(m, id=i) for i, m in HEALTHY])
async def test_healthy_variants_pass_every_tls_check_without_a_warning(
    served: Callable[[], tuple[Chain, PrivateKey]], root_ca_file: str
) -> None:
    # Given a healthy origin (the root is not served unless said: validators use their own copy)
    chain, key = served()
    with TlsServer(chain, key) as origin:
        results = await run_all(make_probe(origin.port, root_ca_file))
    # Then every TLS check passes: no false alarm, not even a warning
    assert {cid: r.status for cid, r in results.items()} == dict.fromkeys(results, Status.PASS), {
        cid: r.summary for cid, r in results.items() if r.status is not Status.PASS
    }


WEAK: list[tuple[str, Callable[[], tuple[Chain, PrivateKey]], str]] = [
    ("sha1-leaf", lambda: (weak_leaf("sha1"), pki().leaf_key), "is signed with SHA-1, a weak"),
    ("md5-leaf", lambda: (weak_leaf("md5"), pki().leaf_key), "is signed with MD5, a weak"),
    ("rsa-1024", lambda: (good(key=rsa_key(1024)), rsa_key(1024)), "has a 1024-bit RSA key"),
]


@pytest.mark.parametrize(("served", "words"), [pytest.param(m, w, id=i) for i, m, w in WEAK])
async def test_weak_certificates_warn_naming_the_weakness(
    served: Callable[[], tuple[Chain, PrivateKey]], words: str, root_ca_file: str
) -> None:
    # Given an origin serving a weak certificate (at OpenSSL security level 0, so it loads)
    chain, key = served()
    with TlsServer(chain, key, ciphers="DEFAULT") as origin:
        results = await run_all(make_probe(origin.port, root_ca_file))
    # Then tls.cert.trust warns, naming it, and says the chain reaches the trusted root
    trust = results["tls.cert.trust"]
    assert trust.status is Status.WARN, trust.summary
    assert words in trust.summary
    assert "the chain does reach the trusted root 'cf502 Test Root CA'" in trust.summary
    assert trust.cloudfront_status is None
    # And nothing else is blamed: not the handshake, not a missing intermediate
    others = {cid: r.status for cid, r in results.items() if cid != "tls.cert.trust"}
    assert others == dict.fromkeys(others, Status.PASS), others


@pytest.mark.parametrize("serve_root", [True, False], ids=["root-served", "root-not-served"])
async def test_untrusted_root_fails_trust_naming_it(serve_root: bool, root_ca_file: str) -> None:
    # Given an origin whose leaf was issued directly by a root nobody trusts
    with TlsServer(untrusted_root_leaf([HOST], serve_root=serve_root), pki().leaf_key) as origin:
        results = await run_all(make_probe(origin.port, root_ca_file))
    # Then tls.cert.trust fails naming that root, predicting 502
    trust = results["tls.cert.trust"]
    assert trust.status is Status.FAIL and trust.cloudfront_status == 502
    assert "'cf502 Other Root CA'" in trust.summary and "not a trusted root" in trust.summary
    # And tls.cert.chain does not call it a missing intermediate nor ask for one to be served
    chain = results["tls.cert.chain"]
    assert chain.status is not Status.FAIL, chain.summary
    assert "missing intermediate" not in chain.summary.lower()
    assert "serve the intermediate" not in (chain.remediation + trust.remediation).lower()


# --- printed commands reproduce the outcome ----------------------------------------------------


@pytest.mark.skipif(shutil.which("openssl") is None, reason="no openssl CLI")
@pytest.mark.parametrize(
    ("chain", "ok"),
    [
        pytest.param(good, True, id="good"),
        pytest.param(lambda: (leaf(),), False, id="missing-intermediate"),
        pytest.param(lambda: (self_signed([HOST]),), False, id="self-signed"),
        pytest.param(other_leaf, False, id="untrusted-root"),
    ],
)
async def test_printed_verify_commands_reproduce_the_outcome(
    chain: Callable[[], Chain], ok: bool, root_ca_file: str, tmp_path: Path
) -> None:
    with TlsServer(chain(), pki().leaf_key) as origin:
        res = await CertTrust().run(make_probe(origin.port, root_ca_file))
        # When the printed commands run one after the other in a scratch directory
        procs = [
            subprocess.run(
                ["bash", "-c", c], cwd=tmp_path, capture_output=True, text=True, timeout=20
            )
            for c in res.commands
        ]
    assert res.commands[-1].startswith("openssl verify -CAfile roots.pem -untrusted")
    assert (procs[-1].returncode == 0) is ok, procs[-1].stdout + procs[-1].stderr


# --- end to end through the engine, DNS included -------------------------------------------------

TLS_IDS = ["tls.handshake", "tls.cert.expiry", "tls.cert.hostname", "tls.cert.trust"]


@pytest.mark.parametrize(
    ("chain", "cause"),
    [
        pytest.param(lambda: good(names=["www.example.test"]), None, id="good"),
        pytest.param(lambda: (leaf(["www.example.test"]),), "tls.cert.chain", id="missing-int"),
        pytest.param(
            lambda: good(names=["www.example.test"], not_before=NOW - 99 * DAY, not_after=NOW),
            "tls.cert.expiry",
            id="expired",
        ),
    ],
)
async def test_diagnose_names_the_cause(
    chain: Callable[[], Chain], cause: str | None, dns_world: DnsWorld, root_ca_file: str
) -> None:
    # Given www.example.test resolving (through the test DNS) to a TLS origin on 127.0.0.10
    with TlsServer(chain(), pki().leaf_key, host=ORIGIN_ADDRESS) as origin:
        # When the engine diagnoses it, as `cf502 check` does
        report = await diagnose(
            parse_target("www.example.test"),
            OriginSettings(https_port=origin.port, connect_timeout=1, read_timeout=1),
            dns_world.engine(ca_file=root_ca_file),
            only=[*TLS_IDS, "tls.cert.chain"],
            now=lambda: NOW + dt.timedelta(seconds=1),
        )
    # Then the verdict names the failing TLS check (or none), and the report survives JSON
    assert report.verdict.likely_cause == cause, report.verdict.summary
    assert report.addresses == (ORIGIN_ADDRESS,)
    assert type(report).from_json(report.to_json()) == report
