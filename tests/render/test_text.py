"""The terminal report fits the terminal: every golden scenario's report and hostile evidence at 80
(and 60) columns, the verdict and the fix first, the equivalent commands broken between options
with continuation lines that paste back into the same command, names as typed and in punycode."""

from __future__ import annotations

import itertools
import re
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from cf502.model import CheckResult, Evidence, Report, Status, Verdict
from cf502.render.text import progress_line, progress_start, report_text
from cf502.render.wrap import wrap_command
from cf502.shell import sh

GOLDEN = sorted((Path(__file__).parents[1] / "golden" / "reports").glob("*.json"))
COMMAND = re.compile(r"^ *\$ ")


def golden(path: Path) -> Report:
    return Report.from_json(path.read_text(encoding="utf-8"))


def rejoin(lines: list[str]) -> str:
    """A wrapped command back on one line: a break between words becomes the one space it was, a
    cut inside quotes loses the quotes it closed and reopened, a bare cut disappears."""
    text = "\n".join(lines)
    text = re.sub(r" \\\n *", " ", text)
    return text.replace("'\\\n'", "").replace("\\\n", "")


def commands_in(text: str) -> list[list[str]]:
    """Each `$ command` of a report with its continuation lines (prefix removed)."""
    found: list[list[str]] = []
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if COMMAND.match(line):
            block = [COMMAND.sub("", line)]
            j = i
            while lines[j].endswith("\\"):
                j += 1
                block.append(lines[j])
            found.append(block)
    return found


def hostile() -> Report:
    """A report full of what an origin controls, as long and as strange as it gets."""
    long_name = ".".join(["a" * 63] * 3) + ".example"
    quoted = "it's a 'quoted' value; rm -rf / " * 12
    check = CheckResult(
        id="http.response",
        title="Origin answers with valid HTTP",
        status=Status.FAIL,
        summary="The origin answers \x1b[31m" + "x" * 500 + " and then " + "word " * 80,
        evidence=(
            Evidence("Server", "y" * 3000),
            Evidence("h" * 150, "value after a long label"),
            Evidence("body", "line1\nline2\r\n\tline3 " * 30),
        ),
        remediation="Fix " + "the origin " * 60,
        commands=(
            sh(
                "curl",
                "-sv",
                "--connect-to",
                f"{long_name}:443:192.0.2.1:443",
                "-H",
                quoted,
                f"https://{long_name}/" + "p" * 400,
            ),
            sh("dig", "+norec", "@192.0.2.53", long_name, "A"),
            sh("openssl", "s_client", "-cipher", ":".join(["ECDHE-RSA-AES128-GCM-SHA256"] * 40)),
        ),
        cloudfront_status=502,
        cloudfront_error="OriginInvalidResponseError",
    )
    return Report(
        target={"input": long_name, "host": long_name, "port": None, "scheme": None, "path": None},
        settings={},
        checks=(check,),
        verdict=Verdict(Status.FAIL, check.id, check.summary, 502, "OriginInvalidResponseError"),
        duration_ms=12,
        started_at="2026-06-01T12:00:00+00:00",
        addresses=tuple(f"2001:db8::{i}" for i in range(16)),
    )


REPORTS = [pytest.param(golden(p), id=p.stem) for p in GOLDEN] + [
    pytest.param(hostile(), id="hostile")
]


@pytest.mark.parametrize("report", REPORTS)
@pytest.mark.parametrize("width", [80, 60])
@pytest.mark.parametrize("verbose", [False, True])
def test_no_line_is_wider_than_the_terminal(report: Report, width: int, verbose: bool) -> None:
    text = report_text(report, verbose=verbose, width=width)
    wide = [line for line in text.splitlines() if len(line) > width]
    assert wide == []
    # And nothing the origin sent can drive the terminal
    assert "\x1b" not in text and "\r" not in text and "\t" not in text


@pytest.mark.parametrize("report", REPORTS)
def test_commands_rejoined_from_their_continuation_lines_are_the_original(report: Report) -> None:
    # Given a report's commands, When they are shown at 80 columns
    text = report_text(report, verbose=True, width=80)
    shown = commands_in(text)
    original = [cmd for check in report.checks for cmd in check.commands]
    # Then each one, its continuation lines joined back, is the command itself
    assert [rejoin(lines) for lines in shown] == original
    # And a break between words never parts an option from its value
    for lines in shown:
        for line, after in itertools.pairwise(lines):
            if line.endswith(" \\"):
                last = line[:-2].split()[-1]
                assert not last.startswith("-") or after.lstrip().startswith("-"), line


def test_a_shell_reads_the_wrapped_lines_as_the_same_words() -> None:
    # Given a command with quotes, spaces, an embedded quote and words longer than a line
    argv = [
        "--header", "X-Note: it's " + "quoted 'twice' " * 8,
        "--name", "n" * 150,
        "--cipher", ":".join(["ECDHE-RSA-AES256-GCM-SHA384"] * 6),
        "--empty", "", "--dollar", "$HOME `id` \\ \"x\"",
    ]  # fmt: skip
    lines = wrap_command(sh("printf", "%s\\0", *argv), 60, "", "")
    assert max(len(line) for line in lines) <= 60 and len(lines) > 4
    # When bash runs the lines as pasted, Then it sees exactly the original words
    done = subprocess.run(
        ["bash", "-c", "\n".join(lines)], capture_output=True, timeout=10, check=True
    )
    assert done.stdout.decode().split("\0")[:-1] == argv


def test_short_commands_stay_on_one_line() -> None:
    assert wrap_command("dig +short www.example.com A", 80) == ["$ dig +short www.example.com A"]


def test_the_verdict_and_the_fix_come_before_the_checks() -> None:
    report = golden(next(p for p in GOLDEN if p.stem == "closed-port"))
    lines = report_text(report, width=80).splitlines()
    assert lines[2].startswith("Verdict: FAIL")
    fix = next(i for i, line in enumerate(lines) if line.startswith("Fix: "))
    assert fix < lines.index("Checks:")
    cause = report.check(report.verdict.likely_cause or "")
    assert cause is not None
    joined = " ".join(" ".join(lines[fix:]).split())
    assert joined.startswith("Fix: " + " ".join(cause.remediation.split()))


def test_an_internationalised_name_is_shown_as_typed_and_in_punycode() -> None:
    report = golden(GOLDEN[0])
    idn = replace(
        report, target={**report.target, "input": "bücher.example", "host": "xn--bcher-kva.example"}
    )
    head = report_text(idn).splitlines()[0]
    assert head.startswith("cf502: bücher.example, in DNS xn--bcher-kva.example")
    # And an ASCII name once
    assert report_text(report).splitlines()[0].count(report.target["host"]) == 1


def test_colours_do_not_change_the_layout() -> None:
    report = golden(next(p for p in GOLDEN if p.stem == "expired-certificate"))
    plain = report_text(report, width=80)
    coloured = report_text(report, color=True, width=80)
    assert re.sub(r"\x1b\[[0-9;]*m", "", coloured) == plain
    assert "\x1b[31;1mFAIL" in coloured


def test_progress_names_what_the_diagnosis_waits_for() -> None:
    line = progress_line(9, 14, ["http.latency", "http.redirect", "cloudfront.edge"])
    assert line == "checking: 9/14 done, waiting for http.latency (+2 more)"
    assert progress_line(14, 14, []) == "checking: 14/14 done"
    assert progress_start("www.example.com") == "checking: resolving www.example.com"
    assert len(progress_start("a" * 300, 80)) < 80
