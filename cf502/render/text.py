"""Report -> text for the terminal. Pure: no printing, no terminal detection here.

Every line fits the width given (the terminal's): prose wraps under its label, and the equivalent
commands break between options with ` \\` continuations (`cf502.render.wrap`), so they still
paste into a shell. The verdict and the fix of the likely cause come first, then one line per
check with the details of every problem.
"""

from __future__ import annotations

from collections.abc import Sequence

from cf502.model import CheckResult, Report, Status
from cf502.render.cloudfront import served_lines
from cf502.render.wrap import clean, wrap_command, wrap_text
from cf502.target import Target

__all__ = ["SYMBOLS", "progress_line", "progress_start", "report_text", "status_word"]

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


def _colored(line: str, status: Status, at: int, *, color: bool) -> str:
    """`line` with the status word at column `at` coloured (wrapping measured it uncoloured)."""
    if not color:
        return line
    word = status_word(status, color=False)
    return line[:at] + status_word(status, color=True) + line[at + len(word) :]


def _check_lines(check: CheckResult, *, color: bool, verbose: bool, width: int) -> list[str]:
    first = f"  {status_word(check.status, color=False)} {check.id:<18} "
    lines = wrap_text(clean(check.summary), width, first)
    lines[0] = _colored(lines[0], check.status, 2, color=color)
    detailed = verbose or check.status in (Status.FAIL, Status.WARN, Status.ERROR)
    if not detailed:
        return lines
    pad = " " * 8
    for ev in check.evidence:
        lines += wrap_text(clean(ev.value), width, f"{pad}{clean(ev.label)}: ", pad + "  ")
    if check.remediation:
        lines += wrap_text(clean(check.remediation), width, f"{pad}fix: ")
    if check.status is not Status.PASS or verbose:
        for cmd in check.commands:
            lines += wrap_command(clean(cmd), width, f"{pad}$ ", pad)
    return lines


def _names(report: Report) -> str:
    """The target as typed (Unicode) and, when it differs, as DNS sees it (punycode)."""
    host = str(report.target.get("host", "?"))
    try:
        shown = Target.from_dict(report.target).display_host
    except (KeyError, TypeError, ValueError):
        shown = host
    return host if shown == host else f"{shown}, in DNS {host}"


def report_text(
    report: Report, *, color: bool = False, verbose: bool = False, width: int = 80
) -> str:
    """The human report in lines of at most `width` columns: the verdict and the fix first, then
    one line per check (details for problems)."""
    if report.distribution is not None:  # a site read from AWS: the distribution, then its origins
        # Imported here: the distribution's report is built from this module's pieces.
        from cf502.render.distribution import distribution_text

        return distribution_text(report, color=color, verbose=verbose, width=width)
    v = report.verdict
    head = f"cf502: {clean(_names(report))}"
    if report.addresses:
        head += f" ({', '.join(report.addresses)})"
    lines = [*wrap_text(head, width, rest="  "), ""]
    for line in served_lines(report):  # what the target is, first
        lines += wrap_text(clean(line), width, rest="  ")
    word = status_word(v.status, color=False).strip()
    verdict = wrap_text(clean(v.summary), width, f"Verdict: {word}  ")
    verdict[0] = _colored(verdict[0], v.status, len("Verdict: "), color=color)
    lines += verdict
    if v.cloudfront_status is not None:
        # The edge's own answer is seen, not predicted.
        seen = v.likely_cause == "cloudfront.edge"
        predicted = f"{'' if seen else 'Predicted '}CloudFront response: {v.cloudfront_status}"
        if v.cloudfront_error:
            predicted += f" (log x-edge-detailed-result-type: {v.cloudfront_error})"
        lines += wrap_text(predicted, width, rest="  ")
    if v.likely_cause:
        lines.append(f"Likely cause: {v.likely_cause}")
        cause = report.check(v.likely_cause)
        if cause is not None and cause.remediation:
            lines += wrap_text(clean(cause.remediation), width, "Fix: ")
    lines.append("")
    lines.append("Checks:")
    for check in report.checks:
        lines.extend(_check_lines(check, color=color, verbose=verbose, width=width))
    lines.append("")
    counts: dict[Status, int] = {}
    for check in report.checks:
        counts[check.status] = counts.get(check.status, 0) + 1
    tally = ", ".join(
        f"{n} {s.value}" for s, n in sorted(counts.items(), key=lambda kv: -kv[0].rank)
    )
    lines.append(f"{len(report.checks)} checks ({tally}) in {report.duration_ms} ms")
    return "\n".join(lines) + "\n"


def progress_start(host: str, width: int = 80) -> str:
    """The progress display before any check has finished: the name comes first."""
    return f"checking: resolving {host}"[: max(width - 1, 1)]


def progress_line(done: int, total: int, waiting: Sequence[str], width: int = 80) -> str:
    """One line for the live progress display on a terminal: what the diagnosis waits for."""
    line = f"checking: {done}/{total} done"
    if waiting:
        more = f" (+{len(waiting) - 1} more)" if len(waiting) > 1 else ""
        line += f", waiting for {waiting[0]}{more}"
    return line[: max(width - 1, 1)]
