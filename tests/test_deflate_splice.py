"""certgen/render/deflate_splice.py: one zlib stream from pieces compressed at different times.

zlib itself decodes every splice (header, blocks, final block, Adler-32), for many random
splits of operator-like and random data, with pieces compressed once in any place, empty
pieces, and one compressed piece used several times; and a PDF whose page content is spliced
opens clean in qpdf (pikepdf), pypdf, poppler and pyHanko.
"""

from __future__ import annotations

import io
import random
import subprocess
import zlib

import pikepdf
import pytest
from pypdf import PdfReader

from certgen.render.deflate_splice import Compressed, compress_once, splice
from certgen.render.pdf_objects import PdfObjects, array, ref


def _content(rng: random.Random, size: int) -> bytes:
    """Page-operator-like text with repeats (back-references) and some binary noise."""
    words = [b"BT", b"ET", b"1 0 0 1 56.69 700.2 Tm", b"/F1+0 9.5 Tf", b"(Balai Sertifikasi) Tj", b"n 10 10 5 5 re f",
             b"q", b"Q", b"0 0 0 rg", b"\n"]
    out = bytearray()
    while len(out) < size:
        out += rng.choice(words) + b" " if rng.random() < 0.9 else rng.randbytes(rng.randint(1, 40))
    return bytes(out[:size])


def _split(rng: random.Random, data: bytes, count: int) -> list[bytes]:
    cuts = sorted(rng.randint(0, len(data)) for _ in range(count - 1))  # equal cuts give empty pieces
    return [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)])]


@pytest.mark.parametrize("seed", range(40))
def test_random_splices_decompress_to_the_pieces_joined(seed):
    rng = random.Random(seed)
    data = _content(rng, rng.choice([0, 1, 50, 3000, 40000]))
    pieces = _split(rng, data, rng.randint(1, 12))
    once = {i for i in range(len(pieces)) if rng.random() < 0.5}
    if seed % 4 == 0:
        once |= {0, len(pieces) - 1}  # compressed once, first and last
    mixed: list[bytes | Compressed] = [compress_once(p, rng.choice([1, 6, 9])) if i in once else p
                                       for i, p in enumerate(pieces)]
    level = rng.choice([0, 1, 6, 9])
    stream = splice(mixed, level)
    assert zlib.decompress(stream) == data  # checks the header and the Adler-32 too
    assert stream[:2] == zlib.compress(b"", level)[:2]


def test_a_piece_compressed_once_is_used_anywhere_and_many_times():
    rng = random.Random(7)
    part = compress_once(_content(rng, 5000))
    before, after = _content(rng, 2000), _content(rng, 2000)
    for pieces in ([part], [part, part], [before, part, after, part], [part, b"", b"\n", part, before],
                   [before, part, before]):  # `before` again after the part: no reference back past it
        assert zlib.decompress(splice(pieces)) == b"".join(p.data if isinstance(p, Compressed) else p for p in pieces)


def test_references_inside_a_piece_reach_across_the_window():
    rng = random.Random(3)
    block = rng.randbytes(20000)
    part = compress_once(block * 4)  # later copies refer back 20 KB: inside the 32 KB window
    assert len(part.deflate) < 2 * len(block)
    assert zlib.decompress(splice([b"x" * 70000, part, b"y"])) == b"x" * 70000 + block * 4 + b"y"


def test_the_trailer_is_the_adler32_of_the_whole_content():
    pieces = [b"q 1 0 0 1 10 10 cm", compress_once(b"\nBT (fixed) Tj ET\n"), b"Q"]
    stream = splice(pieces)
    content = b"q 1 0 0 1 10 10 cm\nBT (fixed) Tj ET\nQ"
    assert stream[-4:] == zlib.adler32(content).to_bytes(4, "big")
    broken = stream[:-1] + bytes([stream[-1] ^ 1])
    with pytest.raises(zlib.error, match="incorrect data check"):
        zlib.decompress(broken)


def test_a_piece_compressed_once_ends_on_a_byte_boundary_without_a_final_block():
    part = compress_once(b"BT (x) Tj ET")
    assert part.deflate.endswith(b"\x00\x00\xff\xff")  # the empty stored block of a full flush
    with pytest.raises(zlib.error):  # not a complete stream by itself: no final block
        zlib.decompress(part.deflate, -zlib.MAX_WBITS)
    decoder = zlib.decompressobj(-zlib.MAX_WBITS)
    assert decoder.decompress(part.deflate) == b"BT (x) Tj ET" and not decoder.eof


def _spliced_pdf(pieces: list[bytes | Compressed]) -> bytes:
    pdf = PdfObjects()
    catalog, pages = pdf.reserve(), pdf.reserve()
    font = pdf.add(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    content = pdf.add_stream(b"/Filter /FlateDecode", splice(pieces))
    page = pdf.add(b"<< /Type /Page /Parent " + ref(pages) + b" /MediaBox " + array([0, 0, 400, 300])
                   + b" /Resources << /Font << /F1 " + ref(font) + b" >> >> /Contents " + ref(content) + b" >>")
    pdf.put(pages, b"<< /Type /Pages /Kids [" + ref(page) + b"] /Count 1 >>")
    pdf.put(catalog, b"<< /Type /Catalog /Pages " + ref(pages) + b" >>")
    return pdf.write(catalog)


def test_a_spliced_page_opens_clean_in_every_reader(tmp_path):
    lines = [b"BT /F1 12 Tf 20 %d Td (line %d) Tj ET" % (280 - 14 * i, i) for i in range(18)]
    head = compress_once(b"\n".join(lines[:6]) + b"\n")
    foot = compress_once(b"\n" + b"\n".join(lines[12:]))
    pieces: list[bytes | Compressed] = [head, b"\n".join(lines[6:12]), foot]
    data = _spliced_pdf(pieces)
    with pikepdf.open(io.BytesIO(data)) as doc:  # qpdf
        assert doc.check_pdf_syntax() == []
        assert doc.pages[0].Contents.read_bytes() == b"\n".join(lines)
    assert PdfReader(io.BytesIO(data), strict=True).pages[0].extract_text().split("\n") == [
        f"line {i}" for i in range(18)]
    path = tmp_path / "spliced.pdf"
    path.write_bytes(data)
    text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True, timeout=60)
    assert text.stdout.split() == " ".join(f"line {i}" for i in range(18)).split()
    render = subprocess.run(["pdftoppm", "-r", "30", "-gray", "-png", str(path), str(tmp_path / "page")],
                            capture_output=True, text=True, check=True, timeout=60)
    assert render.stderr == "" and (tmp_path / "page-1.png").exists()
    from pyhanko.pdf_utils.reader import PdfFileReader
    page = PdfFileReader(io.BytesIO(data)).root["/Pages"]["/Kids"][0]
    assert page["/Contents"].data == b"\n".join(lines)
