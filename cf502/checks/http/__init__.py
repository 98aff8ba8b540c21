"""The `http.*` checks, one module each: `response.py`, `headers.py`, `latency.py`, `redirect.py`.

All four judge the same observation: one request per protocol the origin protocol policy uses and
per vetted address (`_exchange.origin_exchanges`), so a diagnosis sends each request once. Private
helpers: `_wire` (the request as CloudFront writes it, a bounded h11 parser; pure), `_exchange`
(one timed request/response; I/O), `_report` (findings merged into one result; pure) and `_check`
(the shape the four checks share).
"""
