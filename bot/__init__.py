"""The cf502 Slack app: `/cf502`, mentions, live threaded reports, rerun/watch buttons.

`bot.app.build_app` wires Bolt to `handlers/`; `bot.run` starts it in Socket Mode or HTTP mode.
"""
