"""Run the demo: diagnose every demo origin with the real engine, concurrently."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from cf502.demo.lab import demo_lab
from cf502.demo.scenarios import Scenario
from cf502.engine import diagnose
from cf502.model import Report

__all__ = ["Outcome", "run_demo"]

# A bound on the whole demo, far above what it takes (about 3 s): it must never hang.
DEMO_DEADLINE = 30.0


@dataclass(frozen=True)
class Outcome:
    """One demo origin's diagnosis, and whether it found the fault planted there."""

    scenario: Scenario
    report: Report

    @property
    def found(self) -> bool:
        return self.report.verdict.likely_cause == self.scenario.expected


async def run_demo(scenarios: Sequence[Scenario]) -> list[Outcome]:
    """Start the demo's origins, diagnose each one, stop everything; outcomes in `scenarios` order."""
    async with asyncio.timeout(DEMO_DEADLINE), demo_lab(scenarios) as lab:
        reports = await asyncio.gather(
            *(diagnose(lab.target(s), lab.origin(s), lab.engine(s)) for s in scenarios)
        )
    return [Outcome(s, r) for s, r in zip(scenarios, reports, strict=True)]
