"""Helpers for the deployment tests: where the repository's deploy files and linters are."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Any

import yaml

__all__ = ["DEPLOY", "ROOT", "load_yaml_documents", "tool"]

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"


def tool(name: str) -> str | None:
    """A command-line tool: the one installed beside this Python (the venv's bin) first, since
    the test run's PATH may not include the venv, then PATH."""
    beside = Path(sys.executable).parent / name
    if beside.is_file():
        return str(beside)
    return shutil.which(name)


def load_yaml_documents(path: Path) -> list[dict[str, Any]]:
    docs = [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d is not None]
    for doc in docs:
        assert isinstance(doc, dict), f"{path.name}: a document is not a mapping"
    return docs
