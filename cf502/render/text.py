"""Report -> text for the terminal. Pure: no printing, no terminal detection here."""

from __future__ import annotations

from cf502.model import CheckResult, Report, Status
from cf502.render.cloudfront import served_lines

__all__ = ["SYMBOLS", "progress_line", "report_text", "status_word"]

SYMBOLS = {
    Status.PASS: "PASS",
    Status.WARN: "WARN",
    Status.FAIL: "FAIL",
    Status.ERROR: "ERROR",
    Status.SKIP: "skip",
}
_COLOURS = {
    Status.PASS: "32",  # green
    Status.WARN: "33",  # yellow
    Status.FAIL: "31;1",  # bold red
    Status.ERROR: "35",  # magenta
    Status.SKIP: "2",  # dim
}


def status_word(status: Status, *, color: bool) -> str:
    word = f"{SYMBOLS[status]:<5}"
    return f"\x1b[{_COLOURS[status]}m{word}\x1b[0m" if color else word


def _clean(text: str) -> str:
    """Origin-supplied text must not drive the terminal (no escape sequences, one line)."""
    return "".join(ch if ch.isprintable() else " " for ch in text)


def _check_lines(check: CheckResult, *, color: bool, verbose: bool) -> list[str]:
    lines = [f"  {status_word(check.status, color=color)} {check.id:<18} {_clean(check.summary)}"]
    detailed = verbose or check.status in (Status.FAIL, Status.WARN, Status.ERROR)
    if not detailed:
        return lines
    pad = " " * 8
    for ev in check.evidence:
        lines.append(f"{pad}{_clean(ev.label)}: {_clean(ev.value)}")
    if check.remediation:
        lines.append(f"{pad}fix: {_clean(check.remediation)}")
    if check.status is not Status.PASS or verbose:
        for cmd in check.commands:
            lines.append(f"{pad}$ {_clean(cmd)}")
    return lines


def report_text(report: Report, *, color: bool = False, verbose: bool = False) -> str:
    """The human report: the verdict first, then one line per check (details for problems)."""
    v = report.verdict
    target = report.target.get("host", "?")
    head = f"cf502: {target}"
    if report.addresses:
        head += f" ({', '.join(report.addresses)})"
    lines = [head, ""]
    lines.extend(_clean(line) for line in served_lines(report))  # what the target is, first
    verdict = f"Verdict: {status_word(v.status, color=color).strip()}  {_clean(v.summary)}"
    lines.append(verdict)
    if v.cloudfront_status is not None:
        # The edge's own answer is seen, not predicted.
        seen = v.likely_cause == "cloudfront.edge"
        predicted = f"{'' if seen else 'Predicted '}CloudFront response: {v.cloudfront_status}"
        if v.cloudfront_error:
            predicted += f" (log x-edge-detailed-result-type: {v.cloudfront_error})"
        lines.append(predicted)
    if v.likely_cause:
        lines.append(f"Likely cause: {v.likely_cause}")
    lines.append("")
    lines.append("Checks:")
    for check in report.checks:
        lines.extend(_check_lines(check, color=color, verbose=verbose))
    lines.append("")
    counts: dict[Status, int] = {}
    for check in report.checks:
        counts[check.status] = counts.get(check.status, 0) + 1
    tally = ", ".join(
        f"{n} {s.value}" for s, n in sorted(counts.items(), key=lambda kv: -kv[0].rank)
    )
    lines.append(f"{len(report.checks)} checks ({tally}) in {report.duration_ms} ms")
    return "\n".join(lines) + "\n"


def progress_line(done: int, total: int, last: CheckResult | None) -> str:
    """One line for the live progress display on a terminal."""
    tail = f" - {last.id} {last.status.value}" if last else ""
    return f"checking... {done}/{total}{tail}"
