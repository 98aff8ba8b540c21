"""The `dns.*` checks: `resolve.py` (`dns.resolve`), `authoritative.py` (`dns.authoritative`).

Private helpers: `_lookup` (the DNS I/O, under the diagnosis's DNS deadline) and `_wire` (reading
answers; pure).
"""
