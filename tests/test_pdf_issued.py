"""The strict reader of the issued layout (verify.pdf_issued) against pyHanko's reader.

1. On issued documents (person and product certificates, cards) every object the strict reader
   reads is what pyHanko's reader reads from the same bytes, value for value; and what the fast
   path takes from it (page count, seal, the signature field and dictionary) too.
2. Forgeries aimed at the reader: documents edited just outside its grammar (a key given twice,
   a comment, a `#` escape in a name, an escaped or non-ASCII string, an xref entry that is free
   or of another generation, an offset that points elsewhere, a trailer with /Prev, a second
   `startxref`, a real or too large page count, a stream where a dictionary should be), each
   signed again IN PLACE by the genuine signer: the signature verifies, so only the reader
   stands between them and the fast path. It answers None for each, the fast path does not
   answer, and both paths give the same report.
"""

from __future__ import annotations

import io
import re
from decimal import Decimal

import pytest
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.reader import PdfFileReader

from tests.test_pdf_fast_path import _arm, _same, _signed_by, kinds, taken  # noqa: F401 - fixtures
from tests.test_verify import issued, verifier  # noqa: F401 - the module fixture
from verify import pdf_issued
from verify.pdf_issued import Hex, Literal, Real, Ref, read_issued


def _plain(value: object, data: bytes) -> object:
    """pyHanko's parse of a value in the strict reader's terms (references unresolved)."""
    if isinstance(value, generic.IndirectObject):
        return Ref(value.idnum, value.generation)
    if isinstance(value, generic.DictionaryObject):
        return {str(k): _plain(value.raw_get(k), data) for k in value}
    if isinstance(value, generic.ArrayObject):
        return [_plain(value.raw_get(i), data) for i in range(len(value))]
    if isinstance(value, generic.BooleanObject):
        return bool(value)
    if isinstance(value, generic.NullObject):
        return None
    if isinstance(value, generic.NameObject):
        return str(value)
    if isinstance(value, generic.FloatObject):
        return Decimal(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, (generic.TextStringObject, generic.ByteStringObject)):
        return bytes(value.original_bytes)
    raise AssertionError(f"unexpected pyHanko value {type(value)}")


def _ours(value: object, data: bytes) -> object:
    """The strict reader's values in the same terms (hex strings by their bytes)."""
    if isinstance(value, dict):
        return {k: _ours(v, data) for k, v in value.items()}
    if isinstance(value, list):
        return [_ours(v, data) for v in value]
    if isinstance(value, Hex):
        digits = data[value.start + 1:value.end - 1]
        return bytes.fromhex((digits + b"0" * (len(digits) % 2)).decode())
    if isinstance(value, Real):
        return Decimal(value)
    if isinstance(value, Literal):
        return bytes(value)
    return value


def _documents(issued, kinds) -> list[bytes]:  # noqa: F811
    cards = sorted((issued["folder"] / "out").rglob("cards/*.pdf"))
    signed_cards = [p.read_bytes() for p in cards if b"/ByteRange" in p.read_bytes()]
    assert signed_cards, "no signed card to read"
    return [*issued["pdfs"], *(p.read_bytes() for p in kinds["files"] if "certificates" in p.parts), *signed_cards]


def test_every_object_reads_as_pyhanko_reads_it(issued, kinds):  # noqa: F811
    compared = 0
    for data in _documents(issued, kinds):
        found = pdf_issued._table(data)
        assert found is not None
        ours, trailer = found
        reader = PdfFileReader(io.BytesIO(data), strict=False)
        assert _ours(trailer, data) == _plain(reader.trailer_view, data) or set(trailer) == {
            str(k) for k in reader.trailer_view}
        for number in range(1, len(ours.offsets)):
            try:
                value = ours.object_at(Ref(number, 0))[0]
            except pdf_issued.OutsideGrammar:  # a stream: outside the grammar, never read by the fast path
                assert isinstance(reader.get_object(generic.Reference(number, 0)), generic.StreamObject) or b"stream" in \
                    data[ours.offsets[number]:data.index(b"endobj", ours.offsets[number])]
                continue
            assert _ours(value, data) == _plain(reader.get_object(generic.Reference(number, 0)), data), number
            compared += 1
    assert compared > 20


def test_what_the_fast_path_takes_is_what_pyhanko_finds(issued, kinds):  # noqa: F811
    for data in _documents(issued, kinds):
        found = read_issued(data, 20)
        assert found is not None
        reader = PdfFileReader(io.BytesIO(data), strict=False)
        assert found.pages == int(reader.root["/Pages"]["/Count"])
        assert found.seal == (str(reader.root["/CertgenSeal"]) if "/CertgenSeal" in reader.root else None)
        signature = reader.embedded_signatures[0]
        assert _ours(found.field, data) == _plain(signature.sig_field, data)
        assert found.signature["/ByteRange"] == list(signature.sig_object["/ByteRange"])
        contents = found.signature["/Contents"]
        assert (contents.start, contents.end) == (signature.byte_range[1], signature.byte_range[2])
        assert bytes.fromhex(data[contents.start + 1:contents.end - 1].decode()) == signature.sig_object["/Contents"]


def _catalog(data: bytes) -> tuple[int, int]:
    start = data.index(b"/CertgenSeal") - 40
    start = data.rindex(b" obj", 0, start + 40)
    return start, data.index(b"endobj", start)


def _edit(data: bytes, old: bytes, new: bytes, *, where: tuple[int, int] | None = None) -> bytes:
    """`data` with the first `old` (inside `where`) replaced by `new` of the same length: every
    offset stays, so only the edit itself is new."""
    assert len(old) == len(new), (old, new)
    start, end = where or (0, len(data))
    at = data.index(old, start, end)
    return data[:at] + new + data[at + len(old):]


def _xref_entry(data: bytes, number: int) -> int:
    table = data.rindex(b"\nxref") + 1
    return data.index(b"\n", data.index(b"\n", table) + 1) + 1 + 20 * number


def _forgeries(data: bytes) -> dict[str, bytes]:
    catalog = _catalog(data)
    catalog_number = int(re.search(rb"/Root (\d+) 0 R", data).group(1))
    entry = _xref_entry(data, catalog_number)
    pages_number = int(re.search(rb"/Pages (\d+) 0 R", data[catalog[0]:catalog[1]]).group(1))
    stream_number = int(re.search(rb"/Contents (\d+) 0 R", data).group(1))
    offset_of = lambda n: data[_xref_entry(data, n):_xref_entry(data, n) + 10]  # noqa: E731
    return {
        "a key given twice": _edit(data, b"/PageMode /UseNone", b"/Pages 99 0 R     ", where=catalog),
        "a comment in the catalog": _edit(data, b"/PageMode /UseNone", b"%PageMode /UseNone", where=catalog),
        "a # escape in a name": _edit(data, b"/UseNone", b"/U#73eNo", where=catalog),
        "an escape in the seal's string": _edit(data, b"(https://", b"(https:\\/", where=catalog),
        "a non-ASCII byte in the seal's string": _edit(data, b"(https", b"(\xe9ttps", where=catalog),
        "an xref entry of another generation": data[:entry + 11] + b"00001" + data[entry + 16:],
        "an xref entry marked free": data[:entry + 17] + b"f" + data[entry + 18:],
        "the catalog's offset pointing at another object": data[:entry] + offset_of(pages_number) + data[entry + 10:],
        "the catalog's offset pointing at a stream": data[:entry] + offset_of(stream_number) + data[entry + 10:],
        "a trailer with /Prev": _edit(data, b"/Size", b"/Prev", where=(data.rindex(b"trailer"), len(data))),
        "a second startxref (in a comment)": _edit(data, b"/PageMode /UseNone", b"%startxref UseNone", where=catalog),
        "a real page count": re.sub(rb"/Count 1 ", b"/Count 1.", data, count=1),
        "25 pages": re.sub(rb"/Count 1 ", b"/Count 25", data, count=1),
        "/Contents twice in the signature dictionary": _edit(data, b"/Location (Jakarta)", b"/Contents <00>     "),
        "a dictionary key that is a string": _edit(data, b"/PageMode /UseNone", b"(PageMode) /UseNon", where=catalog),
        "an unbalanced bracket": _edit(data, b"/PageMode /UseNone", b"/PageMode [UseNone", where=catalog),
    }


def _resigned(issued, edited: bytes) -> bytes:
    """`edited` signed again, in place, by the genuine document signer."""
    signer = issued["signer"]
    return _signed_by(edited, signer.certificate, signer.private_key, [issued["keys"].root_certificate()])


def _report(v, issued, taken, forged: bytes) -> dict:
    """`forged`'s report, both paths the same (`_same`), after a genuine file armed the caches;
    `taken`: what the fast path answered for it."""
    _arm(v, issued["pdfs"][0])
    taken.clear()
    return _same(v, forged)


def _full_path_report(v, issued, taken, forged: bytes, name: str = "") -> dict:
    """`_report`, checking the fast path left `forged` to pyHanko's full validation."""
    report = _report(v, issued, taken, forged)
    assert all(answer is None for answer in taken), name
    return report


def test_forgeries_outside_the_grammar_are_left_to_pyhanko(issued, taken):  # noqa: F811
    genuine = issued["pdfs"][1]
    for with_registry in (False, True):
        v = verifier(issued, registry=with_registry)
        for name, edited in _forgeries(genuine).items():
            assert edited != genuine, name
            forged = _resigned(issued, edited)
            assert read_issued(forged, 20) is None, name
            report = _full_path_report(v, issued, taken, forged, name)
            assert report["verdict"] != "VALID", name  # never the registered file, whatever its structure
            if name in _SIGNATURE_STILL_VALID:  # only the reader kept these from the fast path
                assert report["checks"][0]["reason"] == "pdf_signature_valid", name


#: Forgeries pyHanko reads and whose signature it accepts (the others it cannot read at all).
_SIGNATURE_STILL_VALID = {"a key given twice", "a # escape in a name", "an escape in the seal's string",
                          "a non-ASCII byte in the seal's string", "a real page count"}


def _trailer_edits(data: bytes) -> dict[str, bytes]:
    trailer = (data.rindex(b"trailer"), len(data))
    size = re.search(rb"/Size \d+", data[trailer[0]:]).group(0)
    return {"a trailer without /Size": _edit(data, size, b" " * len(size), where=trailer),
            "a trailer whose /Size is a name": _edit(data, size, b"/Size /X".ljust(len(size)), where=trailer),
            "a trailer whose /Size is a string": _edit(data, size, b"/Size ()".ljust(len(size)), where=trailer)}


def test_a_trailer_without_an_integer_size_is_left_to_pyhanko(issued, taken):  # noqa: F811
    """pyHanko's reader cannot read a file whose trailer lacks an integer /Size (it takes
    int(/Size) of every trailer): the strict reader must not read it either, or the fast path
    would pass, signed in place by the genuine key, a file the full path calls unreadable."""
    genuine = issued["pdfs"][1]
    v = verifier(issued, registry=False)
    for name, edited in _trailer_edits(genuine).items():
        forged = _resigned(issued, edited)
        assert read_issued(forged, 20) is None, name
        report = _full_path_report(v, issued, taken, forged, name)
        assert report["verdict"] == "INVALID" and report["checks"][0]["reason"] == "pdf_unreadable", name


def test_a_signature_field_without_a_name_is_left_to_pyhanko(issued, taken):  # noqa: F811
    """pyHanko skips a field without /T (a bare widget, not a field) and finds no signature:
    the full path says `pdf_not_signed`. The fast path must not pass the same file, signed in
    place by the genuine key, as a valid signature (offline it gave INDETERMINATE, not INVALID)."""
    genuine = issued["pdfs"][1]
    name = re.search(rb"/T \([^)]*\)", genuine).group(0)
    forged = _resigned(issued, _edit(genuine, name, b" " * len(name)))
    for with_registry in (False, True):
        report = _full_path_report(verifier(issued, registry=with_registry), issued, taken, forged)
        assert report["verdict"] == "INVALID" and report["checks"][0]["reason"] == "pdf_not_signed"


def _seal_by_reference(data: bytes) -> bytes:
    """`data` with the catalog's /CertgenSeal moved into an object of its own (`/CertgenSeal
    N 0 R`), appended before the cross-reference table, which gains its entry."""
    from tests.hostile_pdfs import _byte_range, _set_byte_range_in_place

    seal = re.search(rb"/CertgenSeal (\([^)]*\))", data)
    size = int(re.search(rb"/Size (\d+)", data[data.rindex(b"trailer"):]).group(1))
    reference = f"/CertgenSeal {size} 0 R".encode()
    data = data[:seal.start()] + reference.ljust(len(seal.group(0))) + data[seal.end():]
    xref_at = data.rindex(b"\nxref") + 1
    added = b"%d 0 obj\n%s\nendobj\n" % (size, seal.group(1))
    table_end = data.index(b"trailer", xref_at)
    table = data[xref_at:table_end].replace(b"\n0 %d" % size, b"\n0 %d" % (size + 1), 1) + b"%010d 00000 n \n" % xref_at
    tail = data[table_end:].replace(b"/Size %d" % size, b"/Size %d" % (size + 1), 1)
    tail = re.sub(rb"startxref\n\d+", b"startxref\n%d" % (xref_at + len(added)), tail)
    data = data[:xref_at] + added + table + tail
    first, second = _byte_range(data)[1:3]
    return _set_byte_range_in_place(data, [0, first, second, len(data) - second])


def test_a_seal_by_reference_gets_the_full_paths_report(issued, taken):  # noqa: F811
    """The full path reads the seal with `dict.get`, which does not follow a reference; the
    strict reader followed it. A catalog whose /CertgenSeal is a reference (signed by the genuine
    key) must get the full path's report, never a better one from the fast path."""
    forged = _resigned(issued, _seal_by_reference(issued["pdfs"][1]))
    assert PdfFileReader(io.BytesIO(forged), strict=False).embedded_regular_signatures  # a well-formed file
    for with_registry in (False, True):
        report = _full_path_report(verifier(issued, registry=with_registry), issued, taken, forged)
        assert report["verdict"] != "VALID"


def test_a_resigned_edit_inside_the_grammar_reads_as_pyhanko_reads_it(issued, taken):  # noqa: F811
    """Inside the grammar the reader and pyHanko agree, so the fast path answers, with the
    full path's report: here a seal whose last characters were changed, signed again by the
    genuine key (the signature passes; the seal does not)."""
    genuine = issued["pdfs"][1]
    seal = re.search(rb"/CertgenSeal \(([^)]*)\)", genuine).group(1)
    changed = seal[:-4] + (b"BBBB" if seal.endswith(b"AAAA") else b"AAAA")
    forged = _resigned(issued, genuine.replace(seal, changed))
    found = read_issued(forged, 20)
    assert found is not None and found.seal == changed.decode()
    assert found.seal == str(PdfFileReader(io.BytesIO(forged), strict=False).root["/CertgenSeal"])
    report = _report(verifier(issued, registry=True), issued, taken, forged)
    assert taken and taken[-1] is not None  # the fast path answered
    assert report["verdict"] == "INVALID"
    assert [c["reason"] for c in report["checks"]][:2] == ["pdf_signature_valid", "seal_bad_signature"]


@pytest.mark.parametrize("text", [b"", b"%PDF-1.4\n", b"not a pdf", b"%PDF-1.4\n%%EOF\nstartxref\n0\n%%EOF\n"])
def test_fragments_are_none(text):
    assert read_issued(text, 20) is None


def test_nesting_is_bounded():
    reader = pdf_issued._Reader(b"[" * 100 + b"]" * 100, [0])
    with pytest.raises(pdf_issued.OutsideGrammar):
        reader.value(0)


def _spans(data: bytes) -> list[tuple[int, int]]:
    """Where the strict reader reads: the catalog, the field, the signature dictionary (but its
    /Contents), the table and the trailer."""
    catalog = _catalog(data)
    signature_at = data.rindex(b" obj", 0, data.index(b"/ByteRange"))
    gap = re.search(rb"/ByteRange \[0 (\d+) (\d+)", data)
    field_at = data.rindex(b" obj", 0, data.index(b"/FT /Sig"))
    return [catalog, (field_at, data.index(b"endobj", field_at)), (signature_at, int(gap.group(1))),
            (int(gap.group(2)), data.index(b"endobj", int(gap.group(2)))), (data.rindex(b"\nxref"), len(data))]


def test_mutations_never_raise_and_read_as_pyhanko_reads_them(issued):  # noqa: F811
    """Single-byte changes, insertions and deletions where the reader reads: it never raises,
    and whenever it still reads the file, pyHanko reads the same page count, seal, field and
    signature dictionary (or the reader was right to answer None)."""
    import random

    rnd = random.Random(1530)
    genuine = issued["pdfs"][1]
    spans = _spans(genuine)
    alphabet = b"/<>[]()%\\ \n\r\x00\t01259R#eEfFnN.+-\xe9"
    read = 0
    for _ in range(600):
        start, end = rnd.choice(spans)
        at = rnd.randrange(start, end)
        byte = bytes([rnd.choice(alphabet)])
        kind = rnd.choice(("replace", "replace", "insert", "delete"))
        mutated = (genuine[:at] + byte + genuine[at + 1:] if kind == "replace" else
                   genuine[:at] + byte + genuine[at:] if kind == "insert" else genuine[:at] + genuine[at + 1:])
        found = read_issued(mutated, 20)
        if found is None:
            continue
        read += 1
        reader = PdfFileReader(io.BytesIO(mutated), strict=False)
        assert found.pages == int(reader.root["/Pages"]["/Count"]), (at, kind, byte)
        assert found.seal == (str(reader.root["/CertgenSeal"]) if "/CertgenSeal" in reader.root else None), (at, kind, byte)
        field = reader.root["/AcroForm"]["/Fields"][0]
        assert _ours(found.field, mutated) == _plain(field, mutated), (at, kind, byte)
        signature = field["/V"]
        assert _ours(found.signature, mutated) == _plain(signature, mutated), (at, kind, byte)
    assert read > 50  # many changes stay inside the grammar (a digit, a name's letter): compared, not just refused


def test_token_soup_reads_as_pyhanko_reads_it(issued):  # noqa: F811
    """Random values from the grammar's edges (references with odd white space or too long,
    numbers, names, strings, keywords, brackets, comments): whenever the strict reader reads a
    whole value, pyHanko's object parser reads the same value from the same bytes."""
    import random

    reader = PdfFileReader(io.BytesIO(issued["pdfs"][0]), strict=False)
    tokens = [b"6 0 R", b"6\x000 R", b"12  0   R", b"1234567890 12345 R", b"1234567890  12345  R", b"7\x0c0\tR",
              b"1", b"-2", b"+3", b"1.5", b".5", b"1.", b"007", b"/Name", b"/A#20B", b"/F1+0", b"(text)",
              b"(a\\)b)", b"(D:2026')", b"<0a1>", b"<>", b"< 0a >", b"true", b"false", b"null", b"truex",
              b"<<", b">>", b"[", b"]", b"%c\n", b"R", b"obj", b"/Key"]
    spaces = [b" ", b"\n", b"\r\n", b"\x00", b"\x0c", b"\t", b"", b" " * 25]
    rnd = random.Random(4)
    read = 0
    for _ in range(4000):
        body = b"".join(rnd.choice(tokens) + rnd.choice(spaces) for _ in range(rnd.randint(1, 8)))
        text = rnd.choice([b"[", b"<< /K "]) + body + rnd.choice([b"]", b" >>"])
        try:
            ours, end = pdf_issued._Reader(text + b"\nendobj", [0]).value(0)
        except pdf_issued.OutsideGrammar:
            continue
        if text[end:].strip(b"\x00\t\n\x0c\r "):
            continue
        read += 1
        theirs = generic.read_object(io.BytesIO(text + b"\nendobj"), generic.Reference(1, 0, reader))
        assert _ours(ours, text) == _plain(theirs, text), text
    assert read > 200
