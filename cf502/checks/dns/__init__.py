"""The `dns.*` checks: `resolve.py` (`dns.resolve`), `authoritative.py` (`dns.authoritative`).

Private helpers: `_lookup` (the DNS I/O, under the diagnosis's DNS deadline) and `_wire` (reading
answers; pure). `_dnspython` decides dnspython's import-time features first (see there).
"""

from cf502.checks.dns._dnspython import load_features

load_features()
