"""A small PDF object writer: numbered objects, streams, cross-reference table, trailer.

Used by certgen/render/page_writer.py, which issues certificates without building a ReportLab
document per person (docs/issuing.md, "The page writer"). It writes one revision of a classic
PDF 1.7 file (ISO 32000-1 7.5): a header, objects in number order, an `xref` table, a trailer
with /Size, /Root, /Info and an /ID derived from the file's bytes (so the same objects give
the same file: a rerun redraws a lost file byte for byte). No object streams, no
cross-reference streams, no incremental updates: what pyHanko, poppler and qpdf read first.

It knows nothing of fonts or pages; callers pass each object's body as bytes. No third-party
imports.
"""

from __future__ import annotations

import hashlib
import re
import zlib

HEADER = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"
#: Flate level for streams (the ReportLab adapter uses the same: certgen/adapters/reportlab.py).
FLATE_LEVEL = 1


class PdfObjectError(ValueError):
    """An object was left unset, or set twice."""


class PdfObjects:
    """The objects of one file, numbered from 1 in the order they are reserved."""

    def __init__(self) -> None:
        self._bodies: list[bytes | None] = []

    def reserve(self) -> int:
        """A number for an object whose body is set later (`put`): for forward references."""
        self._bodies.append(None)
        return len(self._bodies)

    def put(self, number: int, body: bytes) -> int:
        if not 1 <= number <= len(self._bodies):
            raise PdfObjectError(f"object {number} was not reserved")
        if self._bodies[number - 1] is not None:
            raise PdfObjectError(f"object {number} is set twice")
        self._bodies[number - 1] = body
        return number

    def add(self, body: bytes) -> int:
        """A new object with `body` (a dictionary, array, number...); returns its number."""
        self._bodies.append(body)
        return len(self._bodies)

    def add_stream(self, entries: bytes, data: bytes, number: int | None = None) -> int:
        """A stream object: `entries` are the dictionary's entries other than /Length (already
        naming the filter if `data` is encoded); `number` fills a reserved object."""
        body = b"<< " + entries + b" /Length %d >>\nstream\n" % len(data) + data + b"\nendstream"
        return self.put(number, body) if number is not None else self.add(body)

    def write(self, root: int, info: int | None = None, identity: bytes | None = None) -> bytes:
        """The whole file. Every reserved object must have been set. The trailer's /ID is an
        MD5 of `identity`, else of all objects: a caller whose other objects follow from a
        few of them (the page writer: fonts and forms from the content) hashes only those."""
        parts = [HEADER]
        offsets = []
        at = len(HEADER)
        for number, body in enumerate(self._bodies, 1):
            if body is None:
                raise PdfObjectError(f"object {number} was reserved but never set")
            chunk = b"%d 0 obj\n" % number + body + b"\nendobj\n"
            offsets.append(at)
            at += len(chunk)
            parts.append(chunk)
        digest = hashlib.md5(b"".join(parts) if identity is None else identity,
                             usedforsecurity=False).hexdigest().encode("ascii")
        size = len(self._bodies) + 1
        parts.append(b"xref\n0 %d\n0000000000 65535 f \n" % size)
        parts.append(b"".join(b"%010d 00000 n \n" % offset for offset in offsets))
        trailer = b"/Size %d /Root %d 0 R" % (size, root)
        if info is not None:
            trailer += b" /Info %d 0 R" % info
        trailer += b" /ID [<" + digest + b"> <" + digest + b">]"
        parts.append(b"trailer\n<< " + trailer + b" >>\nstartxref\n%d\n%%%%EOF\n" % at)
        return b"".join(parts)


def ref(number: int) -> bytes:
    return b"%d 0 R" % number


def flate(data: bytes) -> bytes:
    return zlib.compress(data, FLATE_LEVEL)


def name(text: str) -> bytes:
    """A PDF name object: characters outside ! to ~ and the delimiters written as #xx."""
    out = bytearray(b"/")
    for byte in text.encode("utf-8"):
        if 0x21 <= byte <= 0x7E and byte not in b"#()<>[]{}/%":
            out.append(byte)
        else:
            out += b"#%02X" % byte
    return bytes(out)


_ESCAPES = {ord("\\"): b"\\\\", ord("("): b"\\(", ord(")"): b"\\)", ord("\r"): b"\\r", ord("\n"): b"\\n"}


_TO_ESCAPE = re.compile(rb"[\\()\r\n]")


def literal(data: bytes) -> bytes:
    """A literal string of raw bytes (backslash, parentheses and line ends escaped)."""
    if _TO_ESCAPE.search(data) is None:
        return b"(" + data + b")"
    return b"(" + _TO_ESCAPE.sub(lambda m: _ESCAPES[m.group()[0]], data) + b")"


def text_string(text: str) -> bytes:
    """A text string (ISO 32000-1 7.9.2.2): printable ASCII as is, anything else in UTF-16BE
    with a byte order mark, so every reader gets the same characters."""
    if text.isascii() and text.isprintable():
        return literal(text.encode("ascii"))
    return b"<feff" + text.encode("utf-16-be").hex().encode("ascii") + b">"


def number(value: float) -> bytes:
    """A real or integer, at most four decimals, no exponent."""
    if isinstance(value, int):
        return b"%d" % value
    text = b"%.4f" % value
    text = text.rstrip(b"0").rstrip(b".")
    return b"0" if text in (b"-0", b"") else text


def array(values) -> bytes:  # type: ignore[no-untyped-def]
    return b"[" + b" ".join(number(v) if isinstance(v, (int, float)) else v for v in values) + b"]"
