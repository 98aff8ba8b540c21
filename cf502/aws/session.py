"""AWS sessions and clients: the standard credential chain, optional role assumption, and one
bounded client per service and Region. The only module that creates boto3 clients.

* Credentials: boto3's chain (environment, `AWS_PROFILE`, the instance or task role). The endpoint
  variables (`AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_<SERVICE>`) are honoured by botocore itself.
* Roles (`CF502_AWS_ROLE_ARN`): each is assumed when first needed and again before its
  credentials expire; `Accounts.each()` yields the identities in the operator's order.
* Every client has connect and read timeouts and the standard retry mode, so one call costs at
  most a few seconds, and `call` turns AccessDenied into `Denied` (cannot see) instead of an error.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any, cast

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from cf502.settings.aws import AwsSettings

__all__ = [
    "CLIENT_CONFIG",
    "DENIED_CODES",
    "Account",
    "Accounts",
    "AwsFailed",
    "Denied",
    "NotFound",
    "accounts_for",
    "call",
    "forget_accounts",
    "iam_action",
]

CLIENT_CONFIG = Config(
    connect_timeout=2,
    read_timeout=5,
    retries={"mode": "standard", "max_attempts": 3},
    max_pool_connections=32,
    user_agent_extra="cf502",
)
# The error codes AWS services use for "this identity may not call that".
DENIED_CODES = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "UnauthorizedOperation",
        "AuthorizationError",
        "UnauthorizedAccess",
        "NotAuthorized",
        "ForbiddenException",
        "InvalidClientTokenId",
        "UnrecognizedClientException",
        "ExpiredToken",
        "ExpiredTokenException",
    }
)
# The IAM prefix of the services whose API name differs from it, and the operations whose IAM
# action has another name.
_IAM_PREFIX = {"elbv2": "elasticloadbalancing", "elb": "elasticloadbalancing"}
_IAM_ACTION = {("s3", "ListObjectsV2"): "ListBucket", ("s3", "HeadBucket"): "ListBucket"}
_GLOBAL_REGION = "us-east-1"  # CloudFront is global; its API (and metrics) sign as us-east-1
_ROLE_REFRESH = 300.0  # re-assume a role this long before its credentials expire


class Denied(Exception):
    """The identity may not make this call: the check cannot see, it did not fail."""

    def __init__(self, action: str) -> None:
        super().__init__(f"{action} is not allowed for this identity")
        self.action = action


class NotFound(Exception):
    """The resource asked for does not exist (in this account or Region)."""


class AwsFailed(Exception):
    """AWS could not be asked: no credentials, no answer in time, a malformed answer. The
    message is one line for the report."""


def iam_action(service: str, operation: str) -> str:
    """`service` (boto3's name) and API operation -> the IAM action, e.g. `elbv2`,
    `DescribeListeners` -> `elasticloadbalancing:DescribeListeners`."""
    action = _IAM_ACTION.get((service, operation), operation)
    return f"{_IAM_PREFIX.get(service, service)}:{action}"


def _action_of(client: Any, method: str) -> str:
    operation = client.meta.method_to_api_mapping.get(method, method)
    return iam_action(client.meta.service_model.service_name, operation)


def call(client: Any, method: str, **params: Any) -> dict[str, Any]:
    """`client.method(**params)`, with AWS's failures sorted: Denied (cannot see), NotFound,
    AwsFailed (could not ask)."""
    try:
        return cast(dict[str, Any], getattr(client, method)(**params))
    except ClientError as exc:
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code in DENIED_CODES or (status == 403 and not code.startswith("NoSuch")):
            raise Denied(_action_of(client, method)) from None
        if code.startswith("NoSuch") or code.endswith("NotFound") or "NotFound" in code:
            raise NotFound(f"{_action_of(client, method)}: {code}") from None
        message = (
            str(error.get("Message", "")).splitlines()[0][:200] if error.get("Message") else ""
        )
        raise AwsFailed(
            f"{_action_of(client, method)} failed: {code or status} {message}".strip()
        ) from None
    except NoCredentialsError:
        raise AwsFailed(
            "no AWS credentials were found (environment, AWS_PROFILE or an instance/task role)"
        ) from None
    except BotoCoreError as exc:
        raise AwsFailed(f"{_action_of(client, method)}: {str(exc).splitlines()[0][:200]}") from None


class Account:
    """One identity (the credentials as found, or an assumed role) and its clients, each made
    once per service and Region and shared by threads (botocore clients are thread-safe)."""

    def __init__(self, label: str, session_factory: Any, expires: float | None = None) -> None:
        self.label = label
        self._factory = session_factory
        self._session: Any = None
        self.expires = expires
        self._clients: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()

    def client(self, service: str, region: str | None = None) -> Any:
        key = (service, region or _GLOBAL_REGION)
        with self._lock:
            if self._session is None:
                self._session = self._factory()
            if key not in self._clients:
                self._clients[key] = self._session.client(
                    service, region_name=key[1], config=CLIENT_CONFIG
                )
            return self._clients[key]


class Accounts:
    """The identities of one operator's settings, in the order they are tried. Kept per process
    (see `accounts_for`), so roles are assumed once and clients reused across diagnoses."""

    def __init__(self, settings: AwsSettings) -> None:
        self.settings = settings
        self._base = Account("credentials as found", boto3.session.Session)
        self._roles: dict[str, tuple[float, Account]] = {}
        self._lock = threading.Lock()

    def _assume(self, role_arn: str) -> Account:
        sts = self._base.client("sts")
        answer = call(sts, "assume_role", RoleArn=role_arn, RoleSessionName="cf502-read-only")
        creds = answer.get("Credentials", {})
        expires_at = creds.get("Expiration")
        lifetime = (
            expires_at.timestamp() - time.time() if hasattr(expires_at, "timestamp") else 900.0
        )
        keys = {
            "aws_access_key_id": creds.get("AccessKeyId"),
            "aws_secret_access_key": creds.get("SecretAccessKey"),
            "aws_session_token": creds.get("SessionToken"),
        }
        return Account(
            f"role {role_arn}",
            lambda: boto3.session.Session(**keys),
            expires=time.monotonic() + max(lifetime, 0.0),
        )

    def role(self, role_arn: str) -> Account:
        with self._lock:
            held = self._roles.get(role_arn)
            if held is not None and held[0] - time.monotonic() > _ROLE_REFRESH:
                return held[1]
        account = self._assume(role_arn)
        with self._lock:
            self._roles[role_arn] = (account.expires or time.monotonic(), account)
        return account

    def each(self) -> Iterator[Account]:
        """The identities to try: each configured role in order, else the credentials as found.
        A role that cannot be assumed raises (Denied/AwsFailed) when its turn comes."""
        if not self.settings.role_arns:
            yield self._base
            return
        for arn in self.settings.role_arns:
            yield self.role(arn)


_ACCOUNTS: dict[AwsSettings, Accounts] = {}
_ACCOUNTS_LOCK = threading.Lock()


def accounts_for(settings: AwsSettings) -> Accounts:
    """The process's Accounts for these settings (made once)."""
    with _ACCOUNTS_LOCK:
        if settings not in _ACCOUNTS:
            _ACCOUNTS[settings] = Accounts(settings)
        return _ACCOUNTS[settings]


def forget_accounts() -> None:
    """Drop the process's sessions and clients (tests, or after the environment changed)."""
    with _ACCOUNTS_LOCK:
        _ACCOUNTS.clear()
