"""CloudFront origin settings: defaults, ranges, and a job that may only tighten safety."""

from __future__ import annotations

import pytest

from bot.request import parse_command
from cf502.errors import InvalidSetting, TargetNotAllowed
from cf502.options import OptionParser, add_origin_options, origin_from_args
from cf502.settings import EngineSettings, OriginSettings, ProtocolPolicy, parse_resolver
from cf502.target import parse_target


def test_cloudfront_defaults() -> None:
    s = OriginSettings()
    assert (s.https_port, s.http_port, s.protocol_policy) == (443, 80, ProtocolPolicy.HTTPS_ONLY)
    assert (s.connect_timeout, s.connection_attempts, s.read_timeout) == (10, 3, 30)
    assert s.ssl_protocols == ("TLSv1.2",)


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"connect_timeout": 11}, "connection timeout 11"),
        ({"connect_timeout": 0.5}, "connection timeout"),
        ({"connection_attempts": 4}, "connection attempts 4"),
        ({"read_timeout": 181}, "response timeout"),
        ({"https_port": 8}, "HTTPS port 8"),
        ({"http_port": 1023}, "HTTP port 1023"),
        ({"ssl_protocols": ("TLSv1.3",)}, "TLS 1.3"),
        ({"path": "no-slash"}, "must start with /"),
    ],
)
def test_out_of_range_settings(kwargs: dict[str, object], fragment: str) -> None:
    with pytest.raises(Exception, match=fragment):
        OriginSettings(**kwargs)  # type: ignore[arg-type]


def test_url_fills_policy_port_and_path() -> None:
    s = OriginSettings.for_target(parse_target("http://origin.example.com:8080/health"))
    assert (s.protocol_policy, s.http_port, s.path) == (ProtocolPolicy.HTTP_ONLY, 8080, "/health")
    # An explicit option wins over the URL
    s = OriginSettings.for_target(parse_target("https://o.example/a"), path="/b")
    assert s.path == "/b"


def test_host_header_is_validated() -> None:
    with pytest.raises(InvalidSetting, match="host header"):
        OriginSettings.for_target(parse_target("o.example"), host_header="bad host")


def test_unknown_setting_in_a_job_is_refused() -> None:
    with pytest.raises(InvalidSetting, match="allow_private"):
        OriginSettings.from_dict({"allow_private": True})


def test_job_cannot_loosen_safety() -> None:
    strict = EngineSettings()
    with pytest.raises(TargetNotAllowed, match="not configured to allow private"):
        strict.restrict(allow_private=True)
    loose = EngineSettings(allow_private=True)
    assert loose.restrict(allow_private=False).allow_private is False
    assert loose.restrict(allow_private=None).allow_private is True


def test_operator_bounds_clamp_timeouts() -> None:
    engine = EngineSettings(max_read_timeout=5)
    assert engine.bound(OriginSettings(read_timeout=60)).read_timeout == 5


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("127.0.0.1", ("127.0.0.1", 53)),
        ("127.0.0.1:5353", ("127.0.0.1", 5353)),
        ("[::1]:53", ("::1", 53)),
        ("::1", ("::1", 53)),
    ],
)
def test_resolver_forms(text: str, expected: tuple[str, int]) -> None:
    assert parse_resolver(text) == expected


def test_resolver_must_be_an_ip() -> None:
    with pytest.raises(InvalidSetting, match="must be an IP"):
        parse_resolver("dns.example")


def test_non_ascii_path_is_percent_encoded_like_a_browser() -> None:
    s = OriginSettings.for_target(parse_target("https://o.example/bücher?q=ä"))
    assert s.path == "/b%C3%BCcher?q=%C3%A4"
    # an already encoded path is kept as it is
    s = OriginSettings.for_target(parse_target("o.example"), path="/a%20b")
    assert s.path == "/a%20b"


def test_job_with_raw_non_ascii_path_is_refused() -> None:
    with pytest.raises(InvalidSetting, match="percent-encoded"):
        OriginSettings(path="/bücher")


def test_origin_mtls_is_off_by_default_and_set_by_its_switch_in_the_cli_and_slack() -> None:
    assert OriginSettings().origin_mtls is False
    parser = OptionParser(prog="cf502 check", add_help=False)
    parser.add_argument("target")
    add_origin_options(parser)
    args = parser.parse_args(["origin.example.com", "--origin-mtls"])
    assert origin_from_args(parse_target("origin.example.com"), args).origin_mtls is True
    request = parse_command("origin.example.com --origin-mtls")
    assert request.origin is not None and request.origin.origin_mtls is True
    # A job carries it as JSON, and only as a boolean
    assert OriginSettings.from_dict(request.origin.to_dict()).origin_mtls is True
    with pytest.raises(InvalidSetting, match="origin mTLS must be true or false"):
        OriginSettings.from_dict({"origin_mtls": "yes"})
