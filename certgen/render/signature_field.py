"""A PAdES signature field drawn by ReportLab together with the document, signed in place.

pyHanko signs an existing PDF by appending an incremental update: it parses the file, adds the
field, the appearance and the signature dictionary, and writes a second revision. That costs
about 3.5 ms a certificate, more than drawing the certificate. Here ReportLab writes the same
objects in the document's only revision, with a `/Contents` placeholder of fixed size and a
`/ByteRange` placeholder of fixed width; `certgen.sign` then fills both in place (the file's
length and every offset stay the same), so the signature covers the whole file.

The objects are those pyHanko writes for the same signature (ISO 32000-2 12.8, ETSI EN
319 142-1): an AcroForm with SigFlags 3, a signature field merged with its widget annotation
(printed, locked) on page 1, a visible appearance stream, and a signature dictionary
(/Adobe.PPKLite, /ETSI.CAdES.detached, /M, /Reason, /Location, /Name), plus the developer
extensions pyHanko declares: ESIC (PAdES) and, for ECDSA and EdDSA, ISO/TS 32002.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Mapping

from reportlab.pdfbase import pdfdoc
from reportlab.pdfgen.canvas import Canvas

#: Written where the /ByteRange array goes; `certgen.sign` overwrites it with the real one,
#: padded with spaces to the same width. Ten digits per offset: files up to 9.3 GB.
BYTE_RANGE_PLACEHOLDER = b"[0 0000000000 0000000000 0000000000]"
BYTE_RANGE_KEY = b"/ByteRange "
CONTENTS_KEY = b"/Contents "
APPEARANCE_LEADING = 1.2


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


class _SignatureDictionary(pdfdoc.PDFObject):
    """The /Sig dictionary, written with its two placeholders."""

    def __init__(self, spec: SignatureField) -> None:
        self.spec = spec

    def format(self, document) -> bytes:  # type: ignore[override]
        spec = self.spec
        entries = [b"/Type /Sig", b"/Filter /Adobe.PPKLite", b"/SubFilter /ETSI.CAdES.detached",
                   b"/Name " + _text(spec.signer_name, document), b"/M " + _text(pdf_date(spec.signed_at), document)]
        if spec.reason:
            entries.append(b"/Reason " + _text(spec.reason, document))
        if spec.location:
            entries.append(b"/Location " + _text(spec.location, document))
        entries.append(BYTE_RANGE_KEY + BYTE_RANGE_PLACEHOLDER)
        entries.append(CONTENTS_KEY + b"<" + b"0" * (2 * spec.contents_size) + b">")
        return b"<<\n" + b"\n".join(entries) + b"\n>>"


def _text(value: str, document) -> bytes:
    return pdfdoc.PDFString(value).format(document)


def add_signature_field(c: Canvas, spec: SignatureField, font: str, font_size: float = 7.0) -> None:
    """Add the field, its appearance and the signature dictionary to the current page of `c`
    (call it while page 1 is being drawn, before `showPage`)."""
    doc = c._doc
    x1, y1, x2, y2 = spec.box
    appearance = f"certgen-signature-{id(spec)}"
    c.beginForm(appearance, lowerx=0, lowery=0, upperx=x2 - x1, uppery=y2 - y1)
    c.setFillColorRGB(0, 0, 0)
    c.setFont(font, font_size)
    y = y2 - y1 - 4 - font_size
    for line in spec.appearance:
        c.drawString(4, y, line)
        y -= font_size * APPEARANCE_LEADING
    c.endForm()

    signature_name = f"certgen-signature-value-{id(spec)}"
    doc.Reference(_SignatureDictionary(spec), signature_name)
    widget = pdfdoc.PDFDictionary({
        "Type": pdfdoc.PDFName("Annot"), "Subtype": pdfdoc.PDFName("Widget"), "FT": pdfdoc.PDFName("Sig"),
        "T": pdfdoc.PDFString(spec.name), "F": 132,  # print, locked
        "Rect": pdfdoc.PDFArray([x1, y1, x2, y2]), "P": doc.thisPageRef(),
        "AP": pdfdoc.PDFDictionary({"N": pdfdoc.PDFObjectReference(pdfdoc.xObjectName(appearance))}),
        "V": pdfdoc.PDFObjectReference(signature_name),
    })
    widget_name = f"certgen-signature-field-{id(spec)}"
    c._addAnnotation(widget, widget_name)

    catalog = doc.Catalog
    catalog.AcroForm = pdfdoc.PDFDictionary({"Fields": pdfdoc.PDFArray([doc.refAnnotation(widget_name)]),
                                             "SigFlags": 3})
    extensions = {"ESIC": pdfdoc.PDFDictionary({"Type": pdfdoc.PDFName("DeveloperExtensions"),
                                                "BaseVersion": pdfdoc.PDFName("1.7"), "ExtensionLevel": 1})}
    extra = {}
    if spec.iso32002:
        extensions["ISO_"] = pdfdoc.PDFArray([pdfdoc.PDFDictionary({
            "Type": pdfdoc.PDFName("DeveloperExtensions"), "BaseVersion": pdfdoc.PDFName("2.0"),
            "ExtensionLevel": 32002, "URL": pdfdoc.PDFString("https://www.iso.org/standard/45875.html"),
            "ExtensionRevision": pdfdoc.PDFString(":2022")})])
        extra["Version"] = pdfdoc.PDFName("2.0")
    extra["Extensions"] = pdfdoc.PDFDictionary(extensions)
    for key, value in spec.catalog_text.items():
        extra[key.lstrip("/")] = pdfdoc.PDFString(value)
    for key, value in extra.items():
        setattr(catalog, key, value)
    # PDFCatalog writes only the keys it knows: name the new ones for this catalog object
    catalog.__NoDefault__ = [*type(catalog).__NoDefault__, *extra]
