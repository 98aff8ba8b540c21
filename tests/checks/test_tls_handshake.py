"""tls.handshake against real TLS servers on loopback, each broken in one way CloudFront minds.

Every server is a real listener on 127.0.0.x; the handshake is CloudFront's own offer from
`tls/_offer`. The wire helpers (ClientHello builder, server-flight parser) get plain unit tests.
"""

from __future__ import annotations

import re
import shutil
import socket
import ssl
import subprocess
import time
import warnings
from collections.abc import Callable

import pytest
from cryptography import x509

from cf502.checks.probe import Probe
from cf502.checks.tls._offer import (
    CLOUDFRONT_CIPHERS,
    OfferUnavailable,
    cloudfront_ssl_context,
    openssl_version_flags,
)
from cf502.checks.tls._wire import MAX_CERTS, MAX_MESSAGE, ServerFlight, build_client_hello
from cf502.checks.tls.cert import CertExpiry
from cf502.checks.tls.handshake import Handshake
from cf502.engine import diagnose
from cf502.model import CheckResult, Status
from cf502.settings import OriginSettings, ProtocolPolicy
from cf502.target import parse_target
from tests.certs import issue_leaf, pki
from tests.servers.dns import ORIGIN_ADDRESS, DnsWorld, dns_world_fixture
from tests.servers.tls import (
    ClientCertServer,
    GarbageServer,
    LegacyOnlyServer,
    LoopbackServer,
    PlainHttpServer,
    ResetServer,
    SilentServer,
    StallServer,
    TlsServer,
    make_probe,
    root_ca_file_fixture,
    same_port,
)

__all__ = ["dns_world_fixture", "root_ca_file_fixture"]  # fixtures used by name

HOST = "origin.example.test"
TLS12 = ssl.TLSVersion.TLSv1_2
with warnings.catch_warnings():  # deprecated, and exactly what an old origin runs
    warnings.simplefilter("ignore", DeprecationWarning)
    TLS10 = ssl.TLSVersion.TLSv1


def good_chain() -> list[x509.Certificate]:
    return [issue_leaf([HOST], pki().intermediate), pki().intermediate.cert]


def tls_server(**kw: object) -> TlsServer:
    return TlsServer(good_chain(), pki().leaf_key, **kw)  # type: ignore[arg-type]


async def run_handshake(probe: Probe) -> CheckResult:
    try:
        return await Handshake().run(probe)
    finally:
        await probe.close()


# --- the offer ----------------------------------------------------------------------------------


def test_stdlib_context_offers_cloudfronts_suites_in_order() -> None:
    # Given CloudFront's default origin settings
    # When the stdlib helper builds its context
    ctx = cloudfront_ssl_context(OriginSettings())
    # Then it offers TLS 1.2 only and CloudFront's suites (minus those OpenSSL dropped), in order
    names = [c["name"] for c in ctx.get_ciphers() if c["protocol"] != "TLSv1.3"]
    assert names == [c for c in CLOUDFRONT_CIPHERS if c in names]
    assert len(names) >= 14  # every modern suite survives @SECLEVEL=0
    assert ctx.maximum_version is TLS12 and ctx.minimum_version is TLS12
    assert ctx.verify_mode is ssl.CERT_NONE and not ctx.check_hostname


def test_sslv3_only_cannot_be_offered() -> None:
    with pytest.raises(OfferUnavailable, match="SSLv3"):
        cloudfront_ssl_context(OriginSettings(ssl_protocols=("SSLv3",)))


def test_s_client_version_flags() -> None:
    assert openssl_version_flags(["TLSv1.2"]) == ["-tls1_2"]
    assert openssl_version_flags(["TLSv1", "TLSv1.2"]) == ["-no_tls1_1", "-no_tls1_3"]


# --- the wire parser ------------------------------------------------------------------------------


def _record(ctype: int, payload: bytes) -> bytes:
    return bytes([ctype, 3, 3]) + len(payload).to_bytes(2, "big") + payload


def _hs(kind: int, body: bytes) -> bytes:
    return bytes([kind]) + len(body).to_bytes(3, "big") + body


def test_flight_parser_reads_fragmented_server_hello_and_certificates() -> None:
    # Given a ServerHello + a Certificate of 12 tiny entries, split across records and feeds
    hello = b"\x03\x03" + b"r" * 32 + b"\x00" + b"\xc0\x2f" + b"\x00"
    entries = b"".join(len(d).to_bytes(3, "big") + d for d in [b"cert%d" % i for i in range(12)])
    messages = _hs(2, hello) + _hs(11, len(entries).to_bytes(3, "big") + entries) + _hs(14, b"")
    wire = _record(22, messages[:30]) + _record(22, messages[30:])
    flight = ServerFlight()
    # When it arrives a few bytes at a time
    for i in range(0, len(wire), 7):
        flight.feed(wire[i : i + 7])
    # Then the suite, the certificate count and at most MAX_CERTS certificates are kept
    assert flight.done and flight.error is None
    assert (flight.version, flight.cipher) == (0x0303, 0xC02F)
    assert flight.served_count == 12 and len(flight.certificates) == MAX_CERTS
    assert flight.certificates[0] == b"cert0"


def test_flight_parser_refuses_an_oversized_message_without_buffering_it() -> None:
    # Given a handshake header announcing a 1 MB certificate message
    flight = ServerFlight()
    flight.feed(_record(22, _hs(11, b"")[:1] + (1_000_000).to_bytes(3, "big")))
    # Then parsing stops at once, naming the size
    assert flight.done and flight.certificate_bytes == 1_000_000
    assert flight.error is not None and f"{MAX_MESSAGE:,}" in flight.error


@pytest.mark.parametrize(
    ("data", "not_tls", "alert"),
    [
        (b"HTTP/1.1 400 Bad Request\r\n", True, None),
        (b"\x00\xffgarbage", True, None),
        (_record(21, b"\x02\x46"), False, "protocol_version"),
    ],
)
def test_flight_parser_tells_http_garbage_and_alerts(
    data: bytes, not_tls: bool, alert: str | None
) -> None:
    flight = ServerFlight()
    flight.feed(data)
    assert flight.done and flight.not_tls is not_tls and flight.alert_name == alert


def test_client_hello_is_one_tls_record_with_the_suites() -> None:
    hello = build_client_hello(HOST, [0xC02F, 0x000A])
    assert hello[0] == 0x16 and int.from_bytes(hello[3:5], "big") == len(hello) - 5
    assert b"\xc0\x2f\x00\x0a" in hello and HOST.encode() in hello


# --- real servers: pass and warn ------------------------------------------------------------------


async def test_good_origin_passes_with_protocol_and_cipher(root_ca_file: str) -> None:
    # Given an origin with CloudFront-compatible TLS
    with tls_server() as origin:
        # When CloudFront's handshake runs
        res = await run_handshake(make_probe(origin.port, root_ca_file))
    # Then it passes and says what was negotiated
    assert res.status is Status.PASS, res.summary
    assert "negotiates TLSv1.2 with ECDHE-RSA-" in res.summary and "127.0.0.1" in res.summary
    assert res.cloudfront_status is None
    cmd = res.commands[0]
    assert cmd.startswith(f"openssl s_client -connect 127.0.0.1:{origin.port} -servername {HOST}")
    assert "-tls1_2" in cmd and "-groups X25519:P-256:P-384" in cmd and cmd.endswith("</dev/null")


async def test_sni_is_the_forwarded_host(root_ca_file: str) -> None:
    # Given an origin that records the server name it is asked for
    seen: list[str | None] = []

    def remember(_sock: ssl.SSLObject, name: str | None, _ctx: ssl.SSLContext) -> None:
        seen.append(name)

    origin = tls_server()
    origin.ctx.sni_callback = remember
    with origin:
        # When CloudFront forwards the Host header www.example.test
        res = await run_handshake(
            make_probe(origin.port, root_ca_file, host_header="www.example.test")
        )
    # Then that Host is the SNI (as for CloudFront), not the origin domain
    assert res.status is Status.PASS
    assert seen == ["www.example.test"]
    assert "-servername www.example.test" in res.commands[0]


async def test_only_legacy_suite_in_common_warns_and_still_yields_the_chain(
    root_ca_file: str,
) -> None:
    # Given an old origin whose only suite is DES-CBC3-SHA (CloudFront still offers it)
    with LegacyOnlyServer(good_chain()) as origin:
        probe = make_probe(origin.port, root_ca_file)
        res = await Handshake().run(probe)
        # When the certificate checks run on the same observation
        expiry = await CertExpiry().run(probe)
        await probe.close()
    # Then the handshake warns, naming the suite, and the certificate is still judged
    assert res.status is Status.WARN, res.summary
    assert "only suite the origin shares with CloudFront is the legacy DES-CBC3-SHA" in res.summary
    assert expiry.status is Status.PASS, expiry.summary


async def test_older_protocol_passes_when_cloudfront_is_set_to_offer_it(root_ca_file: str) -> None:
    # Given a TLS 1.0-only origin and CloudFront's origin SSL protocols TLSv1 + TLSv1.2
    with tls_server(minimum=TLS10, maximum=TLS10, ciphers="DEFAULT") as origin:
        res = await run_handshake(
            make_probe(origin.port, root_ca_file, ssl_protocols=("TLSv1", "TLSv1.2"))
        )
    # Then CloudFront's offer negotiates TLSv1
    assert res.status is Status.PASS, res.summary
    assert "negotiates TLSv1 with" in res.summary


# --- client certificates: CloudFront presents none unless origin mTLS is configured ----------------


CLIENT_CERT = [
    ("required", lambda: tls_server(client_ca=pki().root.cert), True),
    (
        "optional-then-400",
        lambda: ClientCertServer(good_chain(), pki().leaf_key, enforce=True),
        False,
    ),
    ("optional", lambda: ClientCertServer(good_chain(), pki().leaf_key, enforce=False), False),
]


@pytest.mark.parametrize(
    ("make", "required"), [pytest.param(m, r, id=i) for i, m, r in CLIENT_CERT]
)
async def test_client_certificate_request_fails_predicting_502(
    make: Callable[[], TlsServer], required: bool, root_ca_file: str
) -> None:
    # Given an origin that asks for a client certificate (in the handshake or after it)
    with make() as origin:
        # When CloudFront's handshake runs, without origin mTLS
        res = await run_handshake(make_probe(origin.port, root_ca_file))
    # Then it fails: CloudFront sends no certificate and drops such requests (502)
    assert res.status is Status.FAIL, res.summary
    assert res.cloudfront_status == 502
    wanted = (
        "Origin requires a client certificate, which CloudFront does not send"
        if required
        else "Origin asks for a client certificate (optional in the TLSv1.2 with ECDHE-RSA-"
    )
    assert res.summary.startswith(wanted), res.summary
    assert "which CloudFront does not send" in res.summary
    assert "--origin-mtls" in res.remediation and "ssl_verify_client off" in res.remediation


@pytest.mark.parametrize(
    ("make", "required"), [pytest.param(m, r, id=i) for i, m, r in CLIENT_CERT]
)
async def test_with_origin_mtls_a_client_certificate_request_is_a_note(
    make: Callable[[], TlsServer], required: bool, root_ca_file: str
) -> None:
    # Given the same origins, and a distribution that presents a client certificate to them
    with make() as origin:
        probe = make_probe(origin.port, root_ca_file, origin_mtls=True)
        try:
            res = await Handshake().run(probe)
            expiry = await CertExpiry().run(probe)
        finally:
            await probe.close()
    # Then the handshake passes with a note, and the served chain is still judged
    assert res.status is Status.PASS, res.summary
    assert "presents (origin mTLS)" in res.summary
    assert res.summary.startswith("CloudFront's offer (TLSv1.2) negotiates TLSv1.2 with ECDHE-")
    assert ("rest of the handshake was not checked" in res.summary) is required
    assert res.cloudfront_status is None
    assert expiry.status is Status.PASS, expiry.summary


async def test_origin_mtls_changes_nothing_for_an_origin_that_asks_for_no_certificate(
    root_ca_file: str,
) -> None:
    with tls_server() as origin:
        res = await run_handshake(make_probe(origin.port, root_ca_file, origin_mtls=True))
    assert res.status is Status.PASS, res.summary
    assert "client certificate" not in res.summary


async def test_diagnosis_of_an_origin_that_refuses_requests_without_a_certificate(
    dns_world: DnsWorld, root_ca_file: str
) -> None:
    # Given www.example.test resolving to an nginx-like origin: the handshake completes, then
    # requests without a client certificate get 400
    server = ClientCertServer(
        [issue_leaf(["www.example.test"], pki().intermediate), pki().intermediate.cert],
        pki().leaf_key,
        enforce=True,
        host=ORIGIN_ADDRESS,
    )
    with server as origin:
        # When the engine diagnoses it, as `cf502 check` does
        report = await diagnose(
            parse_target("www.example.test"),
            OriginSettings(https_port=origin.port, connect_timeout=1, read_timeout=1),
            dns_world.engine(ca_file=root_ca_file),
        )
    # Then the verdict is a failure caused by the client certificate request, predicting 502
    assert report.verdict.status is Status.FAIL, report.verdict.summary
    assert report.verdict.likely_cause == "tls.handshake", report.verdict.summary
    assert report.verdict.cloudfront_status == 502
    assert "client certificate" in report.verdict.summary


# --- real servers: the causes CloudFront fails on ---------------------------------------------


FAILING = [
    (
        "tls13-only",
        lambda: tls_server(minimum=ssl.TLSVersion.TLSv1_3),
        "Origin accepts only TLS 1.3, which CloudFront does not use to origins",
        "-tls1_3",
    ),
    (
        "chacha-and-dhe",
        lambda: tls_server(
            ciphers="ECDHE-RSA-CHACHA20-POLY1305:DHE-RSA-AES256-GCM-SHA384", maximum=TLS12
        ),
        "Origin offers only ECDHE-RSA-CHACHA20-POLY1305 and DHE-RSA-AES256-GCM-SHA384, none of "
        "which CloudFront offers",
        "ALL:COMPLEMENTOFALL",
    ),
    (
        "static-rsa-gcm",
        lambda: tls_server(ciphers="AES128-GCM-SHA256:AES256-GCM-SHA384", maximum=TLS12),
        "Origin offers only AES128-GCM-SHA256 and AES256-GCM-SHA384, none of which CloudFront",
        "ALL:COMPLEMENTOFALL",
    ),
    (
        "client-cert-required",
        lambda: tls_server(client_ca=pki().root.cert),
        "Origin requires a client certificate, which CloudFront does not send",
        "-showcerts",
    ),
    (
        "tls10-only",
        lambda: tls_server(minimum=TLS10, maximum=TLS10, ciphers="DEFAULT"),
        "Origin accepts only TLSv1, which CloudFront is not set to offer (TLSv1.2)",
        "-tls1 ",
    ),
    (
        "plain-http",
        PlainHttpServer,
        "Not TLS at all: plain HTTP on the HTTPS port (it answered 'HTTP/1.1 400 Bad Request'",
        "-showcerts",
    ),
    (
        "garbage",
        GarbageServer,
        "Not TLS at all: the origin sent bytes that are not TLS (first bytes: 00 ff",
        "-showcerts",
    ),
    ("reset", ResetServer, "Connection reset during the handshake", "-showcerts"),
]


@pytest.mark.parametrize(
    ("make", "words", "command"),
    [pytest.param(m, w, c, id=i) for i, m, w, c in FAILING],
)
async def test_broken_origin_fails_with_the_cause_in_words(
    make: Callable[[], LoopbackServer], words: str, command: str, root_ca_file: str
) -> None:
    # Given an origin broken in one way
    with make() as origin:
        # When CloudFront's handshake (and the follow-up probes) run
        res = await run_handshake(make_probe(origin.port, root_ca_file))
    # Then the check fails with the cause in words, a 502, and a command that shows it
    assert res.status is Status.FAIL, res.summary
    assert res.summary.startswith(words), res.summary
    assert res.cloudfront_status == 502
    assert res.remediation
    assert any(command in c for c in res.commands), res.commands


async def test_silent_origin_fails_within_the_deadline(root_ca_file: str) -> None:
    # Given an origin that accepts TCP and never answers the ClientHello
    with SilentServer() as origin:
        started = time.monotonic()
        res = await run_handshake(make_probe(origin.port, root_ca_file, connect_timeout=1))
        elapsed = time.monotonic() - started
    # Then the check fails after the connection timeout, predicting CloudFront's 504
    assert res.status is Status.FAIL
    assert "does not complete the TLS handshake: no answer to the ClientHello within 1 s" in (
        res.summary
    )
    assert res.cloudfront_status == 504
    assert elapsed < 2.5


async def test_stalled_handshake_fails_within_the_deadline(root_ca_file: str) -> None:
    # Given an origin that starts a handshake record and stops mid-way
    with StallServer() as origin:
        started = time.monotonic()
        res = await run_handshake(make_probe(origin.port, root_ca_file, connect_timeout=1))
        elapsed = time.monotonic() - started
    assert res.status is Status.FAIL
    assert "stalled after sending 15 bytes" in res.summary
    assert elapsed < 2.5


async def test_one_megabyte_certificate_fails_fast(root_ca_file: str) -> None:
    # Given an origin whose certificate carries a 1 MB extension
    oid = x509.ObjectIdentifier("1.3.6.1.4.1.55555.1")
    huge = issue_leaf(
        [HOST],
        pki().intermediate,
        extra=[x509.UnrecognizedExtension(oid, b"\x04\x83\x0f\x42\x40" + b"x" * 1_000_000)],
    )
    with TlsServer([huge, pki().intermediate.cert], pki().leaf_key) as origin:
        started = time.monotonic()
        res = await run_handshake(make_probe(origin.port, root_ca_file))
        elapsed = time.monotonic() - started
    # Then it fails, naming the size, without reading the whole megabyte
    assert res.status is Status.FAIL
    assert res.summary.startswith("The origin's handshake is too large")
    assert re.search(r"a handshake message of 1,00\d,\d{3} bytes", res.summary), res.summary
    assert elapsed < 2


async def test_sslv3_only_setting_is_an_error_not_a_verdict(root_ca_file: str) -> None:
    with tls_server() as origin:
        res = await run_handshake(make_probe(origin.port, root_ca_file, ssl_protocols=("SSLv3",)))
    assert res.status is Status.ERROR and "SSLv3" in res.summary


async def test_skipped_under_http_only(root_ca_file: str) -> None:
    res = await run_handshake(
        make_probe(8443, root_ca_file, protocol_policy=ProtocolPolicy.HTTP_ONLY)
    )
    assert res.status is Status.SKIP


# --- every address -------------------------------------------------------------------------------


async def test_addresses_that_differ_are_reported_as_such(root_ca_file: str) -> None:
    # Given two nodes behind one name: 127.0.0.1 healthy, 127.0.0.2 TLS 1.3 only
    with same_port(
        [
            ("127.0.0.1", lambda h, p: tls_server(host=h, port=p)),
            ("127.0.0.2", lambda h, p: tls_server(host=h, port=p, minimum=ssl.TLSVersion.TLSv1_3)),
        ]
    ) as (good, _bad):
        res = await run_handshake(
            make_probe(good.port, root_ca_file, addresses=("127.0.0.1", "127.0.0.2"))
        )
    # Then the difference is the finding, and the failing node is named
    assert res.status is Status.FAIL
    assert res.summary.startswith("Addresses differ: 127.0.0.1: TLSv1.2 with ECDHE-RSA-")
    assert "127.0.0.2: origin accepts only TLS 1.3" in res.summary
    assert "1 of 2" in res.summary


def _has_ipv6_loopback() -> bool:
    try:
        with socket.create_server(("::1", 0), family=socket.AF_INET6):
            return True
    except OSError:
        return False


@pytest.mark.skipif(not _has_ipv6_loopback(), reason="no IPv6 loopback")
async def test_ipv6_address_is_bracketed_in_commands(root_ca_file: str) -> None:
    # Given an origin on ::1
    with tls_server(host="::1") as origin:
        res = await run_handshake(make_probe(origin.port, root_ca_file, addresses=("::1",)))
    # Then the handshake works over IPv6 and the command quotes the address as openssl wants it
    assert res.status is Status.PASS, res.summary
    assert f"-connect '[::1]:{origin.port}'" in res.commands[0]


# --- the printed command reproduces the outcome -------------------------------------------------

needs_openssl = pytest.mark.skipif(shutil.which("openssl") is None, reason="no openssl CLI")


def run_command(command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-c", command], capture_output=True, text=True, timeout=20, check=False
    )


@needs_openssl
@pytest.mark.parametrize(
    ("make", "ok"),
    [
        pytest.param(lambda: tls_server(), True, id="good"),
        pytest.param(lambda: tls_server(minimum=ssl.TLSVersion.TLSv1_3), False, id="tls13-only"),
        pytest.param(
            lambda: tls_server(ciphers="ECDHE-RSA-CHACHA20-POLY1305", maximum=TLS12),
            False,
            id="chacha-only",
        ),
        pytest.param(lambda: tls_server(client_ca=pki().root.cert), False, id="client-cert"),
        pytest.param(PlainHttpServer, False, id="plain-http"),
    ],
)
async def test_printed_s_client_command_reproduces_the_outcome(
    make: Callable[[], LoopbackServer], ok: bool, root_ca_file: str
) -> None:
    # Given cf502's verdict and its equivalent openssl command
    with make() as origin:
        res = await run_handshake(make_probe(origin.port, root_ca_file))
        # When the first printed command runs against the same origin
        proc = run_command(res.commands[0])
    # Then openssl agrees: a session exactly when cf502 passed
    assert (res.status is Status.PASS) is ok
    assert (proc.returncode == 0) is ok, proc.stdout[-2000:] + proc.stderr[-2000:]


@needs_openssl
async def test_follow_up_command_shows_tls13_works(root_ca_file: str) -> None:
    with tls_server(minimum=ssl.TLSVersion.TLSv1_3) as origin:
        res = await run_handshake(make_probe(origin.port, root_ca_file))
        proc = run_command(next(c for c in res.commands if "-tls1_3" in c))
    assert proc.returncode == 0 and "TLSv1.3" in proc.stdout
