"""Where diagnoses run: the job envelopes and the `Pool` interface (`jobs`), admission (`limits`),
the job function (`runjob`), the in-process pool (`local`), the Redis queue (`queue`) and the
worker loop that serves it (`worker`).

This layer sits on the engine (`cf502.engine`, `cf502.checks`) and the core modules; it imports
nothing from `cf502.ops`, `cf502.cli`, `bot` or `handlers` (tests/test_layers.py).
"""
