"""Every setting cf502 reads, declared once (`spec.Setting`), and the dataclasses they fill.

* `origin`: the CloudFront origin configuration a diagnosis reproduces (anyone may set it).
* `engine`: the operator's safety and environment (only whoever runs cf502 sets it).
* `service`: how a long-running process (worker, bot) reaches its queue, logs and metrics.
* `aws`: whether and how the operator's read-only AWS access is used.
"""

from __future__ import annotations

from cf502.settings.aws import AWS, AwsSettings
from cf502.settings.engine import BOUNDS, ENGINE, SAFETY, EngineSettings
from cf502.settings.origin import ORIGIN, SSL_PROTOCOLS, OriginSettings, ProtocolPolicy
from cf502.settings.service import SERVICE, ServiceSettings
from cf502.settings.spec import Setting, add_options, from_environ, given, parse_resolver

__all__ = [
    "AWS",
    "BOUNDS",
    "DECLARED",
    "ENGINE",
    "OPERATOR_ONLY",
    "ORIGIN",
    "SAFETY",
    "SERVICE",
    "SSL_PROTOCOLS",
    "AwsSettings",
    "EngineSettings",
    "OriginSettings",
    "ProtocolPolicy",
    "ServiceSettings",
    "Setting",
    "add_options",
    "from_environ",
    "given",
    "parse_resolver",
]

DECLARED: tuple[Setting, ...] = ORIGIN + ENGINE + SERVICE + AWS
# What a request (a Slack command, a job) may never set: whoever runs cf502 decides.
OPERATOR_ONLY: tuple[Setting, ...] = tuple(s for s in DECLARED if s.operator_only)
