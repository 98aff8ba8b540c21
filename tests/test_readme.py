"""The README shows the product first and stays inside the repository: its pictures exist (drawn by
scripts/pictures.py), its first command installs and runs the offline demo, every link resolves
in this tree, and every check id is in it."""

from __future__ import annotations

import re
from pathlib import Path

from cf502.checks.catalog import CATALOG

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)|<(https?://[^>]+)>")
PNG = b"\x89PNG\r\n\x1a\n"


def anchors() -> set[str]:
    headings = re.findall(r"^#+ (.+)$", README, flags=re.M)
    return {re.sub(r"[^\w\- ]", "", h).strip().lower().replace(" ", "-") for h in headings}


def test_it_opens_with_a_terminal_and_a_slack_picture_drawn_by_the_script() -> None:
    intro = README.split("\n## ", 1)[0]
    images = re.findall(r"!\[[^\]]+\]\(([^)]+)\)", intro)
    assert images == ["docs/terminal-report.png", "docs/slack-report.png"]
    for image in images:
        data = (ROOT / image).read_bytes()
        assert data.startswith(PNG) and len(data) > 10_000
    script = (ROOT / "scripts" / "pictures.py").read_text(encoding="utf-8")
    assert all(Path(image).name in script for image in images)


def test_the_first_commands_install_and_run_the_demo_then_the_tests() -> None:
    first = README.split("```sh\n", 1)[1].split("```", 1)[0]
    commands = [line for line in first.splitlines() if line and not line.startswith("#")]
    assert commands == [
        "python3 -m venv .venv && .venv/bin/pip install -q . && .venv/bin/cf502 demo",
        "bash scripts/test",
    ]
    before = README.split("```sh\n", 1)[0]
    assert "Python 3.11 or later" in before and "python3-venv" in before


def test_no_link_leaves_the_repository() -> None:
    for target, url in LINK.findall(README):
        assert not url, f"a link out of the repository: {url}"
        if target.startswith("#"):
            assert target[1:] in anchors(), target
            continue
        assert "://" not in target, target
        path = (ROOT / target.split("#")[0]).resolve()
        assert path.is_relative_to(ROOT) and path.exists(), target
    assert (ROOT / "LICENSE").is_file() and (ROOT / "docs" / "cli.md").is_file()


def test_every_check_id_is_described() -> None:
    for check_id, _ in CATALOG:
        assert f"`{check_id}`" in README, check_id
