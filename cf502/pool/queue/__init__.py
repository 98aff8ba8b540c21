"""The Redis Streams job queue, split by who uses it.

* `config`: `QueueConfig` (clients and workers of one deployment must agree on it) and `connect`;
* `scripts`: the key layout and the Lua scripts, the only code that knows their KEYS and ARGV;
* `client`: `QueueClient`, the `Pool` the Slack app and `cf502 check --redis-url` submit to and
  follow jobs through;
* `consumer`: `QueueConsumer`, what `cf502.pool.worker.Worker` reads, heartbeats and finishes jobs
  with.
"""
