"""The `tls.*` checks: `handshake.py` (`tls.handshake`), `cert.py` (the four `tls.cert.*`).

Private helpers: `_offer` (CloudFront's TLS offer as constants and contexts), `_wire` (ClientHello
builder and server-flight parser; pure), `_probe` (connection attempts; I/O only), `_observe` (the
shared observation of each address) and `_x509` (certificate helpers and the trust store).
"""
