"""The shared TLS observation of each vetted address: CloudFront's handshake and, if it fails, why.

One observation per address (`probe.begin(("tls", address), ...)`) serves `tls.handshake` and the
four `tls.cert.*` checks. When CloudFront's own offer fails on a server that does speak TLS, a
few follow-up probes find out why, each one a fact for the judge in `handshake.py`:

1. a hello offering only CloudFront's legacy suites (DES-CBC3-SHA, RC4-MD5): the origin might share
   nothing else with CloudFront;
2. a hello offering every suite, curve and signature scheme: which suites does the origin pick
   (asked again without each picked suite, to list them)?
3. the protocol versions CloudFront does not offer (TLS 1.3, or older ones than configured).

CloudFront sends its origin request on the connection it has just negotiated, and so does the
diagnosis: when a check that sends that request runs, the handshake's connection is kept open for
it (`tls_connection`); the handshakes start as soon as the addresses are vetted
(`start_observations`), alongside tcp.https.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Sequence
from dataclasses import dataclass, replace

from cryptography import x509

from cf502.checks.probe import Probe
from cf502.checks.tcp import port_outcomes
from cf502.checks.tls._offer import (
    CLOUDFRONT_CIPHER_CODES,
    LEGACY_CIPHERS,
    OfferUnavailable,
    pyopenssl_context,
)
from cf502.checks.tls._probe import Attempt, Session, handshake, hello, session
from cf502.checks.tls._wire import (
    BROAD_GROUPS,
    BROAD_SIGALGS,
    CLOUDFRONT_GROUP_CODES,
    CLOUDFRONT_SIGALG_CODES,
    VERSIONS,
    all_suites,
    cipher_code,
)
from cf502.deadlines import Deadlines

__all__ = [
    "MAX_LISTED_SUITES",
    "TlsObservation",
    "observe",
    "start_observations",
    "tested",
    "tls_connection",
    "tls_observations",
]

MAX_LISTED_SUITES = 6  # enough to name an origin's suites; each costs one more connection
# Failures where the server is not (or no longer) speaking TLS: other offers would not help.
_FINAL = frozenset({"connect", "timeout", "plain-http", "not-tls", "oversized"})
_OTHER_VERSIONS = ("TLSv1.3", "TLSv1.2", "TLSv1.1", "TLSv1")


@dataclass(frozen=True)
class TlsObservation:
    """Facts about TLS on one address.

    Attributes:
        address / port / sni: where, and the server name sent.
        offered: the protocols of CloudFront's offer (the origin's SSL protocols setting).
        main: CloudFront's own handshake.
        legacy: a hello with only CloudFront's legacy suites (after `main` failed).
        broad: a hello with every suite (after `legacy` failed).
        origin_suites: suites the origin picked from successively smaller broad offers.
        versions: (protocol, accepted) for protocols outside the offer, when nothing else worked.
        chain: the served chain, parsed, in served order (at most MAX_CERTS).
        served_count: how many certificates the origin served.
        chain_error: why the chain could not be read, if so.
        unavailable: this machine cannot make CloudFront's offer (e.g. SSLv3 only).
        incomplete: the follow-up probes ran out of time.
        addresses_tested: how many addresses the diagnosis tests; more than there are
            observations when some refuse TCP (those are tcp.https's finding, not observed here).
    """

    address: str
    port: int
    sni: str
    offered: tuple[str, ...]
    main: Attempt | None = None
    legacy: Attempt | None = None
    broad: Attempt | None = None
    origin_suites: tuple[str, ...] = ()
    versions: tuple[tuple[str, bool], ...] = ()
    chain: tuple[x509.Certificate, ...] = ()
    served_count: int = 0
    chain_error: str | None = None
    unavailable: str | None = None
    incomplete: bool = False
    addresses_tested: int = 0

    @property
    def legacy_only(self) -> bool:
        """The origin picked one of CloudFront's legacy suites in an offered protocol."""
        return bool(self.legacy and self.legacy.ok and self.legacy.protocol in self.offered)

    @property
    def connected(self) -> bool:
        """CloudFront's offer would get a session (possibly only through a legacy suite)."""
        return bool((self.main and self.main.ok) or self.legacy_only)


def _with_chain(obs: TlsObservation, attempt: Attempt) -> TlsObservation:
    chain: list[x509.Certificate] = []
    error = None
    for i, der in enumerate(attempt.chain, 1):
        try:
            chain.append(x509.load_der_x509_certificate(der))
        except ValueError:
            error = f"served certificate {i} cannot be parsed (not valid DER X.509)"
            break
    if not attempt.chain:
        error = attempt.detail or "the origin served no certificate"
    return replace(obs, chain=tuple(chain), served_count=attempt.served_count, chain_error=error)


class _FollowUp:
    """The follow-up probes of one address; keeps what it learnt even if stopped by a deadline."""

    def __init__(self, obs: TlsObservation, deadlines: Deadlines) -> None:
        self.obs = obs
        self.deadlines = deadlines
        self.version = VERSIONS[[p for p in VERSIONS if p in obs.offered][-1]]

    async def _hello(self, suites: tuple[int, ...], version: int, *, broad: bool) -> Attempt:
        return await hello(
            self.obs.address,
            self.obs.port,
            self.obs.sni,
            suites,
            version=version,
            connect_timeout=self.deadlines.connect,
            timeout=self.deadlines.handshake,
            groups=BROAD_GROUPS if broad else CLOUDFRONT_GROUP_CODES,
            sigalgs=BROAD_SIGALGS if broad else CLOUDFRONT_SIGALG_CODES,
        )

    async def run(self) -> None:
        legacy_codes = tuple(CLOUDFRONT_CIPHER_CODES[n] for n in LEGACY_CIPHERS)
        legacy = await self._hello(legacy_codes, self.version, broad=False)
        self.obs = replace(self.obs, legacy=legacy)
        if self.obs.legacy_only:
            self.obs = _with_chain(self.obs, legacy)
            return
        broad = await self._hello(all_suites(), self.version, broad=True)
        self.obs = replace(self.obs, broad=broad)
        if broad.ok and broad.cipher and broad.protocol in self.obs.offered:
            await self._list_suites(broad.cipher)
            return
        results = await asyncio.gather(
            *(self._version(v) for v in _OTHER_VERSIONS if v not in self.obs.offered)
        )
        self.obs = replace(self.obs, versions=tuple(results))

    async def _list_suites(self, first: str) -> None:
        picked = [first]
        remaining = [c for c in all_suites() if c != cipher_code(first)]
        while len(picked) < MAX_LISTED_SUITES:
            attempt = await self._hello(tuple(remaining), self.version, broad=True)
            if not attempt.ok or not attempt.cipher or attempt.cipher in picked:  # no more
                break
            picked.append(attempt.cipher)
            self.obs = replace(self.obs, origin_suites=tuple(picked))
            remaining = [c for c in remaining if c != cipher_code(attempt.cipher)]
        self.obs = replace(self.obs, origin_suites=tuple(picked))

    async def _version(self, version: str) -> tuple[str, bool]:
        if version == "TLSv1.3":
            # OpenSSL's own groups and signature schemes: TLS 1.3 needs RSA-PSS for RSA keys.
            ctx = pyopenssl_context(["TLSv1.3"], groups=(), sigalgs=())
            attempt = await handshake(
                self.obs.address,
                self.obs.port,
                self.obs.sni,
                ctx,
                connect_timeout=self.deadlines.connect,
                timeout=self.deadlines.handshake,
            )
        else:
            attempt = await self._hello(all_suites(), VERSIONS[version], broad=True)
        # A server that answers an older version than asked for does not accept the one asked.
        return version, attempt.ok and attempt.protocol == version


async def observe(probe: Probe, address: str) -> TlsObservation:
    """CloudFront's handshake to `address`, plus follow-ups when it fails (all deadline-bound).

    The connect and the handshake get the diagnosis's deadlines (`Deadlines.connect`,
    `Deadlines.handshake`); the follow-ups share `Deadlines.tls_follow_ups`.
    """
    obs, _ = await _main(probe, address, keep=False)
    return await _follow_ups(obs, probe.deadlines)


async def _main(probe: Probe, address: str, *, keep: bool) -> tuple[TlsObservation, Session | None]:
    """CloudFront's own handshake; with `keep`, the connection of a successful one left open."""
    origin = probe.origin
    deadlines = probe.deadlines
    obs = TlsObservation(address, origin.https_port, probe.sni, origin.ssl_protocols)
    try:
        ctx = pyopenssl_context(origin.ssl_protocols)
    except OfferUnavailable as exc:
        return replace(obs, unavailable=str(exc)), None
    port, sni = origin.https_port, probe.sni
    connect, limit = deadlines.connect, deadlines.handshake
    # On the connection the engine opened while this code loaded, when it did (and from the
    # ClientHello `cf502 check` said on it, when it did).
    main, kept = await session(
        address, port, sni, ctx, connect_timeout=connect, timeout=limit, keep=keep,
        opened=probe.take(address, port), said=functools.partial(probe.first_words, address, port),
    )  # fmt: skip
    return replace(obs, main=main), kept


async def _follow_ups(obs: TlsObservation, deadlines: Deadlines) -> TlsObservation:
    """The observation after CloudFront's handshake: its chain, or why it failed."""
    main = obs.main
    if main is None:  # the offer cannot be made here
        return obs
    if main.ok:
        return _with_chain(obs, main)
    if main.cert_request:  # the origin wants a client certificate: its chain is still judged
        return _with_chain(obs, main) if main.chain else obs
    if main.failure in _FINAL:
        return obs
    follow = _FollowUp(obs, deadlines)
    try:
        async with asyncio.timeout(deadlines.tls_follow_ups):
            await follow.run()
    except TimeoutError:
        return replace(follow.obs, incomplete=True)
    return follow.obs


class _Connection:
    """CloudFront's handshake to one address and, until the origin request takes it, the
    connection it left open (closed with the diagnosis if no request comes for it)."""

    def __init__(self, obs: TlsObservation, kept: Session | None) -> None:
        self.obs = obs
        self._kept = kept

    def take(self) -> Session | None:
        kept, self._kept = self._kept, None
        return kept

    def drop(self) -> None:
        kept = self.take()
        if kept is not None:
            kept.abort()


# The checks that send CloudFront's origin request: with one of them running, the handshake's
# connection is kept for it (engine-run diagnoses; elsewhere only the request keeps it).
_REQUESTERS = ("http.", "cloudfront.edge")


def _connection(probe: Probe, address: str, *, keep: bool) -> asyncio.Task[_Connection]:
    """CloudFront's handshake to `address`, started by its first caller (`keep`: that caller sends
    the origin request on it, or a check that does runs)."""
    keep = keep or any(c.startswith(_REQUESTERS) for c in probe.running)

    async def negotiate() -> _Connection:
        obs, kept = await _main(probe, address, keep=keep)
        conn = _Connection(obs, kept)
        if kept is not None:
            probe.on_close(conn.drop)
        return conn

    return probe.begin(("tls.main", address), negotiate)


def _observation(probe: Probe, address: str) -> asyncio.Task[TlsObservation]:
    async def observed() -> TlsObservation:
        conn = await asyncio.shield(_connection(probe, address, keep=False))
        # One turn first: the origin request waiting on the same handshake goes out before the
        # served chain is parsed for the certificate checks (CloudFront sends it at once).
        await asyncio.sleep(0)
        return await _follow_ups(conn.obs, probe.deadlines)

    return probe.begin(("tls", address), observed)


def start_observations(probe: Probe) -> None:
    """Start every address's handshake now (the addresses are vetted), alongside tcp.https: the
    checks still wait for their prerequisites, and only the addresses whose port opened are
    judged (`tls_observations`)."""
    if probe.origin.protocol_policy.uses_https:
        for address in probe.addresses:
            _observation(probe, address)


async def tls_connection(probe: Probe, address: str) -> tuple[TlsObservation, Session | None]:
    """CloudFront's handshake to `address` (without the follow-ups of a failed one) and, for the
    one caller that sends the origin request, the connection it negotiated (None when the
    handshake failed)."""
    conn = await asyncio.shield(_connection(probe, address, keep=True))
    kept = conn.take()
    if kept is None and conn.obs.main is not None and conn.obs.main.ok:
        # The handshake's connection was not kept (no check sending the request was expected
        # to run): the request gets a connection of its own, with the same offer.
        return await _main(probe, address, keep=True)
    return conn.obs, kept


async def tls_observations(probe: Probe) -> tuple[TlsObservation, ...]:
    """One observation per vetted address that accepts TCP on the HTTPS port, made once per
    diagnosis and shared by the TLS checks. Addresses that refuse are left to tcp.https, so an
    expired certificate on the addresses that do connect is still found."""
    outcomes = await port_outcomes(probe, "https")
    connecting = [o.address for o in outcomes if o.status == "open"]
    total = len(probe.addresses)

    async def one(address: str) -> TlsObservation:
        obs = await asyncio.shield(_observation(probe, address))
        return replace(obs, addresses_tested=total)

    return tuple(await asyncio.gather(*(one(a) for a in connecting)))


def tested(observations: Sequence[TlsObservation]) -> int:
    """How many addresses the diagnosis tests, for what a TLS problem affects."""
    return max((o.addresses_tested for o in observations), default=0) or len(observations)
