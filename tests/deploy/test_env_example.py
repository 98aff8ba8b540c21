""".env.example and the settings code never drift: every setting the code reads is in the example
with its default, every line of the example is read by the code, and the deployment files set only
settings that exist."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from bot import envdoc
from bot.settings import SETTINGS, Mode, Settings, load_settings, read_dotenv
from cf502.settings import AWS, ENGINE, AwsSettings, EngineSettings
from tests.deploy.tools import DEPLOY, ROOT, load_yaml_documents

EXAMPLE = ROOT / ".env.example"
NAMES = {spec.name for spec in SETTINGS}
_ASSIGNMENT = re.compile(r"^(?:# )?([A-Z][A-Z0-9_]*)=(.*)$")
_ENV_NAME = re.compile(r"""["']((?:SLACK|REDIS|CF502)_[A-Z0-9_]+)["']""")


def _example() -> dict[str, tuple[str, bool]]:
    """NAME -> (value, commented out) for every setting line of .env.example."""
    found: dict[str, tuple[str, bool]] = {}
    for line in EXAMPLE.read_text(encoding="utf-8").splitlines():
        match = _ASSIGNMENT.match(line)
        if match:
            assert match.group(1) not in found, f"{match.group(1)} appears twice"
            found[match.group(1)] = (match.group(2), line.startswith("#"))
    return found


def test_example_is_generated_from_the_settings() -> None:
    # Given the committed .env.example and the text the settings generate
    # Then they are identical (regenerate: python -m bot.envdoc > .env.example)
    assert EXAMPLE.read_text(encoding="utf-8") == envdoc.render()
    assert envdoc.main(["--check"]) == 0


def test_check_fails_when_a_setting_is_missing_from_the_example() -> None:
    # Given the settings with one more variable than the example documents
    extra = dataclasses.replace(SETTINGS[-1], name="CF502_NEW_KNOB", default="1")
    # When the example is compared with what they would generate
    # Then the difference is seen
    assert envdoc.render((*SETTINGS, extra)) != EXAMPLE.read_text(encoding="utf-8")


def test_every_setting_is_in_the_example_with_its_default_and_vice_versa() -> None:
    example = _example()
    # Then the example names exactly the settings the code reads
    assert set(example) - NAMES == set(), "in .env.example but not read by bot/settings.py"
    assert NAMES - set(example) == set(), "read by bot/settings.py but not in .env.example"
    for spec in SETTINGS:
        value, commented = example[spec.name]
        if spec.default is None:
            # And required settings are left to fill in
            assert (value, commented) == ("", False), spec.name
        else:
            # And optional ones show their default, commented out so nothing gets pinned
            assert (value, commented) == (spec.default, True), spec.name


def test_secrets_are_marked_and_never_have_values() -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    for spec in SETTINGS:
        block = text.split(f"{spec.name}=")[0].rsplit("\n\n", 1)[-1]
        # Then the comment above each secret says so, and the example holds no secret value
        assert ("Secret." in block) == spec.secret, spec.name
        if spec.secret:
            assert _example()[spec.name][0] == "", spec.name


def test_every_setting_fills_a_settings_field_and_every_field_has_a_setting() -> None:
    # The engine's settings fill the one typed EngineSettings the bot carries (as the worker's do),
    # and the AWS ones its AwsSettings
    fields = {f.name for f in dataclasses.fields(Settings)} - {"engine", "aws"}
    attrs = [spec.attr for spec in SETTINGS]
    assert len(attrs) == len(set(attrs))
    assert {spec.attr for spec in SETTINGS if spec not in ENGINE + AWS} == fields
    assert {spec.attr for spec in ENGINE} <= {f.name for f in dataclasses.fields(EngineSettings)}
    assert {spec.attr for spec in AWS} == {f.name for f in dataclasses.fields(AwsSettings)}


@pytest.mark.parametrize("mode", list(Mode))
def test_example_defaults_are_valid_and_equal_the_codes(tmp_path: Path, mode: Mode) -> None:
    secrets = {
        "SLACK_BOT_TOKEN": "xoxb-1-2-abc",
        "SLACK_SIGNING_SECRET": "0123456789abcdef",
        "SLACK_APP_TOKEN": "xapp-1-A1-2-abc",
    }
    # Given .env.example copied to .env with the secrets filled in and every default uncommented
    text = EXAMPLE.read_text(encoding="utf-8")
    for name, value in secrets.items():
        text = text.replace(f"\n{name}=\n", f"\n{name}={value}\n")
    text = re.sub(r"^# ([A-Z][A-Z0-9_]*=)", r"\1", text, flags=re.MULTILINE)
    dotenv = tmp_path / ".env"
    dotenv.write_text(text, encoding="utf-8")
    assert set(read_dotenv(dotenv)) == NAMES
    # When the bot loads it
    settings = load_settings(mode, environ={}, dotenv=dotenv)
    # Then every default shown parses and is the one the code uses when the line is left out
    assert settings == load_settings(mode, environ=secrets, dotenv=None)


def _source_names() -> dict[str, str]:
    """Environment variable names written as string literals anywhere in the application code."""
    found: dict[str, str] = {}
    for package in ("cf502", "bot", "handlers"):
        for path in sorted((ROOT / package).rglob("*.py")):
            text = path.read_text(encoding="utf-8")
            for name in _ENV_NAME.findall(text):
                # A module attribute of that name (e.g. a metric in __all__) is not a variable.
                if not re.search(rf"^{name}\b\s*[:=]", text, re.MULTILINE):
                    found.setdefault(name, str(path.relative_to(ROOT)))
    return found


def test_code_reads_no_environment_variable_the_example_does_not_document() -> None:
    # Given every SLACK_/REDIS_/CF502_ name the application code mentions
    undocumented = {n: where for n, where in _source_names().items() if n not in NAMES}
    # Then each is a setting of .env.example (the worker, logs and health check read some)
    assert undocumented == {}


def _deploy_names() -> dict[str, str]:
    names: dict[str, str] = {}
    compose = load_yaml_documents(DEPLOY / "docker-compose.yml")[0]
    for svc_name, svc in compose["services"].items():
        for name in svc.get("environment", {}):
            names[name] = f"docker-compose.yml:{svc_name}"
    for path in sorted((DEPLOY / "kubernetes").glob("*.yaml")):
        for doc in load_yaml_documents(path):
            if doc["kind"] in ("ConfigMap", "Secret"):
                for name in {**doc.get("data", {}), **doc.get("stringData", {})}:
                    names[name] = path.name
    for line in (DEPLOY / "Dockerfile").read_text(encoding="utf-8").splitlines():
        names.update({n: "Dockerfile" for n in re.findall(r"\b((?:CF502|SLACK|REDIS)_\w+)=", line)})
    for unit in sorted((DEPLOY / "systemd").glob("*.service")):
        for line in unit.read_text(encoding="utf-8").splitlines():
            if line.startswith("Environment="):
                names.update({n: unit.name for n in re.findall(r"(\w+)=", line[12:])})
    return names


def test_deployment_files_set_only_real_settings() -> None:
    # Given every variable the compose file, the manifests, the image and the units set
    names = _deploy_names()
    assert "REDIS_URL" in names and "CF502_METRICS_PORT" in names
    # Then each one is a setting the code reads (a typo here would be silently ignored)
    assert {n: where for n, where in names.items() if n not in NAMES} == {}
