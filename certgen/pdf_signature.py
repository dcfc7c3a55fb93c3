"""What drawing and signing agree on about a PDF signature field (imported by both).

`certgen.render.signature_field` draws a field from a `SignatureField` with the placeholders
below; `certgen.sign` builds the spec and fills the placeholders in place. Neither imports the
other: signing needs no rendering code, rendering no signing library. No third-party imports.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Mapping

#: The signature field's name (also used by pyHanko's incremental path).
FIELD_NAME = "Tanda-tangan-elektronik"
#: Written where the /ByteRange array goes; `certgen.sign` overwrites it with the real one,
#: padded with spaces to the same width. Ten digits per offset: files up to 9.3 GB.
BYTE_RANGE_PLACEHOLDER = b"[0 0000000000 0000000000 0000000000]"
BYTE_RANGE_KEY = b"/ByteRange "
CONTENTS_KEY = b"/Contents "
#: Line spacing of the visible stamp, in font sizes.
APPEARANCE_LEADING = 1.2
#: The visible stamp: Indonesian first, English second (also pyHanko's stamp on the other path).
STAMP_TEXT = "Ditandatangani secara elektronik oleh\nDigitally signed by\n%(signer)s\n%(ts)s"


@dataclass(frozen=True)
class SignatureField:
    """What the signature field of one document says, and how much room its CMS gets."""

    name: str
    box: tuple[float, float, float, float]  # x1, y1, x2, y2 on page 1, in points
    signed_at: datetime
    signer_name: str
    contents_size: int  # bytes reserved for the DER CMS container (written as twice as many hex digits)
    reason: str | None = None
    location: str | None = None
    appearance: tuple[str, ...] = ()  # lines of the visible stamp
    iso32002: bool = True  # declare ISO/TS 32002 (ECDSA and EdDSA in PDF), as pyHanko does
    catalog_text: Mapping[str, str] = field(default_factory=dict)  # extra text entries of the catalog


def pdf_date(moment: datetime) -> str:
    """A PDF date string in UTC (ISO 32000-2 7.9.4)."""
    return "D:" + moment.astimezone(timezone.utc).strftime("%Y%m%d%H%M%S") + "Z"
