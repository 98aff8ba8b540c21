"""The cf502 Slack app: `/cf502`, mentions, live threaded reports, rerun/watch buttons.

`bot.services` holds what the listeners call (reports, reruns, watches, ...); `bot.app.build_bot`
wires Bolt to the listeners it is given; `bot.run` starts it in Socket Mode or HTTP mode.

Imports go downwards: `handlers/` (the listeners) import `bot`, and `bot` never imports `handlers/`;
the process entry `cf502 bot` (`cf502.cli.bot`, also run by `python -m bot`) joins the two.
"""
