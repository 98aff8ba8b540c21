"""The checks, one module per family (names, ports, handshake, certificate, response, edge)."""
