"""Running cf502 as a service: structured logs (`logs`), Prometheus metrics (`metrics`), the
/healthz and /readyz endpoints (`health`) and the container's HEALTHCHECK command (`healthprobe`).

Above the pool layer: `metrics.JOB_METRICS` observes the pools' jobs through the `JobObserver` they
are given; nothing below imports this package (tests/test_layers.py).
"""
