"""Standard-log records as pasted: W3C with and without `#Fields:`, old shorter lines, tabs lost
to spaces, v2 JSON."""

from __future__ import annotations

from cf502.decode.logline import parse_json_line, parse_w3c
from tests.decode.logs import FIELDS, HEADER, REQUEST_ID, SITE, json_line, record, w3c


def test_a_line_with_its_header_gives_its_fields() -> None:
    records, other = parse_w3c([*HEADER.splitlines(), w3c("OriginDnsError", 502)])
    assert other == 0
    [rec] = records
    assert rec.result_type == "OriginDnsError"
    assert rec.status == 502
    assert rec.get("x-host-header") == SITE
    assert rec.get("cs-uri-stem") == "/api/orders"
    assert rec.get("x-edge-request-id") == REQUEST_ID
    assert rec.get("cs(Cookie)") is None  # not kept: a decoding never reads cookies


def test_without_the_header_the_documented_order_applies() -> None:
    [rec], _ = parse_w3c([w3c("OriginReadError", 502, host="shop.example.com")])
    assert (rec.result_type, rec.status) == ("OriginReadError", 502)
    assert rec.get("x-host-header") == "shop.example.com"
    assert rec.get("cs-protocol") == "https"


def test_an_older_26_field_line_falls_back_to_the_result_type() -> None:
    values = record("OriginConnectError", 502)
    line = "\t".join(values[name] for name in FIELDS[:26])
    [rec], _ = parse_w3c([line])
    assert rec.get("x-edge-detailed-result-type") is None
    assert rec.result_type == "Error"


def test_a_custom_field_order_is_read_from_its_header() -> None:
    names = ["sc-status", "x-host-header", "x-edge-detailed-result-type", "cs-uri-stem"]
    lines = ["#Fields: " + " ".join(names), "504\twww.example.com\tOriginCommError\t/slow"]
    [rec], _ = parse_w3c(lines)
    assert (rec.status, rec.result_type, rec.get("cs-uri-stem")) == (
        504,
        "OriginCommError",
        "/slow",
    )


def test_tabs_turned_into_spaces_still_split_right() -> None:
    line = w3c("OriginConnectError", 502).replace("\t", "   ")
    [rec], _ = parse_w3c([line])
    assert rec.result_type == "OriginConnectError"
    assert rec.get("x-edge-request-id") == REQUEST_ID


def test_lines_that_are_not_records_are_counted_not_read() -> None:
    bad_date = w3c("OriginConnectError", 502, date="yesterday")
    records, other = parse_w3c([bad_date, "hello world", "a\tb\tc"])
    assert records == []
    assert other == 3


def test_a_v2_json_record_with_numbers() -> None:
    rec = parse_json_line(json_line("LambdaValidationError", 502))
    assert rec is not None
    assert (rec.result_type, rec.status) == ("LambdaValidationError", 502)
    assert rec.get("time-taken") == "0.012"


def test_json_that_is_not_a_record() -> None:
    assert parse_json_line('{"hello": "world"}') is None
    assert parse_json_line("[1, 2, 3]") is None
    assert parse_json_line('{"sc-status": true, "x-edge-result-type": ["Error"]}') is None
    assert parse_json_line("{" * 100_000) is None
    assert parse_json_line("[" * 100_000 + "]" * 100_000) is None  # too deep: not a crash
