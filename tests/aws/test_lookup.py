"""Finding the distribution behind a name in the emulator: by alias (exact, then wildcard), by its
`*.cloudfront.net` domain and by id; the behavior a path uses; origin-group order; the settings
read from the configuration."""

from __future__ import annotations

import itertools

import pytest

from cf502.aws.read.distribution import NotInAccount
from cf502.aws.run import resolve
from cf502.settings.aws import AwsSettings
from cf502.settings.origin import CustomHeader, ProtocolPolicy
from tests.aws.conftest import Guard
from tests.aws.emulator import Emulator, behavior, custom_origin

_n = itertools.count()
ON = AwsSettings(enabled=True)


def unique(label: str) -> str:
    return f"{label}{next(_n)}.example.test"


def test_an_alias_finds_its_distribution_and_the_origin_settings_are_the_configured_ones(
    aws: Emulator, guard: Guard
) -> None:
    # Given a distribution whose one origin has non-default settings and a secret header
    site, origin = unique("www"), unique("origin")
    d = aws.distribution(
        aliases=(site,),
        origins=[
            custom_origin(
                "app", origin, https_port=8443, policy="match-viewer", read_timeout=45,
                keepalive=20, attempts=2, connect_timeout=4, ssl=("TLSv1.1", "TLSv1.2"),
                headers={"X-Origin-Verify": "s3cr3t-value"}, path="/prod", ip_type="dualstack",
            )
        ],
        default=behavior("app"),
    )  # fmt: skip
    # When the site's name is resolved for a path
    res = resolve(site.upper(), "/index.html", ON)
    # Then the distribution is found by its alias, and its origin's settings are copied exactly
    found = res.found
    assert (found.distribution.id, found.via) == (d["Id"], "alias")
    assert found.distribution.id.startswith("E")
    (planned,) = found.origins
    s = planned.settings
    assert s is not None
    assert (s.https_port, s.protocol_policy, s.read_timeout, s.keepalive_timeout) == (
        8443, ProtocolPolicy.MATCH_VIEWER, 45.0, 20.0,
    )  # fmt: skip
    assert (s.connection_attempts, s.connect_timeout, s.ssl_protocols) == (
        2,
        4.0,
        ("TLSv1.1", "TLSv1.2"),
    )
    assert (s.path, s.ip_address_type) == ("/prod/index.html", "dualstack")
    assert s.custom_headers == (CustomHeader("X-Origin-Verify", "s3cr3t-value"),)
    # and CachingOptimized without an origin request policy does not forward Host
    assert s.host_header is None
    assert found.host is not None and found.host.forwarded is False
    assert "cloudfront:ListDistributions" in guard.called


def test_a_wildcard_alias_covers_one_label_and_an_exact_alias_wins(aws: Emulator) -> None:
    zone = unique("zone")
    wild = aws.distribution(
        aliases=(f"*.{zone}",), origins=[custom_origin("o", unique("a"))], default=behavior("o")
    )
    exact = aws.distribution(
        aliases=(f"shop.{zone}",), origins=[custom_origin("o", unique("b"))], default=behavior("o")
    )
    assert resolve(f"blog.{zone}", "/", ON).found.distribution.id == wild["Id"]
    assert resolve(f"blog.{zone}", "/", ON).found.via == "wildcard alias"
    assert resolve(f"shop.{zone}", "/", ON).found.distribution.id == exact["Id"]
    with pytest.raises(NotInAccount):
        resolve(f"a.b.{zone}", "/", ON)  # two labels: not covered by *.zone


def test_the_cloudfront_domain_and_the_id_find_the_distribution(aws: Emulator) -> None:
    d = aws.distribution(origins=[custom_origin("o", unique("c"))], default=behavior("o"))
    by_domain = resolve(d["DomainName"], "/", ON).found
    by_id = resolve(d["Id"], "/", ON).found
    assert (by_domain.distribution.id, by_domain.via) == (d["Id"], "domain")
    assert (by_id.distribution.id, by_id.via) == (d["Id"], "id")


def test_an_unknown_name_or_id_is_not_in_the_account(aws: Emulator) -> None:
    with pytest.raises(NotInAccount, match="no distribution serves nowhere"):
        resolve(unique("nowhere"), "/", ON)
    with pytest.raises(NotInAccount):
        resolve("EDOESNOTEXIST1", "/", ON)


def test_the_path_picks_the_first_matching_behavior_and_a_group_gives_failover_order(
    aws: Emulator,
) -> None:
    site = unique("multi")
    d = aws.distribution(
        aliases=(site,),
        origins=[
            custom_origin("web", unique("web")),
            custom_origin("api-primary", unique("api1")),
            custom_origin("api-secondary", unique("api2")),
            custom_origin("img", unique("img")),
        ],
        groups=[
            {
                "Id": "api-group",
                "FailoverCriteria": {"StatusCodes": {"Quantity": 2, "Items": [502, 504]}},
                "Members": {
                    "Quantity": 2,
                    "Items": [{"OriginId": "api-primary"}, {"OriginId": "api-secondary"}],
                },
            }
        ],
        default=behavior("web"),
        behaviors=[
            behavior("img", "/images/*.JPG"),
            behavior("api-group", "/api/v?/*"),
            behavior("img", "/api/*"),
        ],
    )
    assert d["Id"]

    def route(path: str) -> list[str]:
        return [p.config.id for p in resolve(site, path, ON).found.origins]

    assert route("/api/v2/users?x=1") == ["api-primary", "api-secondary"]
    assert route("/api/v10/users") == ["img"]  # ? is one character: the next pattern matches
    assert route("/images/cat.JPG") == ["img"]
    assert route("/images/cat.jpg") == ["web"]  # patterns are case-sensitive
    assert route("/") == ["web"]


@pytest.mark.parametrize(
    ("kwargs", "forwarded", "why"),
    [
        ({"origin_request_policy": "216adef6-5c7f-47e4-b989-5492eafa07d3"}, True, "AllViewer"),
        ({"origin_request_policy": "b689b0a8-53d0-40ab-baf2-68738e2966ac"}, False, "no policy"),
        (
            {"cache_policy": "83da9c7e-98b4-4e11-a168-04f0df8e2c65"},
            True,
            "UseOriginCacheControlHeaders",
        ),
        ({"cache_policy": None, "forwarded_headers": ("Host",)}, True, "legacy"),
        ({"cache_policy": None, "forwarded_headers": ("*",)}, True, "legacy"),
        ({"cache_policy": None, "forwarded_headers": ("Origin",)}, False, "no policy"),
        ({"origin_request_policy": "00000000-0000-0000-0000-000000000000"}, None, "could not read"),
    ],
)
def test_host_forwarding_is_decided_from_the_policies(
    aws: Emulator, kwargs: dict[str, object], forwarded: bool | None, why: str
) -> None:
    # Given a behavior with these policies (the emulator has none: the managed table decides)
    site = unique("host")
    aws.distribution(
        aliases=(site,),
        origins=[custom_origin("o", unique("h"))],
        default=behavior("o", **kwargs),  # type: ignore[arg-type]
    )
    found = resolve(site, "/", ON).found
    assert found.host is not None
    assert found.host.forwarded is forwarded and why in found.host.reason
    # Then Host (and SNI) is the site's name exactly when it is forwarded
    settings = found.origins[0].settings
    assert settings is not None
    assert settings.host_header == (site if forwarded else None)


def test_roles_are_tried_in_order_one_per_account(aws: Emulator, guard: Guard) -> None:
    # Given a distribution in account 123456789012, and two roles: another account's first
    site = unique("roles")
    d = aws.distribution(
        aliases=(site,), origins=[custom_origin("o", unique("r"))], default=behavior("o")
    )
    roles = (
        "arn:aws:iam::210987654321:role/cf502-read",
        "arn:aws:iam::123456789012:role/cf502-read",
    )
    # When the site is resolved with them
    found = resolve(site, "/", AwsSettings(enabled=True, role_arns=roles)).found
    # Then each role was assumed in turn and the second account's role found it
    assert found.distribution.id == d["Id"]
    assert found.account == f"role {roles[1]}"
    assert guard.called.count("sts:AssumeRole") == 2
