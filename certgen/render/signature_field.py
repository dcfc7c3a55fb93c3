"""A PAdES signature field drawn by ReportLab together with the document, signed in place.

pyHanko signs an existing PDF by appending an incremental update: it parses the file, adds the
field, the appearance and the signature dictionary, and writes a second revision. That costs
about 3.5 ms a certificate, more than drawing the certificate. Here ReportLab writes the same
objects in the document's only revision, with a `/Contents` placeholder of fixed size and a
`/ByteRange` placeholder of fixed width (certgen/pdf_signature.py); `certgen.sign` then fills
both in place (the file's length and every offset stay the same), so the signature covers the
whole file. The ReportLab internals this needs are in certgen/adapters/reportlab.py: with an
untested ReportLab no field is drawn here and pyHanko signs by incremental update.

The objects are those pyHanko writes for the same signature (ISO 32000-2 12.8, ETSI EN
319 142-1): an AcroForm with SigFlags 3, a signature field merged with its widget annotation
(printed, locked) on page 1, a visible appearance stream, and a signature dictionary
(/Adobe.PPKLite, /ETSI.CAdES.detached, /M, /Reason, /Location, /Name), plus the developer
extensions pyHanko declares: ESIC (PAdES) and, for ECDSA and EdDSA, ISO/TS 32002.
"""

from __future__ import annotations

from typing import Callable

from reportlab.pdfbase import pdfdoc
from reportlab.pdfgen.canvas import Canvas

from ..adapters import reportlab as adapter
from ..pdf_signature import (APPEARANCE_LEADING, BYTE_RANGE_KEY, BYTE_RANGE_PLACEHOLDER, CONTENTS_KEY,
                             SignatureField, pdf_date)


def _signature_dictionary(spec: SignatureField) -> Callable[[Callable[[str], bytes]], bytes]:
    """The /Sig dictionary's bytes, with its two placeholders (`text` writes a PDF string)."""
    def write(text: Callable[[str], bytes]) -> bytes:
        entries = [b"/Type /Sig", b"/Filter /Adobe.PPKLite", b"/SubFilter /ETSI.CAdES.detached",
                   b"/Name " + text(spec.signer_name), b"/M " + text(pdf_date(spec.signed_at))]
        if spec.reason:
            entries.append(b"/Reason " + text(spec.reason))
        if spec.location:
            entries.append(b"/Location " + text(spec.location))
        entries.append(BYTE_RANGE_KEY + BYTE_RANGE_PLACEHOLDER)
        entries.append(CONTENTS_KEY + b"<" + b"0" * (2 * spec.contents_size) + b">")
        return b"<<\n" + b"\n".join(entries) + b"\n>>"
    return write


def draw_appearance(c: Canvas, name: str, spec: SignatureField, font: str, font_size: float) -> None:
    """The signature's visible text as the form `name`: on a ReportLab canvas and on the page
    writer's (certgen/render/page_writer.py), which both draw it through this one function."""
    x1, y1, x2, y2 = spec.box
    c.beginForm(name, lowerx=0, lowery=0, upperx=x2 - x1, uppery=y2 - y1)
    c.setFillColorRGB(0, 0, 0)
    c.setFont(font, font_size)
    y = y2 - y1 - 4 - font_size
    for line in spec.appearance:
        c.drawString(4, y, line)
        y -= font_size * APPEARANCE_LEADING
    c.endForm()


def add_signature_field(c: Canvas, spec: SignatureField, font: str, font_size: float = 7.0) -> None:
    """Add the field, its appearance and the signature dictionary to the current page of `c`
    (call it while page 1 is being drawn, before `showPage`)."""
    x1, y1, x2, y2 = spec.box
    appearance = f"certgen-signature-{id(spec)}"
    draw_appearance(c, appearance, spec, font, font_size)

    value = adapter.add_object(c, adapter.RawObject(_signature_dictionary(spec)), f"certgen-signature-value-{id(spec)}")
    widget = pdfdoc.PDFDictionary({
        "Type": pdfdoc.PDFName("Annot"), "Subtype": pdfdoc.PDFName("Widget"), "FT": pdfdoc.PDFName("Sig"),
        "T": pdfdoc.PDFString(spec.name), "F": 132,  # print, locked
        "Rect": pdfdoc.PDFArray([x1, y1, x2, y2]), "P": adapter.this_page(c),
        "AP": pdfdoc.PDFDictionary({"N": pdfdoc.PDFObjectReference(pdfdoc.xObjectName(appearance))}),
        "V": value,
    })
    field = adapter.add_widget(c, widget, f"certgen-signature-field-{id(spec)}")

    extensions = {"ESIC": pdfdoc.PDFDictionary({"Type": pdfdoc.PDFName("DeveloperExtensions"),
                                                "BaseVersion": pdfdoc.PDFName("1.7"), "ExtensionLevel": 1})}
    entries = {"AcroForm": pdfdoc.PDFDictionary({"Fields": pdfdoc.PDFArray([field]), "SigFlags": 3})}
    if spec.iso32002:
        extensions["ISO_"] = pdfdoc.PDFArray([pdfdoc.PDFDictionary({
            "Type": pdfdoc.PDFName("DeveloperExtensions"), "BaseVersion": pdfdoc.PDFName("2.0"),
            "ExtensionLevel": 32002, "URL": pdfdoc.PDFString("https://www.iso.org/standard/45875.html"),
            "ExtensionRevision": pdfdoc.PDFString(":2022")})])
        entries["Version"] = pdfdoc.PDFName("2.0")
    entries["Extensions"] = pdfdoc.PDFDictionary(extensions)
    for key, text in spec.catalog_text.items():
        entries[key.lstrip("/")] = pdfdoc.PDFString(text)
    adapter.set_catalog(c, entries)
