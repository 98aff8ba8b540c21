"""Report -> the command-line contract's JSON. Pure."""

from __future__ import annotations

import json

from cf502.model import Report

__all__ = ["report_json"]


def report_json(report: Report) -> str:
    """One JSON object: the contract's fields (target, duration_ms, checks, verdict) and more."""
    return json.dumps(report.to_dict(), ensure_ascii=False, indent=2, sort_keys=True)
