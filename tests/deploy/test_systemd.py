"""deploy/systemd/: the units pass `systemd-analyze verify` and keep a low exposure score.

Skipped when systemd-analyze is not installed (Debian package `systemd`). ExecStart's
/opt/cf502/bin/cf502 is swapped for this checkout's installed `cf502` script, because verify
insists that the command exists and is executable.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.deploy.tools import DEPLOY, tool

UNITS = DEPLOY / "systemd"
INSTALLED = "/opt/cf502/bin/cf502"
# Instances to verify: the template's instance name is the worker's metrics port.
INSTANCES = ("cf502-bot.service", "cf502-worker@9103.service")

analyze = tool("systemd-analyze")
pytestmark = pytest.mark.skipif(analyze is None, reason="systemd-analyze is not installed")


def _cf502_script() -> str:
    script = Path(sys.executable).parent / "cf502"
    if not script.is_file():
        pytest.fail("the cf502 console script is not installed beside this Python")
    return str(script)


def _stage(tmp_path: Path, replace: tuple[str, str] | None = None) -> Path:
    for unit in UNITS.glob("*.service"):
        text = unit.read_text(encoding="utf-8").replace(INSTALLED, _cf502_script())
        if replace is not None:
            text = text.replace(*replace)
        (tmp_path / unit.name).write_text(text, encoding="utf-8")
    return tmp_path


def _verify(directory: Path, unit: str) -> subprocess.CompletedProcess[str]:
    assert analyze is not None
    return subprocess.run(
        [analyze, "verify", "--man=no", f"./{unit}"],
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_units_and_installation_path_agree() -> None:
    # Given the unit files
    names = sorted(p.name for p in UNITS.glob("*.service"))
    # Then there is the bot unit and the worker template, both starting the installed script
    assert names == ["cf502-bot.service", "cf502-worker@.service"]
    for name in names:
        text = (UNITS / name).read_text(encoding="utf-8")
        assert f"ExecStart={INSTALLED} " in text
        assert "EnvironmentFile=/etc/cf502/cf502.env" in text
        assert "DynamicUser=yes" in text


@pytest.mark.parametrize("unit", INSTANCES)
def test_unit_passes_systemd_analyze_verify(tmp_path: Path, unit: str) -> None:
    # Given the units staged with this checkout's cf502 script
    staged = _stage(tmp_path)
    # When systemd checks them
    proc = _verify(staged, unit)
    # Then it finds nothing: no error and no warning (unknown keys only warn)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.strip() == ""


def test_verify_reports_a_broken_unit(tmp_path: Path) -> None:
    # Given a unit with a misspelt directive and an invalid restart policy
    staged = _stage(tmp_path, ("Restart=on-failure", "Restart=sometimes\nRestrt=always"))
    # When systemd checks it
    proc = _verify(staged, "cf502-bot.service")
    # Then both are reported, so the clean result above means something
    assert "sometimes" in proc.stderr
    assert "Restrt" in proc.stderr


@pytest.mark.parametrize("unit", INSTANCES)
def test_unit_exposure_stays_low(tmp_path: Path, unit: str) -> None:
    # Given the units staged with this checkout's cf502 script
    staged = _stage(tmp_path)
    assert analyze is not None
    # When systemd scores the sandboxing (0 = fully locked down, 10 = unprotected)
    proc = subprocess.run(
        [analyze, "security", "--offline=yes", "--threshold=25", "--no-pager", f"./{unit}"],
        cwd=staged,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    # Then the overall exposure is at most 2.5 ("OK")
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr
    assert "Overall exposure level" in proc.stdout
