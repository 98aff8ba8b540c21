"""What a pasted CloudFront log line, header value or error page means. Pure; linear in the input.

`decode(text)` recognises the input (see `InputKind`), looks its result type up in
`cf502.cloudfront_errors` and builds the `cf502 check …` line to run. Several log lines at once are
counted by result type and the one that matters is explained: the most frequent error, 5xx first.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from http import HTTPStatus
from typing import Any

from cf502.cloudfront_errors import EdgeCause, cause_for, page_cause
from cf502.decode.command import check_command
from cf502.decode.logline import LogRecord, json_record, parse_json_line, parse_w3c
from cf502.decode.pasted import Headers, Page, parse_headers, parse_page, result_type_value
from cf502.errors import Cf502Error

__all__ = [
    "JSON_KEYS",
    "MAX_INPUT",
    "MAX_LINES",
    "Decoding",
    "InputKind",
    "NotRecognised",
    "decode",
]

MAX_INPUT = 1024 * 1024  # characters read; a day of logs belongs in Athena, not here
MAX_LINES = 10_000
MAX_COUNTS = 10  # result types listed when several lines are pasted; the rest are "other"
JSON_KEYS = ("input_kind", "result_type", "cloudfront_status", "cause", "checks", "command")
WHAT_IT_READS = (
    "a CloudFront log line (W3C or JSON), an x-edge-detailed-result-type or x-edge-result-type "
    "value, an X-Cache value or CloudFront's error page"
)


class NotRecognised(Cf502Error):
    """Raised when the input is none of the things `decode` reads (one line, user-safe)."""


class InputKind(StrEnum):
    W3C_LOG = "w3c-log"
    JSON_LOG = "json-log"
    RESULT_TYPE = "result-type"
    X_CACHE = "x-cache"
    ERROR_PAGE = "error-page"


@dataclass(frozen=True)
class Decoding:
    """What the input means.

    Attributes:
        input_kind: what the input was recognised as.
        result_type: the result type it names (e.g. "OriginConnectError"), or None.
        cloudfront_status: the status CloudFront answered (logged or shown), else the usual one
            for the result type, or None.
        cause / next_step: in words.
        checks: the cf502 check ids that confirm the cause.
        command: the `cf502 check …` line to run, shell-quoted.
        facts: (label, value) pairs read from the input (request, edge location, request id...).
        notes: what to know about the command or the input, one sentence each.
        counts: (result type, lines) when several log lines were pasted, most frequent first.
    """

    input_kind: InputKind
    result_type: str | None
    cloudfront_status: int | None
    cause: str
    checks: tuple[str, ...]
    command: str
    next_step: str = ""
    facts: tuple[tuple[str, str], ...] = ()
    notes: tuple[str, ...] = ()
    counts: tuple[tuple[str, int], ...] = ()

    @property
    def headline(self) -> str:
        """`OriginConnectError · 502 Bad Gateway`: the result type and the status, as known."""
        status = ""
        if self.cloudfront_status is not None:
            try:
                status = f"{self.cloudfront_status} {HTTPStatus(self.cloudfront_status).phrase}"
            except ValueError:
                status = str(self.cloudfront_status)
        return " · ".join(p for p in (self.result_type or "CloudFront error", status) if p)

    def to_json(self) -> dict[str, Any]:
        """The contract's JSON object: exactly JSON_KEYS."""
        return {
            "input_kind": self.input_kind.value,
            "result_type": self.result_type,
            "cloudfront_status": self.cloudfront_status,
            "cause": self.cause,
            "checks": list(self.checks),
            "command": self.command,
        }


def _unknown(result_type: str) -> EdgeCause:
    return EdgeCause(
        result_type,
        (),
        f"CloudFront logged the result type {result_type}, which cf502 does not know.",
        next_step="Run the command below: it asks the site the way a viewer does.",
    )


def _explained(
    kind: InputKind,
    cause: EdgeCause | None,
    *,
    status: int | None = None,
    host: str | None = None,
    path: str | None = None,
    protocol: str | None = None,
    facts: Sequence[tuple[str, str]] = (),
    notes: Sequence[str] = (),
    counts: Sequence[tuple[str, int]] = (),
) -> Decoding:
    origin_side = cause is None or cause.origin_side or cause.result_type == "Error"
    command = check_command(host, path, protocol, origin_side=origin_side)
    if cause is None:
        text = (
            f"CloudFront answered {status}, but the input does not say why."
            if status is not None
            else "CloudFront answered with an error, but the input does not say which."
        )
        return Decoding(
            kind,
            None,
            status,
            text,
            ("cloudfront.edge",),
            command.line,
            "Run the command below: it asks the site the way a viewer does and decodes the answer.",
            tuple(facts),
            (*notes, *command.notes),
            tuple(counts),
        )
    extra: list[str] = []
    if cause.result_type == "OriginConnectError" and status == 504:
        extra.append(
            "CloudFront answered 504: its connection attempts timed out (packets dropped, e.g. by "
            "a firewall) rather than being refused"
        )
    return Decoding(
        kind,
        cause.result_type,
        status if status is not None else cause.status,
        cause.cause,
        cause.checks,
        command.line,
        cause.next_step,
        tuple(facts),
        (*extra, *notes, *command.notes),
        tuple(counts),
    )


# -- log records ----------------------------------------------------------------------------------


def _cause_of(record: LogRecord) -> EdgeCause | None:
    """The detailed result type's cause; the result type's when the detail is unknown."""
    detailed = record.get("x-edge-detailed-result-type")
    plain = record.get("x-edge-result-type")
    for value in (detailed, plain):
        if value and (cause := cause_for(value)) is not None:
            return cause
    value = detailed or plain
    return _unknown(value) if value else None


def _key(record: LogRecord) -> str:
    cause = _cause_of(record)
    return cause.result_type if cause is not None else "-"


def _pick(records: Sequence[LogRecord]) -> tuple[LogRecord, tuple[tuple[str, int], ...]]:
    """The record that matters (the most frequent error type, 5xx first) and the counts."""
    keys = [_key(r) for r in records]
    counts = Counter(keys)
    server_error = {k for k, r in zip(keys, records, strict=True) if (r.status or 0) >= 500}

    def rank(key: str) -> tuple[bool, bool, int]:
        cause = cause_for(key)
        is_error = key != "-" and (cause is None or cause.error)
        return (is_error, key in server_error, counts[key])

    best = max(counts, key=rank)  # the first seen among equals: Counter keeps insertion order
    record = records[keys.index(best)]
    if len(records) == 1:
        return record, ()
    ordered = sorted(counts.items(), key=lambda kv: -kv[1])
    if len(ordered) > MAX_COUNTS:  # hostile logs may hold thousands of made-up types
        rest = sum(n for _, n in ordered[MAX_COUNTS - 1 :])
        ordered = [*ordered[: MAX_COUNTS - 1], ("other", rest)]
    return record, tuple(ordered)


def _record_facts(record: LogRecord) -> list[tuple[str, str]]:
    facts: list[tuple[str, str]] = []
    host = record.get("x-host-header") or record.get("cs(Host)")
    method, path = record.get("cs-method"), record.get("cs-uri-stem")
    protocol = record.get("cs-protocol")
    if host or path:
        url = f"{protocol}://{host}{path or ''}" if protocol and host else f"{host or ''}{path}"
        facts.append(("Request", f"{method} {url}" if method else url))
    if record.get("date") and record.get("time"):
        facts.append(("When", f"{record.get('date')} {record.get('time')} UTC"))
    for label, name in (
        ("Edge location", "x-edge-location"),
        ("Request ID", "x-edge-request-id"),
        ("Time taken", "time-taken"),
        ("First byte", "time-to-first-byte"),
    ):
        value = record.get(name)
        if value:
            facts.append((label, f"{value} s" if name.startswith("time") else value))
    return facts


def _from_records(kind: InputKind, records: Sequence[LogRecord], notes: Sequence[str]) -> Decoding:
    record, counts = _pick(records)
    cause = _cause_of(record)
    detailed = record.get("x-edge-detailed-result-type")
    if (
        detailed
        and cause is not None
        and cause_for(detailed) is None
        and cause.result_type != detailed
    ):
        notes = [
            *notes,
            f"the detailed result type {detailed[:64]} is not one cf502 knows: this explains "
            f"the result type {cause.result_type}",
        ]
    return _explained(
        kind,
        cause,
        status=record.status,
        host=record.get("x-host-header") or record.get("cs(Host)"),
        path=record.get("cs-uri-stem"),
        protocol=record.get("cs-protocol"),
        facts=_record_facts(record),
        notes=notes,
        counts=counts,
    )


def _json_records(text: str, lines: Sequence[str]) -> list[LogRecord]:
    stripped = text.strip()
    if stripped[:1] in ("{", "[") and "\n" in stripped:
        # A pretty-printed object, or a JSON array of records (as a console exports them).
        try:
            data = json.loads(stripped)
        except (ValueError, RecursionError):
            data = None
        items = data if isinstance(data, list) else [data] if isinstance(data, dict) else []
        found = [json_record(item) for item in items[:MAX_LINES]]
        records = [r for r in found if r is not None]
        if records:
            return records
    parsed = (parse_json_line(line) for line in lines if line.lstrip().startswith("{"))
    return [r for r in parsed if r is not None]


# -- the other inputs -----------------------------------------------------------------------------


def _from_page(page: Page, headers: Headers | None, notes: Sequence[str]) -> Decoding:
    status = page.status or (headers.status if headers else None)
    cause = page_cause(page.reason, status) if page.reason else None
    facts: list[tuple[str, str]] = []
    if page.reason:
        facts.append(("Page says", page.reason))
    request_id = page.request_id or (headers.request_id if headers else None)
    if headers and headers.pop:
        facts.append(("Edge location", headers.pop))
    if request_id:
        facts.append(("Request ID", request_id))
    return _explained(InputKind.ERROR_PAGE, cause, status=status, facts=facts, notes=notes)


def _from_headers(headers: Headers, notes: Sequence[str]) -> Decoding:
    cause = cause_for(headers.x_cache) or _unknown(headers.x_cache)
    facts = [("X-Cache", f"{headers.x_cache} from cloudfront")]
    facts += [
        (k, v) for k, v in (("Edge location", headers.pop), ("Request ID", headers.request_id)) if v
    ]
    notes = list(notes)
    if cause.result_type == "Error":
        notes.append(
            "X-Cache does not say which error: the log line's x-edge-detailed-result-type or "
            "the error page does"
        )
    return _explained(InputKind.X_CACHE, cause, status=headers.status, facts=facts, notes=notes)


def _lines(text: str, truncated: bool) -> tuple[list[str], list[str]]:
    """The input's lines within the caps, and notes on what was left out."""
    notes: list[str] = []
    if truncated or len(text) > MAX_INPUT:
        # The last line was cut short: leave it out rather than misread it.
        text = text[:MAX_INPUT].rpartition("\n")[0] or text[:MAX_INPUT]
        notes.append(f"only the first {MAX_INPUT // 1024} KiB of the input were read")
    lines = text.splitlines()
    if len(lines) > MAX_LINES:
        lines = lines[:MAX_LINES]
        notes.append(f"only the first {MAX_LINES:,} lines were read")
    return lines, notes


def decode(text: str, *, truncated: bool = False) -> Decoding:
    """Explain `text`; raises NotRecognised (one line) when it is none of the things decoded.

    `truncated`: the caller read only the start of a longer input (its last line may be cut).
    """
    if not text.strip():
        raise NotRecognised(f"Nothing to decode: paste {WHAT_IT_READS}.")
    lines, notes = _lines(text, truncated)
    body = "\n".join(lines)
    page = parse_page(body)
    if page is not None:
        return _from_page(page, parse_headers(lines[:100]), notes)
    records = _json_records(body, lines)
    if records:
        return _from_records(InputKind.JSON_LOG, records, notes)
    records, _ = parse_w3c(lines)
    if records:
        return _from_records(InputKind.W3C_LOG, records, notes)
    content = [line for line in lines if line.strip()]
    headers = parse_headers(content[:100]) if len(content) <= 100 else None
    if headers is not None:
        return _from_headers(headers, notes)
    if len(content) == 1 and (value := result_type_value(content[0])) is not None:
        cause = cause_for(value)
        return _explained(InputKind.RESULT_TYPE, cause, notes=notes)
    first = content[0].strip() if content else ""
    shown = first if len(first) <= 40 else first[:37] + "..."
    raise NotRecognised(f"{shown!r} is not something cf502 decode reads: paste {WHAT_IT_READS}.")
