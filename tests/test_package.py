"""What a user installs: an SPDX licence with its text, one version everywhere, and a package
build that CI checks (scripts/package) from the same declarations."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
import tomllib
from pathlib import Path

import cf502

ROOT = Path(__file__).resolve().parents[1]


def pyproject() -> dict[str, object]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def test_the_licence_is_an_spdx_string_with_its_full_text_beside_it() -> None:
    project = pyproject()["project"]
    assert isinstance(project, dict)
    assert project["license"] == "Apache-2.0"
    assert project["license-files"] == ["LICENSE"]
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert "Apache License" in text and "Version 2.0, January 2004" in text
    assert "END OF TERMS AND CONDITIONS" in text


def test_the_version_is_written_once_and_reported_everywhere() -> None:
    project = pyproject()["project"]
    assert isinstance(project, dict)
    assert "version" not in project and project["dynamic"] == ["version"]
    # The installed metadata and `cf502 --version` both come from cf502.__version__
    assert importlib.metadata.version("cf502") == cf502.__version__
    done = subprocess.run(
        [sys.executable, "-m", "cf502", "--version"], capture_output=True, text=True, check=True
    )
    assert done.stdout == f"cf502 {cf502.__version__}\n"


def test_ci_builds_checks_and_runs_the_package() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "bash scripts/package" in ci
    script = (ROOT / "scripts" / "package").read_text(encoding="utf-8")
    for step in ("-m build", "twine check --strict", "python3 -m venv", "cf502 demo"):
        assert step in script
