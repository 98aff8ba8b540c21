"""CloudFront standard-log records as people paste them: W3C lines (with or without the `#Fields:`
header) and v2 JSON lines. Pure, and linear in the input's size.

A W3C field never contains white space (CloudFront percent-encodes it), so a line whose tabs a
terminal or chat client turned into spaces still splits right. Without a `#Fields:` header the
documented field order applies; older distributions log only its first 19, 24 or 26 fields.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

__all__ = [
    "DEFAULT_FIELDS",
    "LogRecord",
    "fields_header",
    "json_record",
    "parse_json_line",
    "parse_w3c",
]

# The documented order of the standard log's fields (AccessLogs, "Log file fields").
DEFAULT_FIELDS: tuple[str, ...] = (
    "date",
    "time",
    "x-edge-location",
    "sc-bytes",
    "c-ip",
    "cs-method",
    "cs(Host)",
    "cs-uri-stem",
    "sc-status",
    "cs(Referer)",
    "cs(User-Agent)",
    "cs-uri-query",
    "cs(Cookie)",
    "x-edge-result-type",
    "x-edge-request-id",
    "x-host-header",
    "cs-protocol",
    "cs-bytes",
    "time-taken",
    "x-forwarded-for",
    "ssl-protocol",
    "ssl-cipher",
    "x-edge-response-result-type",
    "cs-protocol-version",
    "fle-status",
    "fle-encrypted-fields",
    "c-port",
    "time-to-first-byte",
    "x-edge-detailed-result-type",
    "sc-content-type",
    "sc-content-len",
    "sc-range-start",
    "sc-range-end",
)
_RESULT_INDEX = DEFAULT_FIELDS.index("x-edge-result-type")
# The fields a decoding reads; the others are not kept.
_WANTED = frozenset(
    {
        "date",
        "time",
        "x-edge-location",
        "cs-method",
        "cs(Host)",
        "cs-uri-stem",
        "sc-status",
        "x-edge-result-type",
        "x-edge-request-id",
        "x-host-header",
        "cs-protocol",
        "time-taken",
        "x-edge-response-result-type",
        "time-to-first-byte",
        "x-edge-detailed-result-type",
    }
)
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}\Z")
_TIME = re.compile(r"\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?\Z")
_FIELDS_PREFIX = "#fields:"
MAX_VALUE = 2048  # a field longer than this is cut: it is shown, never interpreted


@dataclass(frozen=True)
class LogRecord:
    """The fields of one request's log record that a decoding needs (absent: not logged, or `-`).

    Attributes:
        fields: field name (as CloudFront names it, e.g. `cs(Host)`) -> value.
    """

    fields: Mapping[str, str]

    def get(self, name: str) -> str | None:
        return self.fields.get(name)

    @property
    def result_type(self) -> str | None:
        """The most specific result type logged: the detailed one, else the result type."""
        return self.get("x-edge-detailed-result-type") or self.get("x-edge-result-type")

    @property
    def status(self) -> int | None:
        raw = self.get("sc-status")
        if raw is None or not raw.isascii() or not raw.isdigit() or len(raw) != 3:
            return None
        return int(raw)


def _keep(pairs: Iterable[tuple[str, str]]) -> LogRecord:
    fields: dict[str, str] = {}
    for name, value in pairs:
        if name in _WANTED and value not in ("", "-"):
            fields[name] = value[:MAX_VALUE]
    return LogRecord(fields)


def fields_header(line: str) -> tuple[str, ...] | None:
    """The field names of a `#Fields:` line, or None when `line` is not one."""
    if not line[: len(_FIELDS_PREFIX)].lower() == _FIELDS_PREFIX:
        return None
    return tuple(line[len(_FIELDS_PREFIX) :].split())


def _looks_like_record(values: list[str], names: tuple[str, ...]) -> bool:
    """A record has a well-formed date and time when it logs them, and a result type or status."""
    by_name = dict(zip(names, values, strict=False))
    date, time = by_name.get("date"), by_name.get("time")
    if date is not None and not _DATE.match(date):
        return False
    if time is not None and not _TIME.match(time):
        return False
    return any(
        n in by_name for n in ("x-edge-result-type", "x-edge-detailed-result-type", "sc-status")
    )


def parse_w3c(lines: Iterable[str]) -> tuple[list[LogRecord], int]:
    """The records among `lines`, and how many non-comment lines were not records.

    A `#Fields:` line sets the names of the lines after it; before one, the documented order
    applies, and a line then needs at least the fields up to `x-edge-result-type`.
    """
    names: tuple[str, ...] | None = None
    records: list[LogRecord] = []
    other = 0
    for raw in lines:
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):
            header = fields_header(line)
            if header is not None:
                names = header
            continue
        values = line.split("\t") if "\t" in line else line.split()
        values = [v.strip() for v in values]
        use = names
        if use is None:
            if len(values) <= _RESULT_INDEX:
                other += 1
                continue
            use = DEFAULT_FIELDS
        if not _looks_like_record(values, use):
            other += 1
            continue
        records.append(_keep(zip(use, values, strict=False)))
    return records, other


def parse_json_line(line: str) -> LogRecord | None:
    """A v2 JSON record (one object per line, W3C field names as keys), or None."""
    try:
        data = json.loads(line)
    except (ValueError, RecursionError):  # RecursionError: hostile nesting
        return None
    return json_record(data)


def json_record(data: object) -> LogRecord | None:
    """A v2 JSON record already parsed (an object of W3C field names), or None."""
    if not isinstance(data, dict):
        return None
    pairs = [
        (str(k), _json_value(v))
        for k, v in data.items()
        if isinstance(k, str) and isinstance(v, str | int | float) and not isinstance(v, bool)
    ]
    record = _keep(pairs)
    if record.result_type is None and record.status is None:
        return None
    return record


def _json_value(value: str | int | float) -> str:
    # v2 JSON writes numbers as numbers (`"sc-status": 502`); W3C writes them as text.
    return value.strip() if isinstance(value, str) else str(value)
