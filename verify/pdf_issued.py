"""A strict reader for the structure of the project's own signed PDFs (verify.pdf_fast).

pyHanko's reader is general and pure Python: for one issued certificate it spent about 0.8 ms
reading the cross-reference table, the trailer, the catalog, the page tree, the form and the
signature field, a byte at a time. The fast path needs only those few objects, and only from
files in the issued layout; this reader takes them with regular expressions over a deliberately
small grammar, and answers None for anything outside it, so the caller falls back to pyHanko's
reader and full validation:

* the header `%PDF-d.d` and a line end; the file ends `startxref`, its offset and `%%EOF` on
  lines of their own (one line end at most after it);
* one classic cross-reference table of one subsection `0 N`, entry 0 free (`65535 f`) and
  every other entry in use with generation 0, each 20 bytes; the one `startxref` points at it;
* a trailer with only `/Size` (an integer: pyHanko's reader needs one), `/Root`, `/Info` and
  `/ID` (no `/Prev`, `/XRefStm`, `/Encrypt`);
* objects read exactly where the table puts them (`N 0 obj` at that offset, `endobj` after the
  value); values are dictionaries (no key twice), arrays, integers, reals, names without `#`
  escapes, references, `true`, `false`, `null`, hex strings and literal strings of printable
  ASCII without backslashes or parentheses; a comment only in the trailer (ReportLab writes one).

Within that grammar every token has one reading, the one any PDF reader gives it, pyHanko's
included: what this reader finds is what pyHanko's reader would find in the same bytes. And
the fast path uses it only for files whose whole byte range a known signer signed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, NamedTuple

_WS = rb"[\x00\t\n\x0c\r ]"
#: pyHanko takes `N G R` for a reference only when its 20-byte look-ahead matches
#: `\d+\s+\d+\s+R[^a-zA-Z]`: white space there excludes NUL, and `_REF_SPAN` bounds its length.
_REF_WS = rb"[\t\n\x0c\r ]"
_REF_SPAN = 19
_END = rb"(?=[\x00\t\n\x0c\r /\[\]<>()%{}]|\Z)"  # a regular token ends at a delimiter or white space
_TOKEN = re.compile(
    rb"(?:" + _WS + rb"*+)(?:"
    rb"(?P<ref>(\d{1,10})" + _REF_WS + rb"+(\d{1,5})" + _REF_WS + rb"+R)" + _END
    + rb"|(?P<int>[+-]?\d{1,18})" + _END
    + rb"|(?P<real>[+-]?(?:\d+\.\d*|\.\d+))" + _END
    + rb"|(?P<name>/[A-Za-z0-9_.+\-:*]+)" + _END
    + rb"|(?P<str>\([\x20-\x27\x2a-\x5b\x5d-\x7e]*\))"
    + rb"|(?P<dict><<)|(?P<end_dict>>>)|(?P<hex><[0-9A-Fa-f]*>)|(?P<array>\[)|(?P<end_array>\])"
    + rb"|(?P<kw>true|false|null)" + _END
    + rb")")
# possessive: a run of comments has one reading, never tried again split another way
_TOKEN_COMMENTED = re.compile(_TOKEN.pattern.replace(rb"(?:" + _WS + rb"*+)", rb"(?:" + _WS + rb"|%[^\r\n]*+)*+", 1))
_KEYWORDS = {b"true": True, b"false": False, b"null": None}
_HEADER = re.compile(rb"(\d{1,10}) 0 obj" + _END)
_COMMENTED = re.compile(rb"(?:" + _WS + rb"|%[^\r\n]*+)*+")
_ENDOBJ = re.compile(_WS + rb"*endobj" + _END)
_HEADER_VERSION = re.compile(rb"%PDF-\d\.\d[\r\n]")
_TAIL = re.compile(rb"startxref\r?\n(\d{1,10})\r?\n%%EOF(?:\r?\n)?\Z")
_XREF = re.compile(rb"xref" + _WS + rb"*?\r?\n0 (\d{1,6})" + rb"[ ]?\r?\n")
_TRAILER = re.compile(_WS + rb"*trailer" + _WS + rb"*")
_TRAILER_KEYS = frozenset({"/Size", "/Root", "/Info", "/ID"})
_MAX_DEPTH = 16
#: More than verify.pdf_structure's limit lets through: a longer table is not the issued layout.
_MAX_OBJECTS = 10_000


class Ref(NamedTuple):
    """An indirect reference `N G R`."""

    idnum: int
    generation: int


class Literal(bytes):
    """A literal string's bytes (printable ASCII: its text is the same characters)."""


class Hex(NamedTuple):
    """A hex string, by where it lies in the file (the signature's /Contents is checked by place)."""

    start: int
    end: int


class Real(str):
    """A real number, kept as written (the fast path reads none)."""


class OutsideGrammar(Exception):
    """The bytes are not in this reader's grammar: the caller uses pyHanko's reader."""


@dataclass(frozen=True)
class IssuedFile:
    """What the strict reader found in a file of the issued layout."""

    #: /Pages /Count of the catalog.
    pages: int
    #: The catalog's /CertgenSeal text (a literal string in the catalog itself), None when absent.
    seal: str | None
    #: The form's one field, as parsed here.
    field: dict[str, Any]
    #: The signature dictionary (the field's /V), as parsed here.
    signature: dict[str, Any]
    #: The signature dictionary's `N 0 obj` header ends here, its `endobj` starts at `sig_end`.
    sig_start: int
    sig_end: int


class _Reader:
    def __init__(self, data: bytes, offsets: list[int]) -> None:
        self.data, self.offsets = data, offsets

    def value(self, pos: int, comments: bool = False) -> tuple[Any, int]:
        """The value starting at `pos` (after white space) and where it ends: one anchored
        regular-expression match per token, containers built on a stack."""
        match = (_TOKEN_COMMENTED if comments else _TOKEN).scanner(self.data, pos).match
        stack: list[Any] = []
        keys: list[str | None] = []  # per open dictionary: the key waiting for its value
        while True:
            token = match()
            if token is None:
                raise OutsideGrammar(pos)
            kind = token.lastgroup
            if kind == "dict" or kind == "array":
                if len(stack) >= _MAX_DEPTH:
                    raise OutsideGrammar(token.start())
                stack.append({} if kind == "dict" else [])
                keys.append(None)
                continue
            if kind == "end_dict" or kind == "end_array":
                if not stack or type(stack[-1]) is not (dict if kind == "end_dict" else list) or keys[-1] is not None:
                    raise OutsideGrammar(token.start())  # unbalanced, or a key without its value
                keys.pop()
                value: Any = stack.pop()
            elif kind == "ref":
                if token.end() - token.start(kind) > _REF_SPAN:
                    raise OutsideGrammar(token.start())  # pyHanko would read two numbers and fail on R
                value = Ref(int(token.group(2)), int(token.group(3)))
            elif kind == "int":
                value = int(token.group(kind))
            elif kind == "name":
                value = token.group(kind).decode("ascii")
            elif kind == "str":
                value = Literal(token.group(kind)[1:-1])
            elif kind == "hex":
                value = Hex(token.start(kind), token.end())
            elif kind == "real":
                value = Real(token.group(kind).decode("ascii"))
            else:
                value = _KEYWORDS[token.group(kind)]
            if not stack:
                return value, token.end()
            top = stack[-1]
            if type(top) is list:
                top.append(value)
            elif keys[-1] is None:
                if kind != "name" or value in top:
                    raise OutsideGrammar(token.start())  # a key that is not a name, or one given twice
                keys[-1] = value
            else:
                top[keys[-1]] = value
                keys[-1] = None

    def object_at(self, ref: Any) -> tuple[Any, int, int]:
        """The object `ref` names, read where the table puts it: (value, start of the value, `endobj`)."""
        if not isinstance(ref, Ref) or ref.generation != 0 or not 0 < ref.idnum < len(self.offsets):
            raise OutsideGrammar(ref)
        offset = self.offsets[ref.idnum]
        header = _HEADER.match(self.data, offset)
        if header is None or int(header.group(1)) != ref.idnum:
            raise OutsideGrammar(offset)
        value, end = self.value(header.end())
        closing = _ENDOBJ.match(self.data, end)
        if closing is None:
            raise OutsideGrammar(end)  # a stream, or anything else after the value
        return value, header.end(), closing.end() - len(b"endobj")

    def resolve(self, value: Any) -> Any:
        return self.object_at(value)[0] if isinstance(value, Ref) else value


@lru_cache(maxsize=8)
def _entries(count: int) -> re.Pattern[bytes]:
    """The table's `count` entries: entry 0 free (`65535 f`), the others in use, generation 0."""
    return re.compile(rb"0{10} 65535 f(?: \r| \n|\r\n)(?:\d{10} 00000 n(?: \r| \n|\r\n)){%d}" % (count - 1))


def read_issued(data: bytes, max_pages: int) -> IssuedFile | None:
    """The issued layout's structure of `data`; None for anything outside the grammar, a
    page count over `max_pages`, or a form other than one signature field."""
    try:
        return _read(data, max_pages)
    except (OutsideGrammar, ValueError, IndexError, RecursionError):
        return None


def _table(data: bytes) -> tuple[_Reader, dict[str, Any]] | None:
    """The one cross-reference table (as a reader of the objects it places) and the trailer."""
    if not _HEADER_VERSION.match(data) or data.count(b"%%EOF") != 1 or data.count(b"startxref") != 1:
        return None
    tail = _TAIL.search(data, data.rindex(b"startxref"))
    if tail is None:
        return None
    xref_at = int(tail.group(1))
    table = _XREF.match(data, xref_at)
    if table is None or not 2 <= int(table.group(1)) <= _MAX_OBJECTS:
        return None
    block = _entries(int(table.group(1))).match(data, table.end())
    if block is None:
        return None  # not entry 0 free and every other in use with generation 0, 20 bytes each
    offsets = [int(data[at:at + 10]) for at in range(table.end(), block.end(), 20)]
    if max(offsets) >= xref_at:
        return None
    trailer_at = _TRAILER.match(data, block.end())
    if trailer_at is None:
        return None
    reader = _Reader(data, offsets)
    trailer, end = reader.value(trailer_at.end(), comments=True)
    if not isinstance(trailer, dict) or not set(trailer) <= _TRAILER_KEYS or "/Root" not in trailer:
        return None
    if type(trailer.get("/Size")) is not int:
        return None  # pyHanko's reader takes int(/Size) of every trailer: without it, it reads nothing
    if _COMMENTED.match(data, end).end() != tail.start():  # type: ignore[union-attr]
        return None  # anything but white space and comments between the trailer and startxref
    return reader, trailer


def _read(data: bytes, max_pages: int) -> IssuedFile | None:
    found = _table(data)
    if found is None:
        return None
    reader, trailer = found
    catalog = reader.resolve(trailer["/Root"])
    if not isinstance(catalog, dict) or "/Perms" in catalog or "/AcroForm" not in catalog:
        return None
    pages = reader.resolve(catalog.get("/Pages"))
    count_value = pages.get("/Count") if isinstance(pages, dict) else None
    if not isinstance(count_value, int) or isinstance(count_value, bool) or not 0 <= count_value <= max_pages:
        return None
    seal = catalog.get("/CertgenSeal")  # not resolved: verify.pdf reads it with dict.get, which follows no reference
    if seal is not None and not isinstance(seal, Literal):
        return None
    form = reader.resolve(catalog["/AcroForm"])
    fields = reader.resolve(form.get("/Fields")) if isinstance(form, dict) else None
    if not isinstance(fields, list) or len(fields) != 1 or not isinstance(fields[0], Ref):
        return None
    field = reader.resolve(fields[0])
    if not isinstance(field, dict) or not isinstance(field.get("/V"), Ref):
        return None
    signature, sig_start, sig_end = reader.object_at(field["/V"])
    if not isinstance(signature, dict):
        return None
    return IssuedFile(count_value, seal.decode("ascii") if seal is not None else None, field, signature,
                      sig_start, sig_end)
