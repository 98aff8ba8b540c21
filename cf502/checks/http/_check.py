"""The shape the four `http.*` checks share: fetch the shared exchanges, judge each, merge."""

from __future__ import annotations

from collections.abc import Sequence

from cf502.checks.http._exchange import Exchange, origin_exchanges
from cf502.checks.http._report import ExchangeFinding, combine, direct_curl, exchange_evidence
from cf502.checks.probe import Probe
from cf502.model import CheckResult
from cf502.settings import OriginSettings, ProtocolPolicy

__all__ = ["NEAR", "HttpCheck", "prerequisites", "viewer_hosts"]

NEAR = 0.8  # warn beyond 80 % of a limit


def prerequisites(origin: OriginSettings) -> tuple[str, ...]:
    # match-viewer: tcp.http; the HTTPS half is judged only where the handshake worked (the
    # exchange records a failed handshake and the HTTPS finding becomes a skip).
    if origin.protocol_policy == ProtocolPolicy.HTTPS_ONLY:
        return ("tls.handshake",)
    return ("tcp.http",)


class HttpCheck:
    """Common shape: fetch the shared exchanges, judge each, merge."""

    id = ""
    title = ""

    def prerequisites(self, origin: OriginSettings) -> tuple[str, ...]:
        return prerequisites(origin)

    async def run(self, probe: Probe) -> CheckResult:
        exchanges = await origin_exchanges(probe)
        return self.judge_all(exchanges, probe.origin, viewer_hosts(probe))

    def judge(self, ex: Exchange, origin: OriginSettings, hosts: frozenset[str]) -> ExchangeFinding:
        raise NotImplementedError

    def evidence(self, ex: Exchange, prefix: str) -> list[tuple[str, object]]:
        return exchange_evidence(ex, prefix)

    def judge_all(
        self, exchanges: Sequence[Exchange], origin: OriginSettings, hosts: frozenset[str]
    ) -> CheckResult:
        """Pure: judge every exchange and merge the findings."""
        pairs = [(ex, self.judge(ex, origin, hosts)) for ex in exchanges]
        ev: list[tuple[str, object]] = []
        for ex in exchanges:
            ev += self.evidence(ex, f"{ex.label} " if len(exchanges) > 1 else "")
        commands = list(dict.fromkeys(direct_curl(ex) for ex in exchanges))
        return combine(self, pairs, evidence=ev, commands=commands)


def viewer_hosts(probe: Probe) -> frozenset[str]:
    """The names that lead back to this same origin: its domain, the forwarded Host, CloudFront's."""
    names = {probe.host, probe.host_header, probe.origin.cloudfront_domain or ""}
    return frozenset(n.lower().rstrip(".") for n in names if n)
