"""deploy/docker-compose.yml: valid against the Compose specification's JSON schema, and wired
as documented (Redis, the bot in Socket Mode, two workers, settings from .env).

The schema is the one the Compose specification publishes (Apache-2.0), as vendored with its
licence by the check-jsonschema package (dev extra); `docker compose` itself is not available here.
"""

from __future__ import annotations

import copy
import json
from importlib.resources import files
from typing import Any

import jsonschema
import pytest

from tests.deploy.tools import DEPLOY, load_yaml_documents

COMPOSE = DEPLOY / "docker-compose.yml"
_VENDOR = "check_jsonschema.builtin_schemas.vendor"


@pytest.fixture(scope="module")
def validator() -> jsonschema.protocols.Validator:
    schema = json.loads((files(_VENDOR) / "compose-spec.json").read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    (doc,) = load_yaml_documents(COMPOSE)
    return doc


def _errors(validator: jsonschema.protocols.Validator, doc: dict[str, Any]) -> list[str]:
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(doc)
    ]


def test_schema_is_the_compose_spec_with_its_licence() -> None:
    # Given the vendored schema and its licence file
    licence = (files(_VENDOR) / "licenses" / "LICENSE.compose-spec").read_text(encoding="utf-8")
    schema = json.loads((files(_VENDOR) / "compose-spec.json").read_text(encoding="utf-8"))
    # Then it is the Compose specification's schema, under Apache-2.0
    assert "Apache License" in licence
    assert "services" in schema["properties"]


def test_compose_file_validates(validator: jsonschema.protocols.Validator, compose) -> None:
    # Given the compose file (anchors and merge keys resolved, as Compose does)
    # When validated against the Compose specification
    # Then there is no error
    assert _errors(validator, compose) == []


def test_validation_catches_a_broken_compose_file(
    validator: jsonschema.protocols.Validator, compose
) -> None:
    # Given the compose file with a misspelt key and a wrongly typed value
    broken = copy.deepcopy(compose)
    broken["services"]["worker"]["restrat"] = "always"
    broken["services"]["worker"]["stop_grace_period"] = 75
    # When validated
    errors = _errors(validator, broken)
    # Then both are reported, so the clean result above means something
    assert any("restrat" in e for e in errors)
    assert any("stop_grace_period" in e for e in errors)


def test_redis_bot_in_socket_mode_and_two_workers(compose) -> None:
    services = compose["services"]
    # Then Redis is there, keeps its data and never evicts queued jobs
    redis = services["redis"]
    assert "noeviction" in redis["command"]
    assert "healthcheck" in redis
    # And the default bot runs in Socket Mode (no --http) and waits for a healthy Redis
    bot = services["bot"]
    assert bot["command"] == ["bot"]
    assert bot["depends_on"]["redis"]["condition"] == "service_healthy"
    # And HTTP mode is opt-in through a profile
    assert "--http" in services["bot-http"]["command"]
    assert services["bot-http"]["profiles"] == ["http"]
    # And two workers run from the same image
    worker = services["worker"]
    assert worker["command"][0] == "worker"
    assert worker["deploy"]["replicas"] == 2
    assert worker["image"] == bot["image"]
    # And every cf502 service reads .env and uses the compose network's Redis
    for name in ("bot", "bot-http", "worker"):
        svc = services[name]
        assert [e["path"] for e in svc["env_file"]] == ["../.env"]
        assert svc["environment"]["REDIS_URL"].startswith("redis://redis:")
        assert svc["read_only"] is True
        assert svc["cap_drop"] == ["ALL"]


def test_build_paths_exist(compose) -> None:
    # Given the build section (paths relative to the compose file)
    build = compose["services"]["worker"]["build"]
    context = (COMPOSE.parent / build["context"]).resolve()
    # Then the context is the repository and the Dockerfile is this directory's
    assert (context / "pyproject.toml").is_file()
    assert (context / build["dockerfile"]).resolve() == (DEPLOY / "Dockerfile").resolve()
