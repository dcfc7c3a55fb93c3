"""Every reach into pyHanko's internals that verification makes (one module, a fence as in
certgen/adapters: docs/adapters.md).

The PDF fast path (verify.pdf_fast) lets pyHanko's reader parse the file's structure but not
the signature dictionary: pyHanko's tokenizer reads a /Contents hex string one byte at a time
in Python (about 30% of a validation). It needs three things pyHanko offers only as internal
API: where the cross-reference table puts an object, how many revisions the file has, and
pyHanko's own object parser run on a copy of one object's bytes.

Used only with the versions in `TESTED_VERSIONS` (the same as certgen's pyHanko adapter; a
test keeps them equal); with any other version `usable()` is False and every PDF takes
pyHanko's full validation.
"""

from __future__ import annotations

import io
from functools import lru_cache
from importlib import metadata

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.reader import PdfFileReader

#: The versions this module was tested with (certgen.adapters.TESTED["pyhanko"]).
TESTED_VERSIONS: dict[str, frozenset[str]] = {"pyHanko": frozenset({"0.38.0"}),
                                              "pyhanko-certvalidator": frozenset({"0.33.0"})}


@lru_cache(maxsize=1)
def usable() -> bool:
    """The installed pyHanko and certvalidator are versions this module was tested with."""
    for name, versions in TESTED_VERSIONS.items():
        try:
            if metadata.version(name) not in versions:
                return False
        except metadata.PackageNotFoundError:
            return False
    return True


def revisions(reader: PdfFileReader) -> int:
    """How many revisions (cross-reference sections) the file has."""
    return reader.xrefs.total_revisions


def uses_only_tables(reader: PdfFileReader) -> bool:
    """No hybrid cross-reference (a table and a stream that may disagree)."""
    return not reader.xrefs.hybrid_xrefs_present


def object_offset(reader: PdfFileReader, ref: generic.IndirectObject) -> int | None:
    """The file offset the cross-reference table gives for `ref`; None when the object lives
    in an object stream or is not in the table."""
    marker = reader.xrefs[ref.reference]
    return marker if isinstance(marker, int) and not isinstance(marker, bool) else None


def parse_object(text: bytes, reader: PdfFileReader, ref: generic.IndirectObject) -> tuple[generic.PdfObject, bytes]:
    """pyHanko's parse of one object body (the bytes between `N G obj` and `endobj`), as if
    read from `reader` at `ref`, and what follows it in `text`."""
    stream = io.BytesIO(text)
    generic.read_non_whitespace(stream, seek_back=True)
    value = generic.read_object(stream, generic.Reference(ref.idnum, ref.generation, reader))
    return value, text[stream.tell():]


def parse_pdf_date(value: str) -> object:
    """A PDF date as pyHanko's non-strict reader reads a signature's /M."""
    return generic.parse_pdf_date(value, strict=False)
