"""Structural checks of a signed PDF that pyHanko's validation does not make, or makes too late.

* Before parsing: size, object count and declared stream lengths (`too_large`), from the raw
  bytes, so that a hostile file costs a regular-expression scan and nothing more.
* The signature dictionary (`malformed_signature`): /ByteRange four non-negative integers that
  start at 0, do not overlap and stay in the file; /Contents a non-empty byte string in the gap.
  Universal Signature Forgery lives here (Mladenov et al., CCS 2019).
* After validation (`unsigned_changes`): what pyHanko's difference analysis lets through but a
  viewer shows. Bytes after the signed revision that belong to no revision (Incremental Saving
  Attacks: objects or a trailer appended without a cross-reference section, which viewers
  that repair files display); a document information dictionary (the title a viewer shows)
  rewritten in a later revision; a later revision that adds fields (an empty signature field:
  pyHanko rates it `LTA_UPDATES`), other than a document timestamp (PAdES B-LTA).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pyhanko.pdf_utils import generic

_LENGTH = re.compile(rb"/Length\s+(\d{1,20})\b(?!\s+\d+\s+R)")
_SIZE = re.compile(rb"/Size\s+(\d{1,20})")
_EOF = re.compile(rb"%%EOF")


@dataclass(frozen=True)
class PdfLimits:
    """What a certificate PDF may cost before it is refused. An issued certificate is one
    page, about 30 objects, 90 KB, with streams under 1 MB (the photo)."""

    max_bytes: int = 20 * 1024 * 1024
    max_pages: int = 20
    max_objects: int = 5_000
    max_stream_bytes: int = 8 * 1024 * 1024
    #: Wall time for parsing and validating one PDF (5 ms is typical).
    seconds: float = 10.0


DEFAULT_LIMITS = PdfLimits()


def too_large(data: bytes, limits: PdfLimits) -> str | None:
    """Why the file is beyond `limits`, from its raw bytes; None if it is not."""
    if len(data) > limits.max_bytes:
        return f"the PDF is larger than {limits.max_bytes // 2**20} MiB"
    # every object header is "N G obj"; counting the keyword after white space is C-speed
    # (a regular expression with digit runs backtracks on a /Contents of hex zeros: 6 ms)
    # (each of those contains its own "obj": when the keyword alone is rare enough, so are they,
    # and one scan of the file does instead of four)
    objects = data.count(b"obj")
    if objects > limits.max_objects:
        objects = sum(data.count(space + b"obj") for space in (b" ", b"\n", b"\r", b"\t"))
    declared = max((int(m) for m in _SIZE.findall(data)), default=0)
    if max(objects, declared) > limits.max_objects:
        return f"the PDF has {max(objects, declared)} objects; a certificate has fewer than {limits.max_objects}"
    longest = max((int(m) for m in _LENGTH.findall(data)), default=0)
    if longest > limits.max_stream_bytes:
        return f"the PDF declares a stream of {longest} bytes; at most {limits.max_stream_bytes // 2**20} MiB"
    return None


def _integer(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def malformed_signature(sig_object: generic.DictionaryObject, size: int) -> str | None:
    """What is wrong with the signature dictionary's /ByteRange and /Contents, or None."""
    try:
        byte_range = sig_object.get("/ByteRange")
        contents = sig_object.get("/Contents")
    except Exception:  # an unresolvable reference: as bad as a missing entry
        return "the signature's /ByteRange or /Contents cannot be resolved"
    if byte_range is None or isinstance(byte_range, generic.NullObject):
        return "the signature has no /ByteRange"
    if not isinstance(byte_range, (list, tuple)) or len(byte_range) != 4 or not all(_integer(v) for v in byte_range):
        return "the signature's /ByteRange is not four integers"
    start, first, second, last = (int(v) for v in byte_range)
    if min(start, first, second, last) < 0:
        return "the signature's /ByteRange has a negative number"
    if start != 0:
        return "the signature's /ByteRange does not start at the beginning of the file"
    if second < first:
        return "the signature's /ByteRange parts overlap"
    if second + last > size:
        return "the signature's /ByteRange points beyond the end of the file"
    if contents is None or isinstance(contents, generic.NullObject):
        return "the signature has no /Contents"
    if not isinstance(contents, (bytes, str)) or not contents:
        return "the signature's /Contents is not a non-empty byte string"
    if second - first < 2 * len(contents):
        return "the signature's /Contents does not fit the gap in its /ByteRange"
    return None


def trailing_bytes(data: bytes) -> str | None:
    """Anything but white space after the last %%EOF marker."""
    ends = [m.end() for m in _EOF.finditer(data)]
    if not ends:
        return "the PDF has no end-of-file marker"
    if data[ends[-1]:].strip(b" \t\r\n\x00\x0c"):
        return f"{len(data) - ends[-1]} bytes follow the end of the file (an incremental saving attack)"
    return None


def unsigned_changes(reader, signature, covers_whole_file: bool) -> str | None:
    """What changed after the signed revision that pyHanko's analysis does not report."""
    if covers_whole_file:
        return None
    if signature.signed_revision >= reader.xrefs.total_revisions - 1:
        return "bytes after the signed revision belong to no revision (an incremental saving attack)"
    signed = reader.get_historical_resolver(signature.signed_revision)
    signed_info = signed.trailer_view.raw_get("/Info") if "/Info" in signed.trailer_view else None
    current_info = reader.trailer_view.raw_get("/Info") if "/Info" in reader.trailer_view else None
    before = signed(signed_info) if isinstance(signed_info, generic.IndirectObject) else signed_info
    after = current_info.get_object() if isinstance(current_info, generic.IndirectObject) else current_info
    if _field_count(signed.root) != _field_count(reader.root):
        return "a form field was added after signing"
    if any(_text(before, key) != _text(after, key) for key in _SHOWN_INFO):
        return "the document information (title, subject) was rewritten after signing"
    return None


#: What viewers show of the document information (dates and producer change with every save).
_SHOWN_INFO = ("/Title", "/Author", "/Subject", "/Keywords", "/Creator")


def _text(info, key: str) -> str | None:
    value = info.get(key) if isinstance(info, dict) else None
    return None if value is None else str(value)


def _field_count(root) -> int:
    """Form fields, not counting document timestamps (PAdES B-LTA adds one after signing)."""
    form = root["/AcroForm"] if "/AcroForm" in root else None
    fields = form["/Fields"] if isinstance(form, dict) and "/Fields" in form else None
    if not isinstance(fields, (list, tuple)):
        return 0
    return sum(1 for field in fields if not _document_timestamp(field))


def _document_timestamp(field) -> bool:
    field = field.get_object() if isinstance(field, generic.IndirectObject) else field
    value = field.get("/V") if isinstance(field, dict) else None
    value = value.get_object() if isinstance(value, generic.IndirectObject) else value
    return isinstance(value, dict) and value.get("/Type") == "/DocTimeStamp"
