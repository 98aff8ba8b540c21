"""Golden files: normalise what legitimately differs between runs, compare, or rewrite on request.

Normalisation is narrow on purpose; everything not listed here must match exactly:

* by key: every `duration_ms` becomes 0; a `*port` integer that is one of this run's ports becomes
  its placeholder;
* by value: each of this run's own values (the ports the servers bound, the temporary CA file,
  certifi's path, the test CA's dates, the random X-Amz-Cf-Id sent) is replaced wherever it
  appears in a string by its placeholder, e.g. `{ORIGIN_PORT}`; only whole tokens are replaced;
* measured times: `12 ms`, `0.4 ms` (the engine prints measured durations in ms, settings in s)
  become `{t} ms`.

Slack payloads are rendered from the report normalised with `keep_numbers` (so the footer reads
"finished in 0.0 s" and truncation never depends on how long a measured time is), then normalised.
"""

from __future__ import annotations

import difflib
import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

__all__ = ["UPDATE", "assert_golden", "normalise"]

UPDATE = os.environ.get("CF502_UPDATE_GOLDEN") == "1"
REGENERATE = "CF502_UPDATE_GOLDEN=1 .venv/bin/pytest tests/golden"

_MEASURED = re.compile(r"(?<![\w.])\d+(?:\.\d+)? ms\b")


def without_durations(data: Any) -> Any:
    """`data` with every `duration_ms` set to 0; types are kept, so a report stays a report."""
    if isinstance(data, dict):
        return {k: 0 if k == "duration_ms" else without_durations(v) for k, v in data.items()}
    if isinstance(data, list):
        return [without_durations(v) for v in data]
    return data


def _token(value: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![\w.]){re.escape(value)}(?![\w])")


def normalise(data: Any, values: Mapping[str, str], *, keep_numbers: bool = False) -> Any:
    """`data` (JSON-able) with durations, this run's `values` ({placeholder: value}) and measured
    times replaced by placeholders. With `keep_numbers`, numbers stay numbers (durations become 0,
    ports stay as they are), so a normalised report is still a valid report to render."""
    ordered = sorted(values.items(), key=lambda kv: len(kv[1]), reverse=True)
    patterns = [(placeholder, _token(value)) for placeholder, value in ordered if value]
    by_value = {value: placeholder for placeholder, value in values.items()}

    def text(s: str) -> str:
        for placeholder, pattern in patterns:
            s = pattern.sub(placeholder, s)
        return _MEASURED.sub("{t} ms", s)

    def walk(node: Any, key: str = "") -> Any:
        if isinstance(node, dict):
            return {k: walk(v, k) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        if isinstance(node, str):
            return text(node)
        if (
            not keep_numbers
            and key.endswith("port")
            and isinstance(node, int)
            and str(node) in by_value
        ):
            return by_value[str(node)]
        return node

    return walk(without_durations(data))


def dumps(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True) + "\n"


def assert_golden(path: Path, actual: Any) -> None:
    """`actual` equals the golden file at `path` (as pretty JSON), else fail with a unified diff.
    With CF502_UPDATE_GOLDEN=1 the file is (re)written instead."""
    got = dumps(actual)
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(got, encoding="utf-8")
        return
    if not path.exists():
        pytest.fail(f"no golden file {path}; create it with `{REGENERATE}`", pytrace=False)
    want = path.read_text(encoding="utf-8")
    if got == want:
        return
    name = str(path.relative_to(Path(__file__).parent))
    diff = "".join(
        difflib.unified_diff(
            want.splitlines(keepends=True),
            got.splitlines(keepends=True),
            fromfile=f"golden/{name}",
            tofile="this run",
            n=3,
        )
    )
    pytest.fail(
        f"output differs from golden/{name} (- golden, + this run):\n{diff}\n"
        f"If the change is intended, regenerate with `{REGENERATE}` and review the git diff.",
        pytrace=False,
    )
