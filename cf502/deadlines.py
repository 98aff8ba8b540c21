"""Every time limit of one diagnosis, derived once from the settings. Pure.

CloudFront's origin settings give a connection timeout, a number of connection attempts and a
response timeout; the operator's settings give the DNS timeout. `Deadlines.of` turns them into
the deadlines the checks, the engine and the job runner use, so each rule is written once: the
`Probe` of a diagnosis carries them (`probe.deadlines`).
"""

from __future__ import annotations

from dataclasses import dataclass

from cf502.settings import EngineSettings, OriginSettings

__all__ = ["Deadlines"]


@dataclass(frozen=True)
class Deadlines:
    """The deadlines of one diagnosis, in seconds.

    Attributes:
        connect: one TCP connection attempt (CloudFront's connection timeout).
        connect_total: every attempt together: CloudFront gives up after timeout x attempts.
        response: from the request to the first byte, and for the status line and headers to be
            complete (CloudFront's response timeout).
        packet_gap: between two packets of the reply (the same response timeout, restarted
            with each packet).
        dns: one DNS query, or one name server's answers (the operator's DNS timeout).
        check: the engine's backstop for one check; every check has tighter deadlines of its
            own: all connection attempts, the response, three DNS queries and a margin.
        diagnosis: a whole diagnosis. Checks run concurrently but wait for their prerequisites;
            two backstops cover DNS + connect + handshake + response chains with room to spare.
    """

    connect: float
    connect_total: float
    response: float
    packet_gap: float
    dns: float
    check: float
    diagnosis: float

    @classmethod
    def of(cls, origin: OriginSettings, engine: EngineSettings) -> Deadlines:
        """The deadlines for `origin` (already bounded by the operator, when it runs) and
        `engine`."""
        connect_total = origin.connect_timeout * origin.connection_attempts
        check = connect_total + origin.read_timeout + 3 * engine.dns_timeout + 5.0
        return cls(
            connect=origin.connect_timeout,
            connect_total=connect_total,
            response=origin.read_timeout,
            packet_gap=origin.read_timeout,
            dns=engine.dns_timeout,
            check=check,
            diagnosis=2 * check + 10.0,
        )

    @property
    def handshake(self) -> float:
        """A TLS handshake: CloudFront counts it as part of establishing the connection (its
        exact split is undocumented), so it gets the connection timeout."""
        return self.connect

    @property
    def tls_follow_ups(self) -> float:
        """Every follow-up probe after a failed handshake, together: they explain a failure,
        they must not hang."""
        return 4 * self.handshake

    @property
    def request(self) -> float:
        """One direct origin request, whole: connect, handshake and response, one attempt (the
        tcp.* checks cover retries); reading stops there even if bytes still trickle in."""
        return 2 * self.connect + self.response

    @property
    def edge_first_byte(self) -> float:
        """The first byte of a viewer request through CloudFront: CloudFront is slow only while
        it waits on the origin, so a second more than the response timeout lets its 504 arrive."""
        return self.response + 1.0

    @property
    def edge_request(self) -> float:
        """A whole viewer request through CloudFront."""
        return 2 * self.connect + self.edge_first_byte
