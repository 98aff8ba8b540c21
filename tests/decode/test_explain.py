"""`decode`: real log lines, header values and CloudFront's error page name the right cause, status,
confirming checks and `cf502 check` command."""

from __future__ import annotations

import json
import shlex

import pytest

from cf502.decode import JSON_KEYS, InputKind, NotRecognised, decode
from tests.decode.logs import DIST, HEADER, REQUEST_ID, SITE, json_line, w3c
from tests.servers.http import CF_ERROR_PAGE

TLS = {"tls.handshake", "tls.cert.expiry", "tls.cert.hostname", "tls.cert.trust", "tls.cert.chain"}


@pytest.mark.parametrize(
    ("detailed", "status", "words", "confirming"),
    [
        ("OriginConnectError", 502, "could not connect", {"tcp.https", *TLS}),
        ("OriginDnsError", 502, "resolve the origin", {"dns.resolve", "dns.authoritative"}),
        ("OriginCommError", 504, "timed out", {"tcp.https", "http.latency"}),
        ("OriginReadError", 502, "could not read", {"http.response"}),
        ("OriginInvalidResponseError", 502, "invalid HTTP response", {"http.response"}),
        ("OriginHeaderTooBigError", 502, "too big", {"http.headers"}),
    ],
)
def test_origin_side_errors_name_the_cause_the_checks_and_the_site_command(
    detailed: str, status: int, words: str, confirming: set[str]
) -> None:
    # Given a W3C line (with its header) of a request that ended in `detailed`
    text = f"{HEADER}\n{w3c(detailed, status)}\n"
    # When it is decoded
    d = decode(text)
    # Then it names the cause, the status CloudFront answered and the checks that confirm it
    assert d.input_kind is InputKind.W3C_LOG
    assert d.result_type == detailed
    assert d.cloudfront_status == status
    assert words in d.cause
    assert confirming <= set(d.checks)
    # And the command checks the site viewers asked for, at the logged path
    assert d.command == f"cf502 check {SITE} --path /api/orders"
    # And says the origin must be named, since no log line names it
    assert any("--origin NAME" in n for n in d.notes)
    assert ("Request ID", REQUEST_ID) in d.facts
    assert ("Edge location", "LHR61-P1") in d.facts


@pytest.mark.parametrize(
    ("detailed", "status", "words"),
    [
        ("LambdaExecutionError", 503, "Lambda@Edge function failed"),
        ("LambdaValidationError", 502, "Lambda@Edge function returned"),
        ("LambdaLimitExceeded", 503, "throttled"),
        ("FunctionExecutionError", 503, "CloudFront Function failed"),
        ("FunctionValidationError", 502, "CloudFront Function returned"),
        ("InvalidRequestBlocked", 403, "WAF"),
        ("ClientGeoBlocked", 403, "geographic"),
    ],
)
def test_edge_side_errors_point_at_the_edge_not_the_origin(
    detailed: str, status: int, words: str
) -> None:
    d = decode(w3c(detailed, status))  # no header: the documented order
    assert (d.result_type, d.cloudfront_status) == (detailed, status)
    assert words in d.cause
    assert d.checks == ("cloudfront.edge",)
    assert d.command == f"cf502 check {SITE} --path /api/orders"
    assert not any("--origin" in n for n in d.notes)


def test_a_v2_json_line() -> None:
    d = decode(json_line("OriginDnsError", 502, path="/"))
    assert d.input_kind is InputKind.JSON_LOG
    assert d.result_type == "OriginDnsError"
    assert d.command == f"cf502 check {SITE}"  # the root path is the default: no --path


def test_a_pretty_printed_json_record_and_an_array_of_them() -> None:
    one = json.dumps(json.loads(json_line("OriginCommError", 504)), indent=2)
    assert decode(one).result_type == "OriginCommError"
    many = "[" + ",\n".join(json_line("OriginReadError", 502) for _ in range(3)) + "]"
    d = decode(many)
    assert (d.result_type, d.counts) == ("OriginReadError", (("OriginReadError", 3),))


def test_the_log_status_wins_and_a_connect_timeout_is_told_apart() -> None:
    d = decode(w3c("OriginConnectError", 504, time_taken="30.001"))
    assert d.cloudfront_status == 504
    assert any("timed out" in n for n in d.notes)
    assert ("Time taken", "30.001 s") in d.facts


def test_many_lines_are_counted_and_the_most_frequent_5xx_error_explained() -> None:
    lines = [HEADER]
    lines += [w3c("Hit", 200, path="/static/app.js")] * 5
    lines += [w3c("ClientGeoBlocked", 403)] * 3
    lines += [w3c("OriginConnectError", 502, path="/api/cart")] * 2
    lines += [w3c("OriginDnsError", 502, path="/api/pay")] * 1
    d = decode("\n".join(lines))
    assert d.result_type == "OriginConnectError"
    assert d.command == f"cf502 check {SITE} --path /api/cart"
    assert d.counts == (
        ("Hit", 5),
        ("ClientGeoBlocked", 3),
        ("OriginConnectError", 2),
        ("OriginDnsError", 1),
    )


def test_only_successes_are_explained_as_such() -> None:
    d = decode("\n".join([w3c("Hit", 200)] * 2 + [w3c("Miss", 200)]))
    assert (d.result_type, d.cloudfront_status) == ("Hit", 200)
    assert d.checks == ()


def test_an_unknown_detailed_type_is_explained_by_its_result_type() -> None:
    d = decode(w3c("OriginReadTimeout", 504))
    assert d.result_type == "Error"
    assert d.cloudfront_status == 504
    assert any("OriginReadTimeout" in n for n in d.notes)


def test_the_distribution_domain_when_the_host_header_is_not_logged() -> None:
    d = decode(w3c("OriginConnectError", 502, host="-"))
    assert d.command == f"cf502 check {DIST} --path /api/orders"


def test_a_host_with_its_port_and_in_capitals() -> None:
    d = decode(w3c("OriginConnectError", 502, host="WWW.Example.COM:443"))
    assert d.command.startswith(f"cf502 check {SITE} ")


def test_hostile_host_and_path_are_never_run_by_a_shell() -> None:
    # Given a logged Host that is no DNS name and a path with shell syntax
    d = decode(w3c("OriginConnectError", 502, host="$(reboot)", path="/a;reboot&`id`'x"))
    # Then the host is a placeholder to replace, and the path one quoted argument
    argv = shlex.split(d.command)
    assert argv == ["cf502", "check", "SITE", "--path", "/a;reboot&`id`'x"]
    assert any("not a DNS name" in n for n in d.notes)


def test_a_plain_http_viewer_mentions_match_viewer() -> None:
    d = decode(w3c("OriginConnectError", 502, protocol="http"))
    assert any("--protocol-policy match-viewer" in n for n in d.notes)
    assert ("Request", f"GET http://{SITE}/api/orders") in d.facts


@pytest.mark.parametrize(
    ("text", "result_type", "status"),
    [
        ("OriginDnsError", "OriginDnsError", 502),
        ("origincommerror", "OriginCommError", 504),
        ("x-edge-detailed-result-type: OriginConnectError", "OriginConnectError", 502),
        ("x-edge-result-type=LimitExceeded", "LimitExceeded", 503),
        ("  LambdaValidationError\n", "LambdaValidationError", 502),
    ],
)
def test_result_type_values(text: str, result_type: str, status: int) -> None:
    d = decode(text)
    assert d.input_kind is InputKind.RESULT_TYPE
    assert (d.result_type, d.cloudfront_status) == (result_type, status)
    assert d.command.startswith("cf502 check SITE")  # no site in a bare value


@pytest.mark.parametrize(
    ("text", "result_type"),
    [
        ("Error from cloudfront", "Error"),
        ("X-Cache: Hit from cloudfront", "Hit"),
        ("x-cache: LambdaExecutionError from cloudfront", "LambdaExecutionError"),
        ("FunctionGeneratedResponse from cloudfront", "FunctionGeneratedResponse"),
    ],
)
def test_x_cache_values(text: str, result_type: str) -> None:
    d = decode(text)
    assert d.input_kind is InputKind.X_CACHE
    assert d.result_type == result_type


def test_x_cache_error_says_the_log_line_tells_more() -> None:
    d = decode("Error from cloudfront")
    assert any("x-edge-detailed-result-type" in n for n in d.notes)


def test_a_pasted_curl_header_block() -> None:
    text = (
        "HTTP/2 502\r\nserver: CloudFront\r\ncontent-type: text/html\r\n"
        "x-cache: Error from cloudfront\r\nvia: 1.1 abc.cloudfront.net (CloudFront)\r\n"
        f"x-amz-cf-pop: FRA56-P7\r\nx-amz-cf-id: {REQUEST_ID}\r\n"
    )
    d = decode(text)
    assert (d.input_kind, d.result_type, d.cloudfront_status) == (InputKind.X_CACHE, "Error", 502)
    assert ("Edge location", "FRA56-P7") in d.facts
    assert ("Request ID", REQUEST_ID) in d.facts


def test_cloudfront_error_page_html() -> None:
    d = decode(CF_ERROR_PAGE.decode())
    assert d.input_kind is InputKind.ERROR_PAGE
    assert (d.result_type, d.cloudfront_status) == ("OriginConnectError", 502)
    assert ("Page says", "CloudFront wasn't able to connect to the origin.") in d.facts
    assert ("Request ID", "3pZ1y0mFq7kq0x3v7Jd1sQbqk1K3cPZ0t8oHn0d7y1Qm2xk0w9bYcQ==") in d.facts


def test_a_504_page_with_the_same_words_is_a_timeout() -> None:
    page = CF_ERROR_PAGE.decode().replace("502 ERROR", "504 ERROR")
    d = decode(page)
    assert (d.result_type, d.cloudfront_status) == ("OriginCommError", 504)


def test_a_lambda_validation_page() -> None:
    page = CF_ERROR_PAGE.decode().replace(
        "CloudFront wasn't able to connect to the origin.",
        "The Lambda function result failed validation: The body is not a string.",
    )
    d = decode(page)
    assert (d.result_type, d.checks) == ("LambdaValidationError", ("cloudfront.edge",))


def test_the_page_as_a_browser_shows_it() -> None:
    text = (
        "502 ERROR\nThe request could not be satisfied.\n"
        "CloudFront wasn't able to connect to the origin. We can't connect to the server for "
        "this app or website at this time.\nGenerated by cloudfront (CloudFront)\n"
        "Request ID: abcDEF123==\n"
    )
    d = decode(text)
    assert (d.result_type, d.cloudfront_status) == ("OriginConnectError", 502)
    assert ("Request ID", "abcDEF123==") in d.facts


def test_the_json_object_has_exactly_the_contract_keys() -> None:
    d = decode(w3c("OriginDnsError", 502))
    assert tuple(d.to_json()) == JSON_KEYS
    assert d.to_json() == {
        "input_kind": "w3c-log",
        "result_type": "OriginDnsError",
        "cloudfront_status": 502,
        "cause": d.cause,
        "checks": ["dns.resolve", "dns.authoritative"],
        "command": f"cf502 check {SITE} --path /api/orders",
    }


@pytest.mark.parametrize(
    "text",
    ["", "   \n", "hello world", "OriginFooError", "Error from akamai", "www.example.com"],
)
def test_what_is_not_recognised_gets_one_line(text: str) -> None:
    with pytest.raises(NotRecognised) as info:
        decode(text)
    message = str(info.value)
    assert "\n" not in message
    assert "log line" in message
