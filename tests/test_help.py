"""`--help` tells a new user what they need: `cf502 check --help` has examples, the exit codes and
every check id of the registry; `cf502 bot --help` names the variables the bot reads, from their
declarations; both fit an 80-column terminal."""

from __future__ import annotations

import os
import subprocess
import sys

from bot.settings import SETTINGS
from cf502.checks import CHECK_IDS
from cf502.checks.catalog import CATALOG


def help_of(*command: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "cf502", *command, "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        env={**os.environ, "COLUMNS": "80"},
    )
    assert done.stderr == ""
    return done.stdout


def test_the_catalog_lists_the_registrys_checks_in_its_order() -> None:
    assert tuple(check_id for check_id, _ in CATALOG) == CHECK_IDS


def test_check_help_has_examples_exit_codes_and_every_check_id() -> None:
    text = help_of("check")
    assert max(len(line) for line in text.splitlines()) <= 80
    examples = text.split("examples:\n", 1)[1].split("\n\n", 1)[0].splitlines()
    commands = [line.strip() for line in examples if not line.strip().startswith("#")]
    assert len(commands) >= 4 and all(c.startswith("cf502 check ") for c in commands)
    assert any("--origin" in c for c in commands) and any("--only" in c for c in commands)
    status = text.split("exit status:\n", 1)[1].split("\n\n", 1)[0]
    assert [line.split()[0] for line in status.splitlines()] == ["0", "1", "2", "3"]
    ids = text.split("check ids (for --only), upstream first:\n", 1)[1].splitlines()
    assert tuple(line.split()[0] for line in ids if line.strip()) == CHECK_IDS


def test_bot_help_names_every_variable_the_bot_reads() -> None:
    text = help_of("bot")
    assert max(len(line) for line in text.splitlines()) <= 80
    required = text.split("  required:\n", 1)[1].split("  optional", 1)[0]
    needed = {s.name for s in SETTINGS if s.default is None}
    assert needed == {"SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SLACK_SIGNING_SECRET"}
    for name in needed:
        assert f"    {name} (" in required
    assert "SLACK_APP_TOKEN (Socket Mode, the default)" in required
    assert "SLACK_SIGNING_SECRET (HTTP mode, --http)" in required
    words = " ".join(text.split())
    for spec in SETTINGS:
        assert spec.name in words
