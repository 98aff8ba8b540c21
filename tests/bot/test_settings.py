"""The app's settings: one list of variables; a missing or malformed one stops start-up in one line."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from bot.settings import SETTINGS, Mode, Settings, load_settings, read_dotenv
from cf502.errors import ConfigError
from cf502.settings import AWS, ENGINE, EngineSettings

BOT = "xoxb-1-2-abcdefghijkl"
APP = "xapp-1-A1-2-abcdefghijkl"
SECRET = "0123456789abcdef0123"


def env(**extra: str) -> dict[str, str]:
    return {"SLACK_BOT_TOKEN": BOT, "SLACK_SIGNING_SECRET": SECRET, "SLACK_APP_TOKEN": APP, **extra}


def test_every_variable_is_listed_once_and_maps_to_a_field() -> None:
    names = [s.name for s in SETTINGS]
    assert len(names) == len(set(names))
    fields = {f.name for f in dataclasses.fields(Settings)} - {"engine", "aws"}
    engine_fields = {f.name for f in dataclasses.fields(EngineSettings)}
    own = {s.attr for s in SETTINGS if s not in ENGINE + AWS}
    assert own == fields
    assert {s.attr for s in ENGINE} <= engine_fields
    assert all(s.help.endswith(".") or s.help.endswith(")") for s in SETTINGS)
    secrets = {s.name for s in SETTINGS if s.secret}
    assert {"SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN", "REDIS_URL"} <= secrets


def test_defaults_and_engine_settings() -> None:
    s = load_settings(
        Mode.HTTP, env(CF502_RESOLVER="127.0.0.1:5353", CF502_ALLOW_PRIVATE="yes"), None
    )
    assert s.api_url == "https://slack.com/api/"
    assert s.redis_url == ""
    assert s.engine.resolver == "127.0.0.1:5353" and s.engine.allow_private is True
    assert s.channel_allowlist == frozenset()


@pytest.mark.parametrize(
    ("mode", "missing"),
    [
        (Mode.HTTP, "SLACK_BOT_TOKEN"),
        (Mode.HTTP, "SLACK_SIGNING_SECRET"),
        (Mode.SOCKET, "SLACK_APP_TOKEN"),
    ],
)
def test_a_missing_setting_is_named(mode: Mode, missing: str) -> None:
    environ = env()
    del environ[missing]
    with pytest.raises(ConfigError) as err:
        load_settings(mode, environ, None)
    assert str(err.value).startswith(f"{missing} is not set")
    assert "\n" not in str(err.value)


def test_socket_mode_does_not_need_the_signing_secret() -> None:
    environ = env()
    del environ["SLACK_SIGNING_SECRET"]
    assert load_settings(Mode.SOCKET, environ, None).signing_secret is None


@pytest.mark.parametrize(
    ("name", "value", "words"),
    [
        ("SLACK_BOT_TOKEN", "xoxp-user-token-123", "starting with xoxb-"),
        ("SLACK_API_URL", "http://127.0.0.1:1/api", "ending with /"),
        ("CF502_RESOLVER", "dns.google", "IP address"),
        ("CF502_ALLOW_PRIVATE", "maybe", "true or false"),
        ("CF502_WATCH_INTERVAL", "0", "between"),
        ("CF502_CHANNEL_ALLOWLIST", "C123,#general", "not a Slack id"),
        ("CF502_CA_FILE", "/nonexistent/ca.pem", "not a readable file"),
        ("REDIS_URL", "http://redis:6379", "redis://"),
        ("CF502_METRICS_PORT", "99999", "port number"),
    ],
)
def test_a_malformed_setting_is_named_without_echoing_secrets(
    name: str, value: str, words: str
) -> None:
    with pytest.raises(ConfigError) as err:
        load_settings(Mode.HTTP, env(**{name: value}), None)
    message = str(err.value)
    assert message.startswith(name) and words in message
    if name == "SLACK_BOT_TOKEN":
        assert value not in message


def test_secrets_stay_out_of_repr() -> None:
    s = load_settings(Mode.HTTP, env(REDIS_URL="redis://:hunter2pass@r:6379/0"), None)
    text = repr(s)
    for secret in (BOT, SECRET, APP, "hunter2pass"):
        assert secret not in text
    assert set(s.secrets) == {BOT, SECRET, APP, "redis://:hunter2pass@r:6379/0"}


def test_dotenv_is_read_and_the_environment_wins(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text(
        "# comment\n"
        f"export SLACK_BOT_TOKEN={BOT}\n"
        f"SLACK_SIGNING_SECRET='{SECRET}'\n"
        'CF502_USER_RATE="5"\n'
        "CF502_LOG_LEVEL=debug  # inline comment\n"
    )
    s = load_settings(Mode.HTTP, {"CF502_USER_RATE": "7"}, dotenv)
    assert s.bot_token == BOT and s.signing_secret == SECRET
    assert s.user_rate == 7
    assert s.log_level == "DEBUG"


def test_a_malformed_dotenv_line_is_named(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text("SLACK_BOT_TOKEN\n")
    with pytest.raises(ConfigError, match=r"\.env line 1 is not KEY=VALUE"):
        read_dotenv(dotenv)


def test_the_operator_sets_aws_access_and_slack_users_cannot() -> None:
    from bot.request import CommandError, parse_command

    settings = load_settings(
        Mode.HTTP,
        env(CF502_AWS="true", CF502_AWS_ROLE_ARN="arn:aws:iam::123456789012:role/cf502-read"),
        dotenv=None,
    )
    assert settings.aws.enabled and settings.aws.role_arns == (
        "arn:aws:iam::123456789012:role/cf502-read",
    )
    for option in ("--aws", "--aws-role-arn arn:aws:iam::123456789012:role/admin"):
        with pytest.raises(CommandError, match=option.split()[0]):
            parse_command(f"origin.example.com {option}")
