"""Write `.env.example` from `bot.settings.SETTINGS` (the Slack app's declarations and cf502's):
every setting, its default, whether it is a secret and when it is required, so the example can
never disagree with what the code reads.

    python -m bot.envdoc > .env.example     # regenerate after changing SETTINGS
    python -m bot.envdoc --check            # exit 1 when .env.example is out of date

tests/deploy/test_env_example.py runs the check, so a setting added to the code but not to the
example (or the other way round) fails the test suite.
"""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path

from bot.settings import SETTINGS, Mode, Setting

__all__ = ["EXAMPLE", "main", "render"]

EXAMPLE = Path(__file__).resolve().parents[1] / ".env.example"

_HEADER = """\
# cf502 settings. Copy to .env and fill in the secrets (marked "Secret": never commit them).
# The bot reads .env from its working directory; compose's env_file and the systemd units'
# EnvironmentFile hand the same file to every process. Real environment variables win over it.
#
# Settings left commented out take their default, shown after the =; uncomment to change one.
# `cf502 worker` reads REDIS_URL, the engine and safety settings (resolver, CA file,
# allow-private, DNS, timeout bounds) and the log and metrics ones; the bot reads them all.
#
# Generated from the declarations in cf502/settings/ and bot/settings.py by
# `python -m bot.envdoc > .env.example`: do not edit by hand.
"""


def _facts(spec: Setting) -> str | None:
    """ "Required ..." and/or "Secret"; None for an ordinary setting (its default is shown)."""
    facts: list[str] = []
    if spec.default is None:
        if spec.required_in:
            modes = " and ".join(f"{m} mode" for m in spec.required_in)
            others = " and ".join(m.value for m in Mode if m not in spec.required_in)
            facts.append(f"Required in {modes}" + (f" (unused in {others} mode)" if others else ""))
        else:
            facts.append("Required")
    if spec.secret:
        facts.append("Secret")
    return ". ".join(facts) + "." if facts else None


def _block(spec: Setting) -> str:
    lines = [f"# {line}" for line in textwrap.wrap(spec.help, width=97)]
    facts = _facts(spec)
    if facts is not None:
        lines.append(f"# {facts}")
    # Defaults stay commented out, so a copied file pins nothing the deployment (or a later
    # release) sets, e.g. the systemd units' CF502_METRICS_PORT.
    prefix = "# " if spec.default is not None else ""
    lines.append(f"{prefix}{spec.name}={spec.default or ''}")
    return "\n".join(lines)


def render(settings: Sequence[Setting] = SETTINGS) -> str:
    """The full text of `.env.example` for `settings`."""
    return _HEADER + "\n" + "\n\n".join(_block(spec) for spec in settings) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    if args == ["--check"]:
        current = EXAMPLE.read_text(encoding="utf-8") if EXAMPLE.is_file() else ""
        if current != render():
            sys.stderr.write(
                ".env.example is out of date: run `python -m bot.envdoc > .env.example`.\n"
            )
            return 1
        return 0
    if args:
        sys.stderr.write("usage: python -m bot.envdoc [--check]\n")
        return 2
    sys.stdout.write(render())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
