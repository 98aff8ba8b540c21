"""`python -m bot`: run the Slack app (same as `cf502 bot`)."""

from bot.run import main

raise SystemExit(main())
