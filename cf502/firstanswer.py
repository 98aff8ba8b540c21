"""The addresses in a DNS reply to one of `cf502.firstquery`'s queries, read without dnspython.

`cf502 check` opens CloudFront's TCP connections as soon as the first replies arrive, before
dnspython has loaded (`cf502.firstconnect`). This reads just enough of a reply for that: a clean
answer (NOERROR, not truncated, the question asked) and the A or AAAA records at the end of its
CNAME chain, and for an empty answer the zone its SOA names (where the zone survey starts). Anything
else is None, and nothing is connected early. The resolution still reads the
same reply with dnspython, and only the connections to the addresses it vets are used, so a
reading here that differs costs a connection, never a verdict.

Bounded whatever a hostile resolver sends: at most MAX_RECORDS records and MAX_POINTERS
compression pointers per name are followed. Standard library only, imported before the first
packet.
"""

from __future__ import annotations

import _socket
from typing import NamedTuple

__all__ = ["MAX_POINTERS", "MAX_RECORDS", "Answer", "read_answer", "read_names"]

MAX_RECORDS = 64  # answer records read; an honest answer to A or AAAA has a handful
MAX_POINTERS = 16  # compression pointers followed in one name; more is a loop
_MAX_CHAIN = 16  # dnspython's MAX_CHAIN: 16 CNAMEs in a row are a chain too long
_CNAME, _SOA, _NS, _A, _AAAA, _IN = 5, 6, 2, 1, 28, 1
_SIZES = {_A: 4, _AAAA: 16}
_FAMILIES = {_A: _socket.AF_INET, _AAAA: _socket.AF_INET6}


class Answer(NamedTuple):
    """What a clean reply says.

    Attributes:
        addresses: the addresses of the asked type at the end of the CNAME chain (text form).
        chain: the CNAME targets followed from the name asked, in order (no final dot).
        zone: for an answer without records (NODATA), the owner of the first SOA in its
            authority section that is the name asked or an ancestor, as sent (its case kept;
            no final dot; None for the root): the zone `checks.dns._wire.zone_of_nodata` reads.
    """

    addresses: tuple[str, ...]
    chain: tuple[str, ...]
    zone: str | None = None


class _Malformed(Exception):
    pass


def _name(wire: bytes, offset: int, *, fold: bool = True) -> tuple[bytes, int]:
    """The name at `offset` (labels joined by dots, ASCII letters in lower case as DNS compares
    them, unless not `fold`) and the offset after it in the record."""
    labels: list[bytes] = []
    end = -1
    jumps = 0
    while True:
        if offset >= len(wire):
            raise _Malformed
        length = wire[offset]
        if length & 0xC0 == 0xC0:
            if offset + 1 >= len(wire) or jumps >= MAX_POINTERS:
                raise _Malformed
            jumps += 1
            if end < 0:
                end = offset + 2
            offset = ((length & 0x3F) << 8) | wire[offset + 1]
            continue
        if length & 0xC0:
            raise _Malformed  # the extended label types nobody uses
        if length == 0:
            return b".".join(labels), (end if end >= 0 else offset + 1)
        label = wire[offset + 1 : offset + 1 + length]
        if len(label) != length or b"." in label:  # a dot inside a label: not worth reading
            raise _Malformed
        labels.append(label.lower() if fold else label)  # bytes.lower(): ASCII only, as DNS
        offset += 1 + length


def _question(wire: bytes) -> tuple[bytes, int, int, int]:
    """(name, type, class, offset after it) of a message's only question."""
    name, offset = _name(wire, 12)
    if offset + 4 > len(wire):
        raise _Malformed
    rdtype = int.from_bytes(wire[offset : offset + 2], "big")
    rdclass = int.from_bytes(wire[offset + 2 : offset + 4], "big")
    return name, rdtype, rdclass, offset + 4


def _record(wire: bytes, offset: int) -> tuple[bytes, int, int, int, int]:
    """(owner, type, class, rdata offset, offset after the record)."""
    owner, offset = _name(wire, offset)
    if offset + 10 > len(wire):
        raise _Malformed
    kind = int.from_bytes(wire[offset : offset + 2], "big")
    klass = int.from_bytes(wire[offset + 2 : offset + 4], "big")
    size = int.from_bytes(wire[offset + 8 : offset + 10], "big")
    data = offset + 10
    if data + size > len(wire):
        raise _Malformed
    return owner, kind, klass, data, data + size


def _answer_section(
    reply: bytes, offset: int, count: int, rdtype: int, rdclass: int
) -> tuple[dict[bytes, bytes], dict[bytes, list[str]], int]:
    """The answer section's CNAMEs (owner -> first target) and addresses of `rdtype` by owner,
    and the offset after it."""
    cnames: dict[bytes, bytes] = {}
    found: dict[bytes, list[str]] = {}
    for _ in range(count):
        owner, kind, klass, data, offset = _record(reply, offset)
        if klass != rdclass:
            continue
        if kind == _CNAME:
            target, after = _name(reply, data)
            if after != offset:
                raise _Malformed
            cnames.setdefault(owner, target)
        elif kind == rdtype:
            if offset - data != _SIZES[rdtype]:
                raise _Malformed
            found.setdefault(owner, []).append(
                _socket.inet_ntop(_FAMILIES[rdtype], reply[data:offset])
            )
    return cnames, found, offset


def read_answer(reply: bytes, query: bytes) -> Answer | None:
    """The answer in `reply` to `query` (both whole messages), or None unless the reply is a
    clean NOERROR answer to exactly that question (id, question, not truncated, every record
    whole, nothing after the last) that can be read within the bounds, read as dnspython's
    resolver reads it (the name's own records first, else its CNAME, at most 15 of them)."""
    try:
        return _read(reply, query)
    except _Malformed:
        return None


def _clean(reply: bytes, query: bytes) -> tuple[bytes, int, int, int, int, int] | None:
    """(name asked, type, class, answer count, other records, offset after the question) of a
    clean NOERROR reply to exactly `query`'s question, else None."""
    if len(reply) < 12 or len(query) < 12 or reply[:2] != query[:2]:
        return None
    flags, rcode = reply[2], reply[3] & 0x0F
    if not flags & 0x80 or (flags >> 3) & 0x0F or flags & 0x02 or rcode:  # QR, opcode, TC
        return None
    questions = int.from_bytes(reply[4:6], "big")
    answers = int.from_bytes(reply[6:8], "big")
    others = int.from_bytes(reply[8:10], "big") + int.from_bytes(reply[10:12], "big")
    if questions != 1 or answers + others > MAX_RECORDS:
        return None
    asked, rdtype, rdclass, _ = _question(query)
    name, got_type, got_class, offset = _question(reply)
    if (name, got_type, got_class) != (asked, rdtype, rdclass):
        return None
    return asked, rdtype, rdclass, answers, others, offset


def read_names(reply: bytes, query: bytes) -> tuple[str, ...] | None:
    """The targets of the NS records of the name asked in `reply` to `query` (an NS query),
    lower case, no final dot, in the order sent (duplicates kept), or None unless the reply is
    clean (as `read_answer` says) and names the NS records of the name itself (no CNAME)."""
    try:
        return _read_names(reply, query)
    except _Malformed:
        return None


def _read_names(reply: bytes, query: bytes) -> tuple[str, ...] | None:
    clean = _clean(reply, query)
    if clean is None:
        return None
    asked, rdtype, rdclass, answers, others, offset = clean
    if rdtype != _NS:
        return None
    names: list[bytes] = []
    for _ in range(answers):
        owner, kind, klass, data, offset = _record(reply, offset)
        if klass != rdclass or owner != asked:
            continue
        if kind == _CNAME:
            return None  # dnspython would follow it: not read here
        if kind == _NS:
            target, after = _name(reply, data)
            if after != offset:
                raise _Malformed
            names.append(target)
    for _ in range(others):  # whole records, nothing after the last
        offset = _record(reply, offset)[4]
    if offset != len(reply):
        return None
    return tuple(n.decode("latin-1") for n in names)


def _read(reply: bytes, query: bytes) -> Answer | None:
    clean = _clean(reply, query)
    if clean is None:
        return None
    asked, rdtype, rdclass, answers, others, offset = clean
    if rdtype not in _SIZES:
        return None
    cnames, found, offset = _answer_section(reply, offset, answers, rdtype, rdclass)
    zone: bytes | None = None
    authority = int.from_bytes(reply[8:10], "big")
    for index in range(others):  # the authority and additional sections: whole records
        start = offset
        owner, kind, _, _, offset = _record(reply, offset)
        if index < authority and not answers and zone is None and kind == _SOA:
            if not owner or asked == owner or asked.endswith(b"." + owner):  # it or an ancestor
                zone = _name(reply, start, fold=False)[0]
    if offset != len(reply):
        return None  # trailing bytes: dnspython refuses such a reply
    # As dnspython's resolve_chaining: the name's own records if it has them, else its CNAME.
    chain: list[bytes] = []
    current = asked
    while current not in found and current in cnames:
        if len(chain) == _MAX_CHAIN - 1:
            return None  # dnspython calls the 16th CNAME a chain too long
        current = cnames[current]
        chain.append(current)
    texts = tuple(n.decode("latin-1") for n in chain)
    zone_text = zone.decode("latin-1") if zone else None  # (b"": the root, no zone)
    return Answer(tuple(found.get(current, ())), texts, zone_text)
