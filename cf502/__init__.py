"""cf502: find out why CloudFront answers 502/504 for an origin, the way CloudFront connects."""

__version__ = "0.1.0"
