"""Deadlines: every time limit of a diagnosis, derived once from the settings (pure)."""

from __future__ import annotations

from cf502.checks.probe import Probe
from cf502.deadlines import Deadlines
from cf502.settings import EngineSettings, OriginSettings
from cf502.target import parse_target


def test_deadlines_follow_cloudfronts_settings() -> None:
    # Given a 4 s connection timeout, 2 attempts, a 20 s response timeout and 3 s per DNS query
    origin = OriginSettings(connect_timeout=4, connection_attempts=2, read_timeout=20)
    # When the deadlines are derived
    d = Deadlines.of(origin, EngineSettings(dns_timeout=3))
    # Then CloudFront's own limits come straight from the settings
    assert (d.connect, d.connect_total, d.handshake) == (4, 8, 4)
    assert (d.response, d.packet_gap, d.dns) == (20, 20, 3)
    # And the engine's backstops hold every chain of them with room to spare
    assert d.check == 8 + 20 + 3 * 3 + 5
    assert d.diagnosis == 2 * d.check + 10
    assert d.request == 2 * 4 + 20 < d.check
    assert d.edge_request == 2 * 4 + 21 < d.check
    assert d.tls_follow_ups == 16 < d.check


def test_a_probe_carries_the_deadlines_of_its_settings() -> None:
    # Given the settings of one diagnosis
    origin, engine = OriginSettings(read_timeout=5), EngineSettings(dns_timeout=1)
    # When its probe is made, then it carries exactly those deadlines
    probe = Probe(parse_target("origin.example.test"), origin, engine)
    assert probe.deadlines == Deadlines.of(origin, engine)
