"""`python -m cf502.ops.healthprobe`: exit 0 when this container's process answers /healthz.

The container image's HEALTHCHECK runs it, for the bot and the worker alike: both serve /healthz on
the metrics port ($CF502_METRICS_PORT, default 9102). Standard library only, one request, a short
deadline.
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request

__all__ = ["DEFAULT_PORT", "main", "probe"]

DEFAULT_PORT = 9102


def probe(port: int, timeout: float = 3.0) -> str | None:
    """None when http://127.0.0.1:port/healthz answers 200, else the reason."""
    url = f"http://127.0.0.1:{port}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            if resp.status == 200:
                return None
            return f"{url} answered {resp.status}"
    except urllib.error.HTTPError as exc:
        return f"{url} answered {exc.code}"
    except (OSError, ValueError) as exc:
        return f"{url} did not answer: {exc}"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    raw = args[0] if args else os.environ.get("CF502_METRICS_PORT", str(DEFAULT_PORT))
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= 65535:
        print(f"cf502 healthcheck: port {raw!r} is not a TCP port.", file=sys.stderr)
        return 2
    problem = probe(int(raw))
    if problem is not None:
        print(f"cf502 healthcheck: {problem}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
