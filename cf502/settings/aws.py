"""The operator's read-only AWS access, and its declarations.

Only whoever runs cf502 decides whether AWS is read, which role(s) to assume and which Regions to
search: a Slack request or a job can never carry credentials, roles or endpoints. The credentials
themselves come from the standard AWS chain (environment, `AWS_PROFILE`, the instance or task
role) and `AWS_ENDPOINT_URL` is honoured by the SDK; neither is a cf502 setting.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from cf502.settings.spec import Setting, boolean, from_environ, seconds

__all__ = ["AWS", "JOB_REQUEST", "AwsSettings"]

JOB_REQUEST = ("aws", "distribution")
"""The `requested_by` entry of a job that asks to be diagnosed through its distribution."""

_ROLE = re.compile(r"arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}\Z")
_REGION = re.compile(r"[a-z]{2}(?:-[a-z]+)+-\d{1,2}\Z")


def _roles(v: str) -> tuple[str, ...]:
    roles = tuple(r.strip() for r in v.split(",") if r.strip())
    for role in roles:
        if not _ROLE.match(role):
            raise ValueError(
                "must be IAM role ARNs (arn:aws:iam::ACCOUNT:role/NAME), comma-separated"
            )
    return roles


def _regions(v: str) -> tuple[str, ...]:
    regions = tuple(r.strip() for r in v.split(",") if r.strip())
    for region in regions:
        if not _REGION.match(region):
            raise ValueError("must be AWS Region codes (e.g. us-east-1), comma-separated")
    return regions


AWS_ENABLED = Setting(
    "enabled",
    "Read the distribution's configuration and the AWS-side causes with read-only AWS access.",
    boolean,
    "false",
    name="CF502_AWS",
    flag="--aws",
    operator_only=True,
    job_request=True,  # a job may ask (cf502 check --aws --redis-url); the worker's operator decides
)
AWS_ROLE_ARN = Setting(
    "role_arns",
    "IAM role(s) to assume for AWS, comma-separated, one per account, tried in order; empty: "
    "the credentials as found.",
    _roles,
    "",
    name="CF502_AWS_ROLE_ARN",
    flag="--aws-role-arn",
    metavar="ARN[,ARN]",
    operator_only=True,
)
AWS_REGIONS = Setting(
    "regions",
    "Regions searched for Lambda@Edge logs, comma-separated; empty: every Region enabled in "
    "the account.",
    _regions,
    "",
    name="CF502_AWS_REGIONS",
    metavar="LIST",
    operator_only=True,
)
AWS_TIMEOUT = Setting(
    "timeout",
    "Seconds the AWS reads of one diagnosis may take in all.",
    seconds(1, 60),
    "8",
    name="CF502_AWS_TIMEOUT",
    metavar="S",
    operator_only=True,
)
AWS = (AWS_ENABLED, AWS_ROLE_ARN, AWS_REGIONS, AWS_TIMEOUT)


@dataclass(frozen=True)
class AwsSettings:
    """Whether and how a diagnosis reads AWS (operator only).

    Attributes:
        enabled: read AWS at all.
        role_arns: roles to assume, one per account, tried in order (empty: no role).
        regions: Regions searched for Lambda@Edge logs (empty: every enabled Region).
        timeout: seconds the AWS part of one diagnosis may take in all.
    """

    enabled: bool = AWS_ENABLED.initial
    role_arns: tuple[str, ...] = AWS_ROLE_ARN.initial
    regions: tuple[str, ...] = AWS_REGIONS.initial
    timeout: float = AWS_TIMEOUT.initial

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> AwsSettings:
        """From the `CF502_AWS*` variables; ConfigError names the first malformed one."""
        return cls(**from_environ(AWS, environ))
