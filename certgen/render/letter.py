"""A4 letters on the letterhead: apology letters, complaint answers, the yearly report's
cover. Bilingual paragraphs (Indonesian, then English in italics), an optional table of
labelled values, an optional seal QR code and the signature block with the PAdES field.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import date

from reportlab.lib.colors import HexColor
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas

from ..barcode import QrMatrix, draw_qr
from .art import draw_emblem
from .fonts import FontSet
from .fonts import wrap
from .pdf_settings import new_canvas
from .signature_field import SignatureField, add_signature_field
from .templates import Bilingual, Letterhead, TemplateSet
from .values import date_id

PAGE_W, PAGE_H = A4
LEFT, RIGHT = 22 * mm, PAGE_W - 22 * mm
QR_BOX = (LEFT, 30 * mm, 36 * mm)
#: Where the visible signature field goes: (x1, y1, x2, y2) in points.
SIGNATURE_BOX = (118 * mm, 32 * mm, 188 * mm, 55 * mm)
BODY_BOTTOM = 84 * mm


class LetterTooLong(ValueError):
    """The letter's text does not fit on its page."""


@dataclass(frozen=True)
class Letter:
    title: Bilingual
    number: str
    issued_on: date
    #: Recipient lines (name, address), printed under "Kepada / To".
    recipient: tuple[str, ...] = ()
    #: Paragraphs, each in Indonesian and English.
    paragraphs: tuple[Bilingual, ...] = ()
    #: (label in Indonesian, label in English, value) rows under the paragraphs.
    table: tuple[tuple[str, str, str], ...] = field(default_factory=tuple)


def draw_letterhead(c: Canvas, lh: Letterhead, fonts: FontSet) -> float:
    """The kop: emblem, ministry, body, address, double rule. Returns the y under it."""
    primary, text_colour = HexColor(lh.colours["primary"]), HexColor(lh.colours["text"])
    draw_emblem(c, lh, fonts, LEFT, PAGE_H - 40 * mm, 24 * mm)
    centre = (LEFT + 28 * mm + RIGHT) / 2
    c.setFillColor(text_colour)
    c.setFont(fonts.bold, 10.5)
    c.drawCentredString(centre, PAGE_H - 20 * mm, lh.ministry.id)
    c.setFont(fonts.italic, 8)
    c.drawCentredString(centre, PAGE_H - 24 * mm, lh.ministry.en)
    c.setFillColor(primary)
    c.setFont(fonts.title, 16)
    c.drawCentredString(centre, PAGE_H - 31 * mm, lh.name.id)
    c.setFillColor(text_colour)
    c.setFont(fonts.regular, 7.5)
    c.drawCentredString(centre, PAGE_H - 35.5 * mm, lh.address)
    c.drawCentredString(centre, PAGE_H - 39 * mm, lh.contact)
    c.setStrokeColor(primary)
    c.setLineWidth(1.6)
    c.line(LEFT, PAGE_H - 43 * mm, RIGHT, PAGE_H - 43 * mm)
    c.setLineWidth(0.5)
    c.line(LEFT, PAGE_H - 44.2 * mm, RIGHT, PAGE_H - 44.2 * mm)
    return PAGE_H - 50 * mm


def _paragraph(c: Canvas, font: str, size: float, text: str, y: float) -> float:
    c.setFont(font, size)
    for line in wrap(text, font, size, RIGHT - LEFT):
        y -= size * 1.3
        c.drawString(LEFT, y, line)
    return y


def render_letter(templates: TemplateSet, fonts: FontSet, letter: Letter, seal: QrMatrix | None = None,
                  signature: SignatureField | None = None) -> bytes:
    """The letter as a one-page A4 PDF; `LetterTooLong` when its text would run into the signature block."""
    lh = templates.letterhead
    buffer = io.BytesIO()
    c = new_canvas(buffer, A4, fonts.regular)
    c.setTitle(f"{letter.title.id} {letter.number}")
    c.setAuthor(lh.name.id)
    c.setSubject(f"{letter.title.en} {letter.number}")
    primary, text_colour = HexColor(lh.colours["primary"]), HexColor(lh.colours["text"])
    y = draw_letterhead(c, lh, fonts)
    c.setFillColor(text_colour)
    c.setFont(fonts.regular, 9.5)
    c.drawRightString(RIGHT, y, f"{lh.city}, {date_id(letter.issued_on)}")
    c.drawString(LEFT, y, f"Nomor / Number: {letter.number}")
    y -= 8 * mm
    if letter.recipient:
        c.setFont(fonts.bold, 9.5)
        c.drawString(LEFT, y, "Kepada / To:")
        c.setFont(fonts.regular, 9.5)
        for line in letter.recipient:
            y -= 12
            c.drawString(LEFT, y, line[:110])
        y -= 8 * mm
    c.setFillColor(primary)
    c.setFont(fonts.title, 14)
    c.drawCentredString(PAGE_W / 2, y, letter.title.id)
    c.setFont(fonts.italic, 10)
    c.drawCentredString(PAGE_W / 2, y - 5 * mm, letter.title.en)
    c.setFillColor(text_colour)
    y -= 10 * mm
    for paragraph in letter.paragraphs:
        y = _paragraph(c, fonts.regular, 9.5, paragraph.id, y) - 1.5 * mm
        y = _paragraph(c, fonts.italic, 8.5, paragraph.en, y) - 3.5 * mm
    for label_id, label_en, value in letter.table:
        c.setFont(fonts.bold, 9.5)
        c.drawString(LEFT + 4 * mm, y - 9.5, label_id)
        c.setFont(fonts.italic, 7.5)
        c.drawString(LEFT + 4 * mm, y - 18.5, label_en)
        c.setFont(fonts.regular, 9.5)
        c.drawString(LEFT + 62 * mm, y - 9.5, f": {value}"[:90])
        y -= 24
    if y < BODY_BOTTOM:
        raise LetterTooLong(f"letter {letter.number}: the text runs {(BODY_BOTTOM - y) / mm:.0f} mm into the signature block")
    if seal is not None:
        qx, qy, qside = QR_BOX
        draw_qr(c, seal, qx, qy, qside)
        c.setFont(fonts.bold, 7)
        c.drawCentredString(qx + qside / 2, qy - 3.5 * mm, lh.scan_caption.id)
        c.setFont(fonts.italic, 6.5)
        c.drawCentredString(qx + qside / 2, qy - 6.5 * mm, lh.scan_caption.en)
    sx = (SIGNATURE_BOX[0] + SIGNATURE_BOX[2]) / 2
    c.setFont(fonts.bold, 9.5)
    c.drawCentredString(sx, 68 * mm, lh.signatory_title.id)
    c.setFont(fonts.italic, 8)
    c.drawCentredString(sx, 64 * mm, lh.signatory_title.en)
    c.setFont(fonts.bold, 9.5)
    c.drawCentredString(sx, 27 * mm, lh.signatory_name)
    y = 20 * mm
    for text, font, size in ((lh.electronic_note.id, fonts.regular, 6.5), (lh.electronic_note.en, fonts.italic, 6)):
        c.setFont(font, size)
        for line in wrap(text, font, size, RIGHT - LEFT):
            y -= size * 1.25
            c.drawCentredString(PAGE_W / 2, y, line)
    if signature is not None:
        add_signature_field(c, signature, fonts.regular)
    c.showPage()
    c.save()
    return buffer.getvalue()
