"""The demo's output: one line per demo origin, and its JSON form. Pure: outcomes in, text out."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from cf502.demo.run import Outcome
from cf502.render.text import status_word
from cf502.render.wrap import wrap_text

__all__ = ["summary_json", "summary_text"]


def _cloudfront(outcome: Outcome) -> str:
    verdict = outcome.report.verdict
    if verdict.cloudfront_status is None:
        return "-"
    return " ".join(str(p) for p in (verdict.cloudfront_status, verdict.cloudfront_error) if p)


def summary_text(
    outcomes: Sequence[Outcome], seconds: float, *, color: bool = False, width: int = 80
) -> str:
    """The table of verdicts, a line for any origin whose planted fault was not the one found,
    and how to see one report in full."""
    broken = sum(1 for o in outcomes if o.scenario.expected)
    column = max([len("ORIGIN"), *(len(o.scenario.name) for o in outcomes)])
    lines = [
        f"cf502 demo: {len(outcomes)} origins on loopback ({broken} broken on purpose), "
        f"diagnosed in {seconds:.1f} s",
        "",
        f"  {'ORIGIN':<{column}}  VERDICT  {'LIKELY CAUSE':<18}  CLOUDFRONT ANSWERS",
    ]
    for o in outcomes:
        verdict = o.report.verdict
        word = status_word(verdict.status, color=color)
        cause = verdict.likely_cause or "-"
        lines.append(f"  {o.scenario.name:<{column}}  {word}    {cause:<18}  {_cloudfront(o)}")
    missed = [o for o in outcomes if not o.found]
    if missed:
        lines.append("")
        for o in missed:
            found = o.report.verdict.likely_cause or "nothing"
            lines += wrap_text(
                f"{o.scenario.name} ({o.scenario.fault}): the diagnosis found {found}, not "
                f"{o.scenario.expected or 'nothing'}.",
                width,
                "Unexpected: ",
                "  ",
            )
    if outcomes:
        example = next((o for o in outcomes if o.scenario.expected), outcomes[0]).scenario.name
        lines += ["", f"The full report of one: cf502 demo --show {example}"]
    return "\n".join(lines) + "\n"


def summary_json(outcomes: Sequence[Outcome]) -> str:
    """Every demo origin with its fault and its report (the report as `cf502 check --json`)."""
    origins: list[dict[str, Any]] = [
        {
            "name": o.scenario.name,
            "fault": o.scenario.fault,
            "expected_cause": o.scenario.expected,
            "found": o.found,
            "report": o.report.to_dict(),
        }
        for o in outcomes
    ]
    return json.dumps({"origins": origins}, ensure_ascii=False, sort_keys=True)
