"""The demo's loopback world: its CA, its DNS, its origins, and the settings that point a
diagnosis at them. Everything it starts is closed, and its temporary files removed, on the way
out, however the demo ends (Ctrl-C included).
"""

from __future__ import annotations

import asyncio
import socket
import tempfile
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cf502.demo.ca import DemoCa
from cf502.demo.dns import DemoDns
from cf502.demo.origins import Origin, closed_port
from cf502.demo.scenarios import HOST, Scenario, zones
from cf502.settings import EngineSettings, OriginSettings
from cf502.target import Target, parse_target

__all__ = ["Lab", "demo_lab"]

# CloudFront's timeouts, shortened so a broken origin answers within the demo's few seconds.
DEMO_TIMEOUTS: dict[str, Any] = {"connect_timeout": 2, "read_timeout": 4}


@dataclass(frozen=True)
class Lab:
    """Where each demo origin listens, and the resolver, CA file and ports to reach it with."""

    dns_port: int
    ca_file: str
    ports: dict[str, int]

    def target(self, scenario: Scenario) -> Target:
        return parse_target(scenario.host)

    def origin(self, scenario: Scenario) -> OriginSettings:
        options = {**DEMO_TIMEOUTS, **scenario.origin, "https_port": self.ports[scenario.name]}
        return OriginSettings(**options)

    def engine(self, scenario: Scenario) -> EngineSettings:
        """The operator's settings of the demo: its resolver and CA, loopback allowed (only here)."""
        return EngineSettings(
            allow_private=True,
            resolver=f"{HOST}:{self.dns_port}",
            dns_port=self.dns_port,
            dns_timeout=1.0,
            ca_file=self.ca_file,
            edge_port=self.ports[scenario.name],
        )


def _quiet(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """Failed handshakes with the demo's own servers are the point of the demo, not news."""


@asynccontextmanager
async def demo_lab(scenarios: Sequence[Scenario]) -> AsyncIterator[Lab]:
    """Start the CA, the DNS server and one origin per scenario on loopback; stop them after."""
    loop = asyncio.get_running_loop()
    previous = loop.get_exception_handler()
    loop.set_exception_handler(_quiet)
    origins: list[Origin] = []
    held: list[socket.socket] = []
    dns = DemoDns(zones(tuple(scenarios)))
    try:
        with tempfile.TemporaryDirectory(prefix="cf502-demo-") as tmp:
            folder = Path(tmp)
            ca = DemoCa()
            ca_file = folder / "demo-root-ca.pem"
            ca_file.write_bytes(ca.root_pem)
            await dns.start(HOST)
            ports: dict[str, int] = {}
            for s in scenarios:
                if s.answer is None:
                    sock = closed_port(HOST)
                    held.append(sock)
                    ports[s.name] = sock.getsockname()[1]
                    continue
                leaf = ca.leaf(s.names, expired=s.expired, with_intermediate=s.with_intermediate)
                chain, key = folder / f"{s.name}.pem", folder / f"{s.name}.key"
                chain.write_bytes(leaf.chain_pem)
                key.write_bytes(leaf.key_pem)
                origin = Origin(s.answer, chain, key)
                origins.append(origin)
                await origin.start(HOST)
                ports[s.name] = origin.port
            yield Lab(dns.port, str(ca_file), ports)
    finally:
        dns.close()
        for sock in held:
            sock.close()
        await asyncio.gather(*(o.close() for o in origins), return_exceptions=True)
        loop.set_exception_handler(previous)
