"""Whether CloudFront forwards the viewer's Host header to the origin for a cache behavior. Pure.

The rules (CloudFront API reference): the origin request policy's header behavior (`allViewer`,
`allViewerAndWhitelistCloudFront`, `whitelist`, `allExcept`, `none`); then the cache policy, whose
whitelisted headers are also sent to the origin; without a cache policy, the legacy
`ForwardedValues.Headers` (`Host` or `*`). Otherwise CloudFront sends the origin's domain name.

The AWS-managed policies are known here by id, so a policy that cannot be read (no permission,
an emulator without them) is still decided.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cf502.aws.config import Behavior

__all__ = [
    "MANAGED_CACHE_POLICIES",
    "MANAGED_ORIGIN_REQUEST_POLICIES",
    "HostDecision",
    "PolicyHeaders",
    "cache_policy_headers",
    "decide_host",
    "origin_request_policy_headers",
]


@dataclass(frozen=True)
class PolicyHeaders:
    """A policy's header configuration: its behavior and the headers it lists."""

    name: str
    behavior: str
    headers: tuple[str, ...] = ()

    def forwards_host(self) -> bool:
        listed = any(h.lower() == "host" for h in self.headers)
        if self.behavior in ("allViewer", "allViewerAndWhitelistCloudFront"):
            return True
        if self.behavior == "whitelist":
            return listed
        if self.behavior == "allExcept":
            return not listed
        return False


# AWS-managed origin request policies (stable ids).
MANAGED_ORIGIN_REQUEST_POLICIES: Mapping[str, PolicyHeaders] = {
    "216adef6-5c7f-47e4-b989-5492eafa07d3": PolicyHeaders("AllViewer", "allViewer"),
    "33f36d7e-f396-46d9-90e0-52428a34d9dc": PolicyHeaders(
        "AllViewerAndCloudFrontHeaders-2022-06", "allViewerAndWhitelistCloudFront"
    ),
    "b689b0a8-53d0-40ab-baf2-68738e2966ac": PolicyHeaders(
        "AllViewerExceptHostHeader", "allExcept", ("Host",)
    ),
    "59781a5b-3903-41f3-afcb-af62929ccde1": PolicyHeaders(
        "CORS-CustomOrigin", "whitelist", ("Origin",)
    ),
    "88a5eaf4-2fd4-4709-b370-b4c650ea3fcf": PolicyHeaders(
        "CORS-S3Origin",
        "whitelist",
        ("Origin", "Access-Control-Request-Headers", "Access-Control-Request-Method"),
    ),
    "775133bc-15f2-49f9-abea-afb2e0bf67d2": PolicyHeaders(
        "Elemental-MediaTailor-PersonalizedManifests",
        "whitelist",
        (
            "Origin",
            "Access-Control-Request-Headers",
            "Access-Control-Request-Method",
            "User-Agent",
            "X-Forwarded-For",
        ),
    ),
    "bf0718e1-ba1e-49d1-88b1-f726733018ae": PolicyHeaders("HostHeaderOnly", "whitelist", ("Host",)),
    "acba4595-bd28-49b8-b9fe-13317c0390fa": PolicyHeaders(
        "UserAgentRefererHeaders", "whitelist", ("User-Agent", "Referer")
    ),
}

_METHOD_OVERRIDE = (
    "Host",
    "Origin",
    "X-HTTP-Method-Override",
    "X-HTTP-Method",
    "X-Method-Override",
)
# AWS-managed cache policies (stable ids) and the headers in their cache key.
MANAGED_CACHE_POLICIES: Mapping[str, PolicyHeaders] = {
    "658327ea-f89d-4fab-a63d-7e88639e58f6": PolicyHeaders("CachingOptimized", "none"),
    "4135ea2d-6df8-44a3-9df3-4b5a84be39ad": PolicyHeaders("CachingDisabled", "none"),
    "b2884449-e4de-46a7-ac36-70bc7f1ddd6d": PolicyHeaders(
        "CachingOptimizedForUncompressedObjects", "none"
    ),
    "08627262-05a9-4f76-9ded-b50ca2e3a84f": PolicyHeaders(
        "Elemental-MediaPackage", "whitelist", ("Origin",)
    ),
    "83da9c7e-98b4-4e11-a168-04f0df8e2c65": PolicyHeaders(
        "UseOriginCacheControlHeaders", "whitelist", _METHOD_OVERRIDE
    ),
    "4cc15a8a-d715-48a4-82b8-cc0b614638fe": PolicyHeaders(
        "UseOriginCacheControlHeaders-QueryStrings", "whitelist", _METHOD_OVERRIDE
    ),
    "2e54312d-136d-493c-8eb9-b001f22f67d2": PolicyHeaders(
        "Amplify", "whitelist", ("Authorization", "CloudFront-Viewer-Country", "Host")
    ),
}


def _headers_config(config: Any, name: str) -> PolicyHeaders | None:
    if not isinstance(config, Mapping):
        return None
    behavior = str(config.get("HeaderBehavior") or "none")
    items = (
        config.get("Headers", {}).get("Items", [])
        if isinstance(config.get("Headers"), Mapping)
        else []
    )
    return PolicyHeaders(name, behavior, tuple(str(h) for h in items or ()))


def origin_request_policy_headers(policy: Mapping[str, Any]) -> PolicyHeaders | None:
    """From `GetOriginRequestPolicy`'s `OriginRequestPolicy` (or its config)."""
    config = policy.get("OriginRequestPolicyConfig", policy)
    if not isinstance(config, Mapping):
        return None
    return _headers_config(config.get("HeadersConfig"), str(config.get("Name", "")))


def cache_policy_headers(policy: Mapping[str, Any]) -> PolicyHeaders | None:
    """From `GetCachePolicy`'s `CachePolicy` (or its config)."""
    config = policy.get("CachePolicyConfig", policy)
    if not isinstance(config, Mapping):
        return None
    params = config.get("ParametersInCacheKeyAndForwardedToOrigin")
    if not isinstance(params, Mapping):
        return None
    return _headers_config(params.get("HeadersConfig"), str(config.get("Name", "")))


@dataclass(frozen=True)
class HostDecision:
    """Whether Host is forwarded, and why in words. `forwarded` None: could not be decided."""

    forwarded: bool | None
    reason: str


def _named(kind: str, policy_id: str, headers: PolicyHeaders | None) -> str:
    name = headers.name if headers and headers.name else policy_id
    return f"{kind} {name}"


def decide_host(
    behavior: Behavior,
    origin_request_policy: PolicyHeaders | None,
    cache_policy: PolicyHeaders | None,
) -> HostDecision:
    """Decide from the behavior and the policies read for it (None: not read); the managed table
    fills in for a policy that was not read."""
    orp_id, cp_id = behavior.origin_request_policy_id, behavior.cache_policy_id
    unknown: list[str] = []
    if orp_id:
        orp = origin_request_policy or MANAGED_ORIGIN_REQUEST_POLICIES.get(orp_id)
        if orp is None:
            unknown.append(f"origin request policy {orp_id}")
        elif orp.forwards_host():
            return HostDecision(
                True, f"{_named('origin request policy', orp_id, orp)} forwards Host"
            )
    if cp_id:
        cp = cache_policy or MANAGED_CACHE_POLICIES.get(cp_id)
        if cp is None:
            unknown.append(f"cache policy {cp_id}")
        elif cp.forwards_host():
            return HostDecision(
                True, f"{_named('cache policy', cp_id, cp)} has Host in its cache key"
            )
    else:
        legacy = behavior.forwarded_headers
        if any(h == "*" or h.lower() == "host" for h in legacy):
            return HostDecision(True, "the legacy forwarded headers include Host")
    if unknown:
        return HostDecision(None, f"could not read the {' and the '.join(unknown)}")
    return HostDecision(False, "no policy forwards Host: CloudFront sends the origin's domain name")
