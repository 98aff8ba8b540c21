"""`cf502 decode`: explain what people paste in incidents (a CloudFront log line, a result-type or
`X-Cache` value, CloudFront's error page) and say which `cf502 check …` confirms it. Pure."""

from __future__ import annotations

from cf502.decode.explain import (
    JSON_KEYS,
    MAX_INPUT,
    MAX_LINES,
    Decoding,
    InputKind,
    NotRecognised,
    decode,
)

__all__ = [
    "JSON_KEYS",
    "MAX_INPUT",
    "MAX_LINES",
    "Decoding",
    "InputKind",
    "NotRecognised",
    "decode",
]
