"""The aws tests run against moto's server on 127.0.0.1 only: every AWS variable of the developer's
environment is removed, dummy credentials are set, instance metadata is off, and every botocore
client cf502 makes refuses a request to anything but loopback and any operation that
deploy/aws-readonly-policy.json does not allow (the read-only guarantee, for the whole run)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest

from tests.aws.emulator import Emulator, moto_server

ROOT = Path(__file__).resolve().parents[2]
POLICY = ROOT / "deploy" / "aws-readonly-policy.json"
# Identity calls the policy does not list: assuming the operator's role needs sts:AssumeRole on
# the caller (granted in the caller's own account), not on cf502's read-only role.
IDENTITY_ACTIONS = frozenset({"sts:AssumeRole"})


def allowed_actions() -> frozenset[str]:
    policy = json.loads(POLICY.read_text())
    return frozenset(a for s in policy["Statement"] for a in s["Action"]) | IDENTITY_ACTIONS


class Guard:
    """Records every operation and host cf502's clients use; refuses the forbidden ones."""

    def __init__(self) -> None:
        self.allowed = allowed_actions()
        self.called: list[str] = []
        self.refused: list[str] = []

    def before_call(self, model: Any, **_: Any) -> None:
        from cf502.aws.session import iam_action

        action = iam_action(model.service_model.service_name, model.name)
        self.called.append(action)
        if action not in self.allowed:
            self.refused.append(action)
            raise PermissionError(f"{action} is not in {POLICY.name}")

    def before_send(self, request: Any, **_: Any) -> None:
        host = urlsplit(request.url).hostname or ""
        if host != "127.0.0.1":
            self.refused.append(f"request to {host}")
            raise PermissionError(f"request to {host}: the tests talk to 127.0.0.1 only")


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    with moto_server() as url:
        yield url


@pytest.fixture
def guard(monkeypatch: pytest.MonkeyPatch, moto_url: str, tmp_path: Path) -> Iterator[Guard]:
    """The loopback-only, read-only AWS environment of one test."""
    for name in list(os.environ):
        if name.startswith(("AWS_", "CF502_AWS")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    g = Guard()
    original = boto3.session.Session

    class GuardedSession(original):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.events.register("before-call.*.*", g.before_call)
            self.events.register("before-send.*.*", g.before_send)

    monkeypatch.setattr(boto3.session, "Session", GuardedSession)
    from cf502.aws.read.distribution import forget_cache
    from cf502.aws.session import forget_accounts

    forget_accounts()
    forget_cache()
    yield g
    forget_accounts()
    forget_cache()
    assert g.refused == [], f"forbidden AWS use: {g.refused}"


@pytest.fixture
def aws(moto_url: str, guard: Guard) -> Emulator:
    """Seeding helpers for the emulator (their own clients, not guarded: seeding writes)."""
    return Emulator(moto_url)
