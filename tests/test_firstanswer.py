"""`cf502.firstanswer.read_answer`: the addresses `cf502 check` reads from the first replies,
before dnspython has loaded.

Messages are built with dnspython (what a resolver sends), and by hand for the hostile shapes
dnspython refuses to build (compression loops, pointers past the end, cut records). The reading
must be dnspython's own on well-formed replies (a property, checked against
`Message.resolve_chaining` and the engine's `cname_chain`), and None, in bounded time, on
anything else.
"""

from __future__ import annotations

import ipaddress
import itertools
import time

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cf502.checks.dns._wire import cname_chain, zone_of_nodata
from cf502.firstanswer import MAX_POINTERS, MAX_RECORDS, Answer, read_answer, read_names

HOST = "www.example.test"
QUICK = 0.25  # seconds any one hostile message may cost (it takes microseconds)


def _exchange(
    rdtype: str = "A", *rrsets: dns.rrset.RRset, qname: str = HOST
) -> tuple[dns.message.Message, dns.message.Message]:
    """(query, response) for `qname`/`rdtype`, the response answering with `rrsets` in order."""
    query = dns.message.make_query(qname, rdtype)
    response = dns.message.make_response(query)
    response.answer.extend(rrsets)
    return query, response


def _read(query: dns.message.Message, response: dns.message.Message) -> Answer | None:
    # Unshuffled: the records in the order given (dnspython shuffles each rrset by default)
    return read_answer(response.to_wire(want_shuffle=False), query.to_wire())


def _rrset(owner: str, rdtype: str, *values: str, rdclass: str = "IN") -> dns.rrset.RRset:
    return dns.rrset.from_text_list(owner, 60, rdclass, rdtype, list(values))


def _generic(owner: str, rdclass: str, rdtype: str, data: bytes) -> dns.rrset.RRset:
    """A record in dnspython's generic form (any class and type, any data)."""
    rdata = dns.rdata.from_text(rdclass, rdtype, f"\\# {len(data)} {data.hex() or ''}")
    return dns.rrset.from_rdata(owner, 60, rdata)


def _chain(*names: str) -> list[dns.rrset.RRset]:
    """CNAMEs from each name (no final dot) to the next."""
    return [_rrset(a + ".", "CNAME", b + ".") for a, b in itertools.pairwise(names)]


def _got(answer: Answer | None) -> tuple[tuple[str, ...], tuple[str, ...]]:
    assert answer is not None
    return answer.addresses, answer.chain


# --- clean answers ------------------------------------------------------------------------------


def test_an_a_answer_gives_its_addresses() -> None:
    query, response = _exchange("A", _rrset(HOST + ".", "A", "192.0.2.1", "192.0.2.2"))
    assert _got(_read(query, response)) == (("192.0.2.1", "192.0.2.2"), ())


def test_an_aaaa_answer_gives_its_addresses_in_text_form() -> None:
    query, response = _exchange(
        "AAAA", _rrset(HOST + ".", "AAAA", "2001:db8:0::1", "::ffff:1.2.3.4")
    )
    assert _got(_read(query, response)) == (("2001:db8::1", "::ffff:1.2.3.4"), ())


def test_a_cname_chain_is_followed_to_its_end_in_any_order() -> None:
    # Given www -> a -> b, b's addresses first in the section, and the chain's links reversed
    links = _chain(HOST, "a.example.test", "b.example.test")
    address = _rrset("b.example.test.", "A", "192.0.2.7")
    query, response = _exchange("A", address, *reversed(links))
    # Then the addresses are b's, and the chain the targets in order (no final dot)
    assert _got(_read(query, response)) == (("192.0.2.7",), ("a.example.test", "b.example.test"))


def test_a_cname_loop_is_no_answer() -> None:
    # Given www -> a -> b -> a ... (and an address for a name nobody points to)
    links = [*_chain(HOST, "a.example.test", "b.example.test", "a.example.test")]
    query, response = _exchange("A", *links, _rrset("c.example.test.", "A", "192.0.2.9"))
    # Then, as for dnspython (a chain too long), there is no answer: nothing is connected early
    assert _read(query, response) is None


def test_a_chain_longer_than_15_is_no_answer() -> None:
    # Given 16 or 17 CNAMEs, then the address of the last target
    for count in (16, 17):
        names = [HOST, *(f"n{i}.example.test" for i in range(count))]
        links = _chain(*names)
        query, response = _exchange("A", *links, _rrset(names[-1] + ".", "A", "192.0.2.3"))
        # Then, as for dnspython (ChainTooLong from the 16th CNAME), there is no answer
        assert _read(query, response) is None


def test_a_chain_of_15_is_followed() -> None:
    names = [HOST, *(f"n{i}.example.test" for i in range(15))]
    links = _chain(*names)
    query, response = _exchange("A", *links, _rrset(names[-1] + ".", "A", "192.0.2.3"))
    assert _got(_read(query, response)) == (("192.0.2.3",), tuple(names[1:]))


def test_nodata_is_an_answer_without_addresses() -> None:
    # Given an empty answer (the SOA in the authority section, as a resolver sends NODATA)
    query, response = _exchange("AAAA")
    response.authority.append(
        _rrset("example.test.", "SOA", "ns1.example.test. h.example.test. 1 2 3 4 5")
    )
    # Then it is an answer, with nothing to connect to
    assert _got(_read(query, response)) == ((), ())


def test_nodata_names_its_zone_as_sent_and_an_answer_none() -> None:
    # Given NODATA whose SOA is the zone's, for a question asked in capitals (the SOA's owner is
    # then sent as a pointer into the question: dnspython reads the zone in capitals too)
    query, response = _exchange("AAAA", qname=HOST.upper())
    soa = "ns1.example.test. h.example.test. 1 2 3 4 5"
    response.authority.append(_rrset("example.test.", "SOA", soa))
    # Then the zone is read as sent, as dnspython reads it (the survey asks NS of that name)
    answer = _read(query, response)
    assert answer is not None and answer.zone == "EXAMPLE.TEST"
    wire = response.to_wire(want_shuffle=False)
    assert answer.zone == zone_of_nodata(dns.message.from_wire(wire), HOST)
    # But an SOA that is not the name's ancestor, or the root's, names no zone
    for owner in ("other.test.", "sub.www.example.test.", "."):
        query, response = _exchange("AAAA")
        response.authority.append(_rrset(owner, "SOA", soa))
        answer = _read(query, response)
        assert answer is not None and answer.zone is None, owner
    # Nor does an answer with records (its SOA would be another zone's)
    query, response = _exchange("A", *_chain(HOST, "gone.example.test"))
    response.authority.append(_rrset("example.test.", "SOA", soa))
    answer = _read(query, response)
    assert answer is not None and answer.zone is None


def test_an_ns_answer_gives_the_zones_name_servers_as_dnspython_lists_them() -> None:
    # Given the NS answer for the zone, with a duplicate, capitals, records of other names and
    # types, and glue in the additional section
    query, response = _exchange(
        "NS",
        _rrset("example.test.", "NS", "NS2.example.test.", "ns1.example.test."),
        _rrset("other.test.", "NS", "ns9.other.test."),
        _rrset("example.test.", "TXT", '"noise"'),
        qname="example.test",
    )
    response.additional.append(_rrset("ns1.example.test.", "A", "192.0.2.53"))
    names = read_names(response.to_wire(want_shuffle=False), query.to_wire())
    # Then the names are the zone's own, in lower case, as the survey takes them from dnspython
    assert names is not None and sorted(set(names)) == ["ns1.example.test", "ns2.example.test"]
    message = dns.message.from_wire(response.to_wire())
    assert isinstance(message, dns.message.QueryMessage)
    answer = message.resolve_chaining().answer
    assert answer is not None
    assert sorted({rd.target.to_text(omit_final_dot=True).lower() for rd in answer}) == sorted(
        set(names)
    )


def test_an_ns_answer_that_is_not_plain_names_no_server() -> None:
    # A CNAME at the zone's name (dnspython would follow it), an error, an A query: None
    query, response = _exchange(
        "NS", _rrset("example.test.", "CNAME", "elsewhere.test."), qname="example.test"
    )
    assert read_names(response.to_wire(), query.to_wire()) is None
    query, response = _exchange("NS", qname="example.test")
    response.set_rcode(dns.rcode.SERVFAIL)
    assert read_names(response.to_wire(), query.to_wire()) is None
    query, response = _exchange("A", _rrset(HOST + ".", "A", "192.0.2.1"))
    assert read_names(response.to_wire(), query.to_wire()) is None
    # And NODATA lists none
    query, response = _exchange("NS", qname="example.test")
    assert read_names(response.to_wire(), query.to_wire()) == ()


def test_a_chain_to_a_name_without_addresses_is_nodata() -> None:
    query, response = _exchange("A", *_chain(HOST, "gone.example.test"))
    assert _got(_read(query, response)) == ((), ("gone.example.test",))


def test_records_of_other_classes_types_and_names_are_ignored() -> None:
    # Given the asked A beside: an HS-class A and a CNAME of class HS for the same name, a TXT,
    # an AAAA, and an A for a name off the chain
    query, response = _exchange(
        "A",
        _generic(HOST + ".", "HS", "A", bytes([10, 0, 0, 1])),
        _generic(HOST + ".", "HS", "CNAME", b"\x01x\x00"),
        _rrset(HOST + ".", "TXT", '"v=spf1 -all"'),
        _rrset(HOST + ".", "AAAA", "2001:db8::5"),
        _rrset("other.example.test.", "A", "192.0.2.99"),
        _rrset(HOST + ".", "A", "192.0.2.1"),
    )
    # Then only the IN A records of the name asked count
    assert _got(_read(query, response)) == (("192.0.2.1",), ())


def test_names_are_compared_without_case() -> None:
    # Given a reply whose question, owners and targets differ in case from the query's
    query = dns.message.make_query(HOST, "A")
    response = dns.message.make_response(dns.message.make_query("WWW.Example.TEST", "A"))
    response.id = query.id
    response.answer.extend(
        [
            _rrset("wWw.EXAMPLE.test.", "CNAME", "Edge.Example.Test."),
            _rrset("EDGE.example.TEST.", "A", "192.0.2.4"),
        ]
    )
    # Then it is the answer to the query, the chain in lower case
    assert _got(_read(query, response)) == (("192.0.2.4",), ("edge.example.test",))


def test_exactly_max_records_are_read() -> None:
    addresses = [f"192.0.2.{i}" for i in range(MAX_RECORDS)]
    query, response = _exchange("A", _rrset(HOST + ".", "A", *addresses))
    assert _got(_read(query, response)) == (tuple(addresses), ())


# --- replies that are not a clean answer to the query -------------------------------------------


def _not_clean() -> dict[str, tuple[dns.message.Message, dns.message.Message]]:
    good = _rrset(HOST + ".", "A", "192.0.2.1")
    cases: dict[str, tuple[dns.message.Message, dns.message.Message]] = {}

    query, response = _exchange("A", good)
    response.id ^= 0x0101
    cases["wrong id"] = query, response

    query, _ = _exchange("A", good)
    cases["not a response (the query itself)"] = query, query

    for opcode in (dns.opcode.IQUERY, dns.opcode.STATUS, dns.opcode.NOTIFY, dns.opcode.UPDATE):
        query, response = _exchange("A", good)
        response.set_opcode(opcode)
        cases[f"opcode {dns.opcode.to_text(opcode)}"] = query, response

    query, response = _exchange("A", good)
    response.flags |= dns.flags.TC
    cases["truncated (TC)"] = query, response

    for rcode in (dns.rcode.SERVFAIL, dns.rcode.NXDOMAIN, dns.rcode.REFUSED, dns.rcode.FORMERR):
        query, response = _exchange("A", *_chain(HOST, "a.example.test"), good)
        response.set_rcode(rcode)
        cases[f"rcode {dns.rcode.to_text(rcode)}"] = query, response

    query, response = _exchange("A", good)
    response.question.append(
        dns.rrset.RRset(dns.name.from_text("x.test."), dns.rdataclass.IN, dns.rdatatype.A)
    )
    cases["two questions"] = query, response

    query, response = _exchange("A", good)
    response.question.clear()
    cases["no question"] = query, response

    query = dns.message.make_query(HOST, "A")
    for name, rdtype, rdclass in (
        ("other.example.test", "A", "IN"),
        (HOST, "AAAA", "IN"),
        (HOST, "A", "CH"),
    ):
        other = dns.message.make_query(name, rdtype, rdclass)
        response = dns.message.make_response(other)
        response.id = query.id
        response.answer.append(good)
        cases[f"another question ({name} {rdtype} {rdclass})"] = query, response

    query, response = _exchange("TXT", _rrset(HOST + ".", "TXT", '"x"'))
    cases["a question for neither A nor AAAA"] = query, response
    return cases


@pytest.mark.parametrize(("query", "response"), _not_clean().values(), ids=_not_clean().keys())
def test_a_reply_that_is_not_a_clean_answer_is_none(
    query: dns.message.Message, response: dns.message.Message
) -> None:
    assert _read(query, response) is None


def test_too_short_messages_are_none() -> None:
    query, response = _exchange("A", _rrset(HOST + ".", "A", "192.0.2.1"))
    assert read_answer(response.to_wire()[:11], query.to_wire()) is None
    assert read_answer(response.to_wire(), query.to_wire()[:11]) is None
    assert read_answer(b"", b"") is None


# --- hostile wire -------------------------------------------------------------------------------

_QUERY = dns.message.make_query(HOST, "A")
_QUERY.id = 0x1234
_QWIRE = _QUERY.to_wire()
_QUESTION = _QWIRE[12:]  # name, type, class: no EDNS in dnspython's default query
_FIRST = 12 + len(_QUESTION)  # where the answer section starts
_TO_QNAME = b"\xc0\x0c"  # a compression pointer to the question's name


def _header(answers: int, *, questions: int = 1, additional: int = 0) -> bytes:
    return (
        _QWIRE[:2]
        + b"\x81\x80"
        + questions.to_bytes(2, "big")
        + answers.to_bytes(2, "big")
        + bytes(2)
        + additional.to_bytes(2, "big")
    )


def _rr(owner: bytes, rtype: int, rdata: bytes, *, rdlength: int | None = None) -> bytes:
    size = len(rdata) if rdlength is None else rdlength
    fixed = rtype.to_bytes(2, "big") + b"\x00\x01" + (60).to_bytes(4, "big")
    return owner + fixed + size.to_bytes(2, "big") + rdata


def _pointer(offset: int) -> bytes:
    return (0xC000 | offset).to_bytes(2, "big")


def _reply(*records: bytes, answers: int | None = None) -> bytes:
    count = len(records) if answers is None else answers
    return _header(count) + _QUESTION + b"".join(records)


_A_RECORD = _rr(_TO_QNAME, 1, bytes([192, 0, 2, 1]))


def test_the_hand_built_reply_is_read() -> None:
    # The hostile cases below change one thing in this reply: it is read when whole
    assert _got(read_answer(_reply(_A_RECORD), _QWIRE)) == (("192.0.2.1",), ())
    # ... and so is a CNAME whose target is compressed, pointing into the answer
    cname = _rr(_TO_QNAME, 5, b"\x04edge" + _TO_QNAME)
    target = _pointer(_FIRST + 12)  # the CNAME's rdata: edge.www.example.test
    addr = _rr(target, 1, bytes([192, 0, 2, 2]))
    assert _got(read_answer(_reply(cname, addr), _QWIRE)) == (
        ("192.0.2.2",),
        ("edge.www.example.test",),
    )


def _through_pointers(count: int) -> bytes:
    """An A record whose owner is the name asked, reached through `count` pointers in a row:
    the owner points into a run of pointers (the rdata of a record in the additional section,
    so the message has nothing after its last record), each to the next, the last to the
    question's name."""
    run_at = _FIRST + 2 + 10 + 4 + 1 + 10
    run = b"".join(_pointer(run_at + 2 * (i + 1)) for i in range(count - 2)) + _TO_QNAME
    answer = _rr(_pointer(run_at), 1, bytes([192, 0, 2, 1]))
    return _header(1, additional=1) + _QUESTION + answer + _rr(b"\x00", 16, run)


def test_a_name_through_max_pointers_is_read() -> None:
    assert _got(read_answer(_through_pointers(MAX_POINTERS), _QWIRE)) == (("192.0.2.1",), ())
    assert read_answer(_through_pointers(MAX_POINTERS + 1), _QWIRE) is None


def _aaaa_query() -> bytes:
    query = dns.message.make_query(HOST, "AAAA")
    query.id = _QUERY.id
    return query.to_wire()


def _hostile() -> dict[str, tuple[bytes, bytes]]:
    """(reply, query) by what is wrong with the reply."""
    a = bytes([192, 0, 2, 1])
    over = _rr(_TO_QNAME, 1, a) * (MAX_RECORDS + 1)
    ring = b"\x01a" + _pointer(_FIRST)  # a label, then a pointer back to that label
    aaaa = _aaaa_query()
    replies = {
        "question name pointing at itself": _header(1) + _pointer(12) + _QUESTION[-4:] + _A_RECORD,
        "owner pointing at itself": _reply(_rr(_pointer(_FIRST), 1, a)),
        "owner looping through a label": _reply(_rr(ring, 1, a)),
        "more pointers than MAX_POINTERS, no loop": _through_pointers(MAX_POINTERS + 1),
        "CNAME target pointing at itself": _reply(_rr(_TO_QNAME, 5, _pointer(_FIRST + 12))),
        "pointer past the end": _reply(_rr(_pointer(0x3FFF), 1, a)),
        "pointer cut in half": _reply(b"\xc0"),
        "label past the end": _reply(b"\x3fabc"),
        "name without its root label": _reply(b"\x03www"),
        "record cut in its fixed part": _reply(_A_RECORD[:7]),
        "rdlength past the end": _reply(_rr(_TO_QNAME, 1, a, rdlength=200)),
        "CNAME rdlength past the end": _reply(_rr(_TO_QNAME, 5, _TO_QNAME, rdlength=40)),
        "TXT rdlength past the end": _reply(_A_RECORD, _rr(_TO_QNAME, 16, b"\x01x", rdlength=9)),
        "rdlength 5 for an A": _reply(_rr(_TO_QNAME, 1, a + b"\x00")),
        "rdlength 16 for an A": _reply(_rr(_TO_QNAME, 1, bytes(16))),
        "more answers announced than sent": _reply(_A_RECORD, answers=3),
        "ancount over MAX_RECORDS": _reply(over, answers=MAX_RECORDS + 1),
        "ancount 65535": _reply(_A_RECORD, answers=0xFFFF),
        # (read as plain lengths, these would be whole names: only their type refuses them)
        "extended label type 0x40": _reply(_rr(b"\x40" + b"x" * 64 + b"\x00", 1, a)),
        "reserved label type 0x80": _reply(_rr(b"\x80" + b"x" * 128 + b"\x00", 1, a)),
        "extended label in the question": _header(1) + b"\x40" + _QUESTION[-5:] + _A_RECORD,
    }
    cases = {why: (reply, _QWIRE) for why, reply in replies.items()}
    cases["rdlength 4 for an AAAA"] = _header(1) + aaaa[12:] + _rr(_TO_QNAME, 28, a), aaaa
    return cases


@pytest.mark.parametrize(("reply", "query"), _hostile().values(), ids=_hostile().keys())
def test_hostile_wire_is_none_and_quick(reply: bytes, query: bytes) -> None:
    started = time.perf_counter()
    assert read_answer(reply, query) is None
    assert time.perf_counter() - started < QUICK


def test_the_costliest_reply_that_fits_a_peek_is_read_in_bounded_time() -> None:
    # Given MAX_RECORDS records whose owners all point at one name of ~2000 labels filling
    # the rest of a 4096-byte reply (every name read is as long as the reply allows)
    # (the last record, in the additional section, carries that name as its rdata)
    fixed = 2 + 10 + 4
    answers = MAX_RECORDS - 1
    run_at = _FIRST + answers * fixed + 1 + 10
    owner = _pointer(run_at)
    records = b"".join(_rr(owner, 1, bytes([192, 0, 2, i])) for i in range(answers))
    run = b"\x01a" * ((4096 - run_at - 1) // 2) + b"\x00"
    wire = _header(answers, additional=1) + _QUESTION + records + _rr(b"\x00", 16, run)
    assert len(wire) <= 4096
    started = time.perf_counter()
    got = read_answer(wire, _QWIRE)
    # Then it is read (no address for the name asked) well within a blink
    assert _got(got) == ((), ())
    assert time.perf_counter() - started < 1.0


# --- the same reading as dnspython's ------------------------------------------------------------

_POOL = tuple(f"n{i}.example.test" for i in range(8))


@st.composite
def _cased(draw: st.DrawFn, name: str) -> str:
    """`name` with each letter's case drawn (names compare without case)."""
    flips = draw(st.lists(st.booleans(), min_size=len(name), max_size=len(name)))
    return "".join(c.upper() if f else c for c, f in zip(name, flips, strict=True))


def _addresses(rdtype: str) -> st.SearchStrategy[str]:
    return st.ip_addresses(v=4 if rdtype == "A" else 6).map(str)


@st.composite
def _responses(draw: st.DrawFn) -> tuple[bytes, bytes]:
    """A well-formed reply to HOST's A or AAAA query: a CNAME chain (no loop, at most 15 links,
    a name with a CNAME has nothing else), the final name's addresses or none, and noise: names
    off the chain, other types at the final name, records of another class, in any order."""
    rdtype = draw(st.sampled_from(["A", "AAAA"]))
    other_type = "AAAA" if rdtype == "A" else "A"
    query = dns.message.make_query(HOST, rdtype, id=0x1234)  # no random id inside a strategy
    response = dns.message.make_response(query)
    chain = draw(st.lists(st.sampled_from(_POOL), unique=True, max_size=6))
    names = [HOST, *chain]
    rrsets = [
        _rrset(draw(_cased(a)) + ".", "CNAME", draw(_cased(b)) + ".")
        for a, b in zip(names, chain, strict=False)
    ]
    end = draw(_cased(names[-1])) + "."
    if draw(st.booleans()):
        found = draw(st.lists(_addresses(rdtype), min_size=1, max_size=6, unique=True))
        rrsets.append(_rrset(end, rdtype, *found))
    if draw(st.booleans()):
        rrsets.append(_rrset(end, other_type, draw(_addresses(other_type))))
    if draw(st.booleans()):
        rrsets.append(_rrset(end, "TXT", '"noise"'))
    if draw(st.booleans()):
        size = 4 if rdtype == "A" else 16
        rrsets.append(_generic(end, "HS", rdtype, bytes(size)))
    off_chain = [n for n in _POOL if n not in chain]
    for name in draw(st.lists(st.sampled_from(off_chain), unique=True, max_size=3)):
        kind = draw(st.sampled_from(["A", "AAAA", "CNAME"]))
        if kind == "CNAME":
            rrsets.append(_rrset(name + ".", "CNAME", draw(st.sampled_from(names)) + "."))
        else:
            rrsets.append(_rrset(name + ".", kind, draw(_addresses(kind))))
    if draw(st.booleans()):  # else NODATA: the zone is read from the authority section
        response.answer.extend(draw(st.permutations(rrsets)))
    for owner in draw(st.lists(st.sampled_from(_SOA_OWNERS), max_size=3)):
        shown = draw(_cased(owner)) if owner != "." else owner
        response.authority.append(
            _rrset(shown, "SOA", "ns1.example.test. h.example.test. 1 2 3 4 5")
        )
    return response.to_wire(want_shuffle=False), query.to_wire()


# The SOA owners a NODATA reply may carry: HOST's ancestors (the root too), HOST itself, and names
# that are not its ancestors (a child, a sibling zone).
_SOA_OWNERS = (
    "example.test.", "test.", ".", HOST + ".", "sub." + HOST + ".", "other.test.",
    "ample.test.",
)  # fmt: skip


def _dnspython_reads(wire: bytes) -> tuple[tuple[ipaddress._BaseAddress, ...], tuple[str, ...]]:
    """What the resolution takes from the reply: resolve_chaining's rrset (as dns.resolver's
    Answer does) and the engine's own chain (`cname_chain`, what it judges a CloudFront name
    by), which must both agree with resolve_chaining's links on a well-formed reply."""
    message = dns.message.from_wire(wire)
    assert isinstance(message, dns.message.QueryMessage)
    chaining = message.resolve_chaining()
    found = () if chaining.answer is None else tuple(rd.to_text() for rd in chaining.answer)
    links = tuple(c[0].target.to_text(omit_final_dot=True).lower() for c in chaining.cnames)
    engine = tuple(n.lower() for n in cname_chain(message, HOST))
    assert engine == links
    return tuple(ipaddress.ip_address(a) for a in found), links


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_responses())
def test_a_well_formed_reply_reads_as_dnspython_reads_it(exchange: tuple[bytes, bytes]) -> None:
    reply, query = exchange
    answer = read_answer(reply, query)
    addresses, chain = _got(answer)
    assert (tuple(ipaddress.ip_address(a) for a in addresses), chain) == _dnspython_reads(reply)
    # And the zone it names is the engine's (where the zone survey starts), its case as sent
    assert answer is not None
    assert answer.zone == zone_of_nodata(dns.message.from_wire(reply), HOST)


@st.composite
def _damaged(draw: st.DrawFn) -> tuple[bytes, bytes]:
    """A well-formed reply with a few bytes overwritten, cut short or grown: past the header's
    checks, into the names and records."""
    reply, query = draw(_responses())
    wire = bytearray(reply)
    for _ in range(draw(st.integers(1, 6))):
        at = draw(st.integers(2, len(wire) - 1))
        wire[at] = draw(st.integers(0, 255))
    if draw(st.booleans()):
        wire = wire[: draw(st.integers(0, len(wire)))]
    wire += draw(st.binary(max_size=8))
    return bytes(wire), query


def _sane(answer: Answer | None) -> None:
    if answer is None:
        return
    assert isinstance(answer, Answer)
    for address in answer.addresses:
        ipaddress.ip_address(address)
    assert len(answer.chain) <= 16


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_damaged())
def test_a_damaged_reply_never_raises(exchange: tuple[bytes, bytes]) -> None:
    reply, query = exchange
    _sane(read_answer(reply, query))


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=600), st.binary(min_size=12, max_size=64))
def test_random_bytes_never_raise(reply: bytes, query: bytes) -> None:
    _sane(read_answer(reply, query))
    _sane(read_answer(query[:2] + reply[2:], query))  # past the id check


# --- replies dnspython reads otherwise: early connections the engine would not open -------------


def _cname_beside_the_address() -> tuple[bytes, bytes]:
    # The name asked has both its A record and a CNAME (forbidden, but a hostile resolver may)
    query, response = _exchange(
        "A",
        _rrset(HOST + ".", "A", "192.0.2.1"),
        _rrset(HOST + ".", "CNAME", "t.example.test."),
        _rrset("t.example.test.", "A", "192.0.2.2"),
    )
    return response.to_wire(), query.to_wire()


def _a_chain_of_exactly_16() -> tuple[bytes, bytes]:
    names = [HOST, *(f"n{i}.example.test" for i in range(16))]
    links = _chain(*names)
    query, response = _exchange("A", *links, _rrset(names[-1] + ".", "A", "192.0.2.3"))
    return response.to_wire(), query.to_wire()


def _a_dot_inside_a_label() -> tuple[bytes, bytes]:
    # The target is the one label "a.b" under example.test; the address is a.b.example.test's
    query, response = _exchange(
        "A",
        _rrset(HOST + ".", "CNAME", "a\\.b.example.test."),
        _rrset("a.b.example.test.", "A", "192.0.2.4"),
    )
    return response.to_wire(), query.to_wire()


def _non_ascii_case() -> tuple[bytes, bytes]:
    # The target's first label is the byte 0xC0, the address's owner 0xE0 (DNS folds ASCII only)
    query, response = _exchange(
        "A",
        _rrset(HOST + ".", "CNAME", "\\192.example.test."),
        _rrset("\\224.example.test.", "A", "192.0.2.5"),
    )
    return response.to_wire(), query.to_wire()


def _trailing_junk() -> tuple[bytes, bytes]:
    # A clean answer followed by bytes dnspython refuses (TrailingJunk: the reply is unusable)
    query, response = _exchange("A", _rrset(HOST + ".", "A", "192.0.2.6"))
    return response.to_wire() + b"\x00junk", query.to_wire()


def _dnspython_addresses(reply: bytes) -> tuple[str, ...] | str:
    """The addresses the resolution reads, or the name of dnspython's refusal."""
    try:
        message = dns.message.from_wire(reply)
        assert isinstance(message, dns.message.QueryMessage)
        chaining = message.resolve_chaining()
    except dns.exception.DNSException as exc:
        return type(exc).__name__
    return () if chaining.answer is None else tuple(rd.to_text() for rd in chaining.answer)


@pytest.mark.parametrize(
    "exchange",
    [
        _cname_beside_the_address(),
        _a_chain_of_exactly_16(),
        _a_dot_inside_a_label(),
        _non_ascii_case(),
        _trailing_junk(),
    ],
    ids=["cname-beside-the-address", "chain-of-16", "dot-in-a-label", "non-ascii-case", "junk"],
)
def test_a_hostile_reply_gives_no_address_dnspython_would_not_give(
    exchange: tuple[bytes, bytes],
) -> None:
    reply, query = exchange
    ours = read_answer(reply, query)
    theirs = _dnspython_addresses(reply)
    early = () if ours is None else ours.addresses
    assert early == () or early == theirs, (early, theirs)
