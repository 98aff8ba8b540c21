"""The report model: what a diagnosis produces, shared by the CLI, the worker pool and Slack.

Everything here is plain data that round-trips through JSON exactly (`Report.from_dict(r.to_dict())
== r`), because reports travel over Redis and come back in Slack button handlers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

__all__ = [
    "SCHEMA_VERSION",
    "Affects",
    "CheckResult",
    "CloudFrontSite",
    "Evidence",
    "OriginReport",
    "Report",
    "Scope",
    "Status",
    "Verdict",
]

SCHEMA_VERSION = 1


class Status(StrEnum):
    """Outcome of one check (the command-line contract's five values)."""

    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"
    ERROR = "error"  # the check itself could not run
    SKIP = "skip"  # a precondition failed

    @property
    def rank(self) -> int:
        """Severity order used for the overall status: fail > error > warn > pass > skip."""
        return _RANK[self]


_RANK = {Status.SKIP: 0, Status.PASS: 1, Status.WARN: 2, Status.ERROR: 3, Status.FAIL: 4}


class Scope(StrEnum):
    """How much of CloudFront's traffic a problem breaks, widest first."""

    ALL = "all"  # every request to the origin
    SOME = "some"  # the requests that go to some of the origin's addresses
    SHARE = "share"  # a share of CloudFront's DNS lookups of the origin (resolvers retry others)

    @property
    def rank(self) -> int:
        """Breadth order used to pick the likely cause: all > some > share."""
        return _SCOPE_RANK[self]


_SCOPE_RANK = {Scope.SHARE: 0, Scope.SOME: 1, Scope.ALL: 2}


@dataclass(frozen=True)
class Affects:
    """What a failure or warning breaks: `failing` of `total` addresses (or name servers).

    Counts are 0 when not known (a failure of the origin as a whole, e.g. NXDOMAIN).
    """

    scope: Scope
    failing: int = 0
    total: int = 0

    @property
    def fraction(self) -> float:
        """The share of requests (or lookups) hit, 1.0 when counts are not known."""
        return self.failing / self.total if self.total else 1.0

    def to_dict(self) -> dict[str, Any]:
        return {"scope": self.scope.value, "failing": self.failing, "total": self.total}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Affects:
        return cls(Scope(d["scope"]), int(d.get("failing", 0)), int(d.get("total", 0)))


@dataclass(frozen=True)
class Evidence:
    """One observed fact, e.g. ``Evidence("notAfter", "2025-03-01 00:00 UTC (expired 12 days ago)")``."""

    label: str
    value: str

    def to_dict(self) -> dict[str, str]:
        return {"label": self.label, "value": self.value}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Evidence:
        return cls(label=str(d["label"]), value=str(d["value"]))


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check against one origin.

    Attributes:
        id: stable contract id, e.g. "tls.cert.expiry".
        title: human title, a neutral noun, e.g. "Certificate expiry" (the summary says what is wrong).
        status: pass/warn/fail/error/skip.
        summary: one plain-text line naming the concrete values; renderers escape it.
        evidence: observed facts backing the summary.
        remediation: what to change and where (CloudFront setting or origin); empty on PASS.
        commands: equivalent shell commands, already shell-quoted, from this run's values.
        duration_ms: wall time of the check.
        cloudfront_status: the status CloudFront would answer because of this failure (502/504).
        cloudfront_error: the access-log `x-edge-detailed-result-type` value, e.g. "OriginDnsError".
        affects: on fail/warn, how much of the traffic it breaks (None: the whole origin).
        applies: False when the check does not apply to these settings (e.g. tcp.http under
            https-only): such a skip leaves nothing unchecked.
    """

    id: str
    title: str
    status: Status
    summary: str
    evidence: tuple[Evidence, ...] = ()
    remediation: str = ""
    commands: tuple[str, ...] = ()
    duration_ms: int = 0
    cloudfront_status: int | None = None
    cloudfront_error: str | None = None
    affects: Affects | None = None
    applies: bool = True

    def with_duration(self, duration_ms: int) -> CheckResult:
        return replace(self, duration_ms=duration_ms)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "status": self.status.value,
            "summary": self.summary,
            "evidence": [e.to_dict() for e in self.evidence],
            "remediation": self.remediation,
            "commands": list(self.commands),
            "duration_ms": self.duration_ms,
            "cloudfront_status": self.cloudfront_status,
            "cloudfront_error": self.cloudfront_error,
            "affects": self.affects.to_dict() if self.affects else None,
            "applies": self.applies,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CheckResult:
        cf_status = d.get("cloudfront_status")
        cf_error = d.get("cloudfront_error")
        affects = d.get("affects")
        return cls(
            id=str(d["id"]),
            title=str(d.get("title", d["id"])),
            status=Status(d["status"]),
            summary=str(d["summary"]),
            evidence=tuple(Evidence.from_dict(e) for e in d.get("evidence", ())),
            remediation=str(d.get("remediation", "")),
            commands=tuple(str(c) for c in d.get("commands", ())),
            duration_ms=int(d.get("duration_ms", 0)),
            cloudfront_status=int(cf_status) if cf_status is not None else None,
            cloudfront_error=str(cf_error) if cf_error is not None else None,
            affects=Affects.from_dict(affects) if affects else None,
            applies=bool(d.get("applies", True)),
        )


@dataclass(frozen=True)
class Verdict:
    """The overall conclusion.

    Attributes:
        status: the worst check status (fail > error > warn > pass).
        likely_cause: id of the failing check that breaks the most requests (the most upstream
            on a tie), or of the first check that could not run; None when neither.
        summary: one line for humans: the cause in words, or "no problem found".
        cloudfront_status: the error CloudFront is predicted to answer (502/504), if any.
        cloudfront_error: the CloudFront log value predicted (e.g. "OriginDnsError"), if known.
        partial: checks that apply were not run (`--only`) or could not be checked (skipped), so
            a pass covers only what ran.
    """

    status: Status
    likely_cause: str | None
    summary: str
    cloudfront_status: int | None = None
    cloudfront_error: str | None = None
    partial: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status.value,
            "likely_cause": self.likely_cause,
            "summary": self.summary,
            "cloudfront_status": self.cloudfront_status,
            "cloudfront_error": self.cloudfront_error,
            "partial": self.partial,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Verdict:
        cf_status = d.get("cloudfront_status")
        cause = d.get("likely_cause")
        cf_error = d.get("cloudfront_error")
        return cls(
            status=Status(d["status"]),
            likely_cause=str(cause) if cause is not None else None,
            summary=str(d.get("summary", "")),
            cloudfront_status=int(cf_status) if cf_status is not None else None,
            cloudfront_error=str(cf_error) if cf_error is not None else None,
            partial=bool(d.get("partial", False)),
        )


@dataclass(frozen=True)
class CloudFrontSite:
    """Whether the target is served by CloudFront, and what its edge said about itself.

    Attributes:
        detected: the target (or the --cloudfront-domain/--origin site) is CloudFront's.
        via: how that was seen: "cname" (a CNAME chain ending in *.cloudfront.net), "headers"
            (CloudFront's response headers), "error-page" (CloudFront's own error page); None
            when not detected.
        domain: the distribution's *.cloudfront.net domain, when known.
        pop: the edge location that answered (X-Amz-Cf-Pop), when asked.
        request_id: CloudFront's id of the request made (X-Amz-Cf-Id), for its logs and AWS
            Support.
    """

    detected: bool = False
    via: str | None = None
    domain: str | None = None
    pop: str | None = None
    request_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "detected": self.detected,
            "via": self.via,
            "domain": self.domain,
            "pop": self.pop,
            "request_id": self.request_id,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CloudFrontSite:
        def text(key: str) -> str | None:
            value = d.get(key)
            return str(value) if value is not None else None

        return cls(
            detected=bool(d.get("detected", False)),
            via=text("via"),
            domain=text("domain"),
            pop=text("pop"),
            request_id=text("request_id"),
        )


@dataclass(frozen=True)
class OriginReport:
    """One origin of a distribution, diagnosed with the settings its configuration gives it.

    Attributes:
        id / domain: the origin's id and domain name in the distribution.
        settings: `OriginSettings.to_dict()` (custom header values redacted).
        checks / verdict: its origin checks and their verdict.
        addresses: the vetted addresses its connections went to.
    """

    id: str
    domain: str
    settings: dict[str, Any]
    checks: tuple[CheckResult, ...]
    verdict: Verdict
    addresses: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "domain": self.domain,
            "settings": self.settings,
            "addresses": list(self.addresses),
            "checks": [c.to_dict() for c in self.checks],
            "verdict": self.verdict.to_dict(),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> OriginReport:
        return cls(
            id=str(d["id"]),
            domain=str(d["domain"]),
            settings=dict(d.get("settings") or {}),
            checks=tuple(CheckResult.from_dict(c) for c in d.get("checks", ())),
            verdict=Verdict.from_dict(d["verdict"]),
            addresses=tuple(str(a) for a in d.get("addresses", ())),
        )


@dataclass(frozen=True)
class Report:
    """A whole diagnosis.

    Attributes:
        target: the parsed target (see `Target.to_dict`).
        settings: the CloudFront origin settings assumed (see `OriginSettings.to_dict`).
        checks: every check's result, in registry order.
        verdict: the overall conclusion.
        duration_ms: wall time of the whole diagnosis.
        started_at: ISO-8601 UTC time the diagnosis started.
        addresses: the vetted addresses every connection went to.
        cloudfront: whether the target is served by CloudFront (always present in JSON).
        distribution: when the target was resolved to a distribution through AWS: its `id`,
            `domain`, `aliases`, `behavior` and `target_origin_id`; then `checks` hold
            `cloudfront.edge` and the `aws.*` checks, `origins` one report per origin CloudFront
            would use (failover order) and `verdict` the overall one. None (and left out of the
            JSON, with `origins`) for a plain origin target.
    """

    target: dict[str, Any]
    settings: dict[str, Any]
    checks: tuple[CheckResult, ...]
    verdict: Verdict
    duration_ms: int
    started_at: str
    addresses: tuple[str, ...] = ()
    cloudfront: CloudFrontSite = field(default_factory=CloudFrontSite)
    version: int = field(default=SCHEMA_VERSION)
    distribution: dict[str, Any] | None = None
    origins: tuple[OriginReport, ...] = ()

    def check(self, check_id: str) -> CheckResult | None:
        return next((c for c in self.checks if c.id == check_id), None)

    @property
    def failed(self) -> bool:
        """True when the exit status must be 1: a check failed or could not run (an origin's
        included)."""
        every = (*self.checks, *(c for o in self.origins for c in o.checks))
        return any(c.status in (Status.FAIL, Status.ERROR) for c in every)

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "target": self.target,
            "settings": self.settings,
            "addresses": list(self.addresses),
            "cloudfront": self.cloudfront.to_dict(),
            "started_at": self.started_at,
            "duration_ms": self.duration_ms,
            "verdict": self.verdict.to_dict(),
            "checks": [c.to_dict() for c in self.checks],
            **(
                {
                    "distribution": self.distribution,
                    "origins": [o.to_dict() for o in self.origins],
                }
                if self.distribution is not None
                else {}
            ),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Report:
        return cls(
            target=dict(d["target"]),
            settings=dict(d["settings"]),
            checks=tuple(CheckResult.from_dict(c) for c in d["checks"]),
            verdict=Verdict.from_dict(d["verdict"]),
            duration_ms=int(d["duration_ms"]),
            started_at=str(d["started_at"]),
            addresses=tuple(str(a) for a in d.get("addresses", ())),
            cloudfront=CloudFrontSite.from_dict(d.get("cloudfront") or {}),
            version=int(d.get("version", SCHEMA_VERSION)),
            distribution=dict(d["distribution"]) if d.get("distribution") is not None else None,
            origins=tuple(OriginReport.from_dict(o) for o in d.get("origins", ())),
        )

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_json(cls, text: str | bytes) -> Report:
        return cls.from_dict(json.loads(text))
