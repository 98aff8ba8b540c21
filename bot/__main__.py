"""`python -m bot`: run the Slack app; the same process entry as `cf502 bot`, which passes the
listeners in `handlers/` to `bot.run.start`."""

import sys

from cf502.cli import main

raise SystemExit(main(["bot", *sys.argv[1:]]))
