"""Renewal reminder letters: one A4 page on the letterhead, bilingual paragraphs (Indonesian,
then English in italics) and a table naming the certificate; signed only on request
(docs/surveillance.md says why). A small renderer of its own until a shared letter renderer exists.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date

from reportlab.lib.colors import HexColor
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm

from .art import draw_emblem
from .fonts import FontSet, wrap
from .pdf_settings import new_canvas
from .templates import TemplateSet
from .values import date_id

PAGE_W, PAGE_H = A4
LEFT, RIGHT = 22 * mm, PAGE_W - 22 * mm
BODY_BOTTOM = 40 * mm
#: Where a signed letter's visible signature field goes (x1, y1, x2, y2), right of the body's name.
SIGNATURE_BOX = (118 * mm, 16 * mm, 188 * mm, 38 * mm)


class LetterTooLong(ValueError):
    """The letter's text does not fit on its page."""


@dataclass(frozen=True)
class ReminderLetter:
    title: tuple[str, str]
    reference: str
    dated: date
    recipient: tuple[str, ...]
    paragraphs: tuple[tuple[str, str], ...]
    #: (label in Indonesian, label in English, value)
    table: tuple[tuple[str, str, str], ...]


def render_reminder(templates: TemplateSet, fonts: FontSet, letter: ReminderLetter) -> bytes:
    """The letter as a one-page A4 PDF; `LetterTooLong` when the text would leave the page."""
    lh = templates.letterhead
    buffer = io.BytesIO()
    c = new_canvas(buffer, A4, fonts.regular)
    c.setTitle(f"{letter.title[0]} {letter.reference}")
    c.setAuthor(lh.name.id)
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
    y = PAGE_H - 50 * mm
    c.setFont(fonts.regular, 9.5)
    c.drawRightString(RIGHT, y, f"{lh.city}, {date_id(letter.dated)}")
    c.drawString(LEFT, y, f"Nomor / Reference: {letter.reference}")
    y -= 8 * mm
    c.setFont(fonts.bold, 9.5)
    c.drawString(LEFT, y, "Kepada / To:")
    for line in letter.recipient:
        c.setFont(fonts.regular, 9.5)
        for part in wrap(line, fonts.regular, 9.5, RIGHT - LEFT)[:3]:
            y -= 12
            c.drawString(LEFT, y, part)
    y -= 10 * mm
    c.setFillColor(primary)
    c.setFont(fonts.title, 13)
    c.drawCentredString(PAGE_W / 2, y, letter.title[0])
    c.setFont(fonts.italic, 10)
    c.drawCentredString(PAGE_W / 2, y - 5 * mm, letter.title[1])
    c.setFillColor(text_colour)
    y -= 10 * mm
    for text_id, text_en in letter.paragraphs:
        y = _paragraph(c, fonts.regular, 9.5, text_id, y) - 1.5 * mm
        y = _paragraph(c, fonts.italic, 8.5, text_en, y) - 3.5 * mm
    for label_id, label_en, value in letter.table:
        c.setFont(fonts.bold, 9.5)
        c.drawString(LEFT + 4 * mm, y - 9.5, label_id)
        c.setFont(fonts.italic, 7.5)
        c.drawString(LEFT + 4 * mm, y - 18.5, label_en)
        c.setFont(fonts.regular, 9.5)
        c.drawString(LEFT + 62 * mm, y - 9.5, f": {value}"[:90])
        y -= 24
    if y < BODY_BOTTOM:
        raise LetterTooLong(f"letter {letter.reference}: the text runs {(BODY_BOTTOM - y) / mm:.0f} mm off the page")
    c.setFont(fonts.bold, 9.5)
    c.drawString(LEFT, 32 * mm, lh.name.id)
    c.setFont(fonts.italic, 8)
    c.drawString(LEFT, 28 * mm, lh.name.en)
    c.showPage()
    c.save()
    return buffer.getvalue()


def _paragraph(c, font: str, size: float, text: str, y: float) -> float:
    c.setFont(font, size)
    for line in wrap(text, font, size, RIGHT - LEFT):
        y -= size * 1.3
        c.drawString(LEFT, y, line)
    return y
