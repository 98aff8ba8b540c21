"""Fixtures shared by every test: a scrubbed environment so a developer's settings never leak in.

Family-specific servers live in tests/servers/*.py and are imported by the tests that use them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

_KEEP = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "VIRTUAL_ENV", "PYTHONPATH", "CI", "TERM")


@pytest.fixture(autouse=True)
def clean_environ() -> Iterator[None]:
    """Strip Slack/Redis/cf502 settings and proxies from the environment for each test."""
    saved = dict(os.environ)
    for key in list(os.environ):
        if key.startswith(("SLACK_", "CF502_", "REDIS_")) or key.lower().endswith("_proxy"):
            del os.environ[key]
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)
