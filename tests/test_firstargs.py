"""`cf502.firstargs.resolve_request`: the name and resolver read from `cf502 check`'s raw
arguments before the command line is parsed, so that the name's first queries go out ~40 ms
earlier (`cf502.entry`).

The rule under test: whenever it names a (name, resolver), it is exactly what the parsed and
validated command line resolves first (a property over generated command lines, against the real
parser); whatever it is unsure of is None; and its option lists are the check parser's own.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cf502.cli import build_parser
from cf502.cli.check import _through_aws
from cf502.errors import Cf502Error
from cf502.firstargs import FLAGS, VALUED, resolve_request
from cf502.firstquery import FirstQueries, claim, send_early
from cf502.options import diagnosis_of, engine_from_args
from cf502.settings import EngineSettings
from tests.servers.dns import DnsWorld, dns_world_fixture

__all__ = ["dns_world_fixture"]  # fixtures used by name

ROOT = Path(__file__).resolve().parents[1]


def _check_actions() -> list[argparse.Action]:
    parser = build_parser("check")
    commands = next(a for a in parser._actions if a.dest == "command")
    assert isinstance(commands, argparse._SubParsersAction)
    return list(commands.choices["check"]._actions)


def test_the_options_read_are_the_check_parsers_own() -> None:
    # Given every option of `cf502 check`
    actions = [a for a in _check_actions() if a.option_strings]
    flags = {o for a in actions if a.nargs == 0 for o in a.option_strings}
    valued = {o for a in actions if a.nargs != 0 for o in a.option_strings}
    # Then the reader knows each one, and whether it takes a value (help and --aws stop it)
    assert set(FLAGS) == flags - {"-h", "--help", "--aws"}
    assert set(VALUED) == valued


def _parsed(argv: list[str]) -> tuple[str, tuple[str, int] | None] | None:
    """What the real command line resolves first: (target.host, the resolver), or None when it
    refuses the command line or resolves nothing here (AWS, the worker pool)."""
    try:
        args = build_parser("check").parse_args(argv)
        target, _ = diagnosis_of(args.target, args)
        engine = engine_from_args(args, EngineSettings())
    except (Cf502Error, SystemExit):
        return None
    if args.redis_url or _through_aws(args):
        return None
    return target.host, engine.resolver_address


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["check", "origin.example.com"], ("origin.example.com", None)),
        (["check", "Origin.Example.COM."], ("origin.example.com", None)),
        (["check", "https://origin.example.com:8443/health?x=1"], ("origin.example.com", None)),
        (["check", "origin.example.com:8443", "--json"], ("origin.example.com", None)),
        (
            ["check", "--resolver", "127.0.0.1:5353", "www.example.test", "-v"],
            ("www.example.test", ("127.0.0.1", 5353)),
        ),
        (
            ["check", "www.example.test", "--resolver=9.9.9.9"],
            ("www.example.test", ("9.9.9.9", 53)),
        ),
        (
            [
                "check",
                "www.example.com",
                "--origin",
                "origin.example.net",
                "--only",
                "tls.handshake",
            ],
            ("origin.example.net", None),
        ),
        (["check", "--", "origin.example.com"], ("origin.example.com", None)),
    ],
)
def test_a_plain_command_line_names_what_the_parser_resolves(
    argv: list[str], expected: tuple[str, tuple[str, int] | None]
) -> None:
    assert resolve_request(argv, {}) == expected
    assert _parsed(argv) == expected


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["demo"],
        ["check"],
        ["check", "a.example", "b.example"],  # two positionals: the parser refuses it
        ["check", "www.example.com", "--help"],
        ["check", "www.example.com", "--aws"],  # AWS says which origins
        ["check", "E2QWRUHAPOMQZL"],  # a distribution id
        ["check", "www.example.com", "--redis-url", "redis://127.0.0.1:6379/0"],  # the workers
        ["check", "www.example.com", "--resol", "127.0.0.1"],  # abbreviated
        ["check", "www.example.com", "--no-such-option"],
        ["check", "www.example.com", "--json=yes"],
        ["check", "www.example.com", "--resolver"],  # no value
        ["check", "www.example.com", "--resolver", "resolver.example"],  # not an IP
        ["check", "www.example.com", "--resolver", "[::1]:53"],  # IPv6: not read here
        ["check", "192.0.2.10"],  # an IP literal: nothing to resolve
        ["check", "bücher.example"],  # international: its A-label is the parser's to make
        ["check", "ftp://origin.example.com"],
        ["check", "origin.example.com:http"],
        ["check", "-x", "origin.example.com"],
    ],
)
def test_whatever_it_is_unsure_of_is_nothing_early(argv: list[str]) -> None:
    assert resolve_request(argv, {}) is None


def test_aws_from_the_environment_is_nothing_early() -> None:
    assert resolve_request(["check", "www.example.com"], {"CF502_AWS": "1"}) is None
    assert resolve_request(["check", "www.example.com"], {"HOME": "/root"}) is not None


_NAMES = st.sampled_from(
    ["www.example.test", "WWW.Example.Test", "origin.example.com.", "a-b.c", "xn--bcher-kva.example",
     "192.0.2.1", "E2QWRUHAPOMQZL", "bad_name.example", "-bad.example", "a..b", "localhost"]
)  # fmt: skip
_TARGETS = st.one_of(
    _NAMES,
    st.builds(lambda n, p: f"{n}:{p}", _NAMES, st.sampled_from(["443", "8443", "0", "x"])),
    st.builds(lambda s, n: f"{s}://{n}/path", st.sampled_from(["https", "http", "ftp"]), _NAMES),
)
_VALUES = {
    "--resolver": st.sampled_from(["127.0.0.1", "127.0.0.1:5353", "10.0.0.1:0", "1.2.3.4:99999",
                                   "[::1]:53", "::1", "01.2.3.4", "name.example", "8.8.8.8:53"]),
    "--origin": _TARGETS,
    "--https-port": st.sampled_from(["443", "8443", "0", "x"]),
    "--only": st.sampled_from(["dns.resolve", "tls.handshake", "no.such.check"]),
    "--host-header": _NAMES,
    "--dns-port": st.sampled_from(["53", "5353"]),
}  # fmt: skip
_OPTION = st.one_of(
    st.sampled_from(sorted(FLAGS)).map(lambda f: [f]),
    st.sampled_from(sorted(_VALUES)).flatmap(
        lambda o: st.tuples(st.booleans(), _VALUES[o]).map(
            lambda bv: [f"{o}={bv[1]}"] if bv[0] else [o, bv[1]]
        )
    ),
)


@settings(max_examples=300, deadline=None)
@given(_TARGETS, st.lists(_OPTION, max_size=4), st.integers(0, 4))
def test_what_it_names_is_what_the_parsed_command_line_resolves(
    target: str, options: list[list[str]], at: int
) -> None:
    # Given a command line (options before and after the target, values good and bad)
    argv = ["check", *[w for o in options[:at] for w in o], target]
    argv += [w for o in options[at:] for w in o]
    early = resolve_request(argv, {})
    # Then whenever the reader names something, the parsed command line resolves just that, or
    # refuses the command line (the early queries are then never used: two datagrams)
    parsed = _parsed(argv)
    if early is not None and parsed is not None:
        assert early == parsed, argv


def test_the_queries_sent_early_are_claimed_only_for_the_same_name_and_resolver(
    dns_world: DnsWorld,
) -> None:
    resolver = ("127.0.0.1", dns_world.port)
    # Given a name's queries sent early, When the diagnosis is of that name at that resolver
    send_early("www.example.test", resolver)
    queries = claim("www.example.test", resolver)
    # Then it takes them, once
    assert isinstance(queries, FirstQueries) and len(queries.sent) == 2
    assert claim("www.example.test", resolver) is None
    queries.close()
    # But for another name (or resolver) they are closed, unused, and it sends its own
    send_early("www.example.test", resolver)
    assert claim("other.example.test", resolver) is None
    assert claim("www.example.test", resolver) is None


# `python -m cf502 check`, noting on stderr the first import of argparse and each connect to the
# resolver, in order.
_NOTING = """
import sys
def hook(event, args):
    if event == "import" and args[0] == "argparse":
        sys.stderr.write("IMPORT argparse\\n")
    elif event == "socket.connect" and args[1][:2] == ("127.0.0.1", __PORT__):
        sys.stderr.write("ASK resolver\\n")
sys.addaudithook(hook)
import runpy
sys.argv = ["cf502", *__ARGV__]
runpy.run_module("cf502", run_name="__main__", alter_sys=True)
"""


def test_the_command_asks_its_first_queries_before_it_parses_its_command_line(
    dns_world: DnsWorld,
) -> None:
    # Given `python -m cf502 check www.example.test` at the test world's resolver (DNS only)
    argv = [
        "check", "www.example.test", "--json", "--only", "dns.resolve", "--allow-private",
        "--resolver", f"127.0.0.1:{dns_world.port}", "--dns-port", str(dns_world.port),
    ]  # fmt: skip
    code = _NOTING.replace("__PORT__", str(dns_world.port)).replace("__ARGV__", repr(argv))
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT,
        check=False,
    )  # fmt: skip
    # Then its report passes
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert [c["status"] for c in report["checks"]] == ["pass"]
    # And its A and AAAA queries went out before argparse was imported
    noted = [
        line for line in done.stderr.splitlines() if line in ("IMPORT argparse", "ASK resolver")
    ]
    assert noted[:3] == ["ASK resolver", "ASK resolver", "IMPORT argparse"], noted
    # And the resolution took them: the resolver was asked each type once
    asked = sorted(s.rdtype for s in dns_world.resolver.queries() if s.qname == "www.example.test")
    assert asked == ["A", "AAAA"]
