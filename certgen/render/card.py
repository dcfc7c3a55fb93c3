"""The certified-person card (ISO/IEC 7810 ID-1, 85.60 x 53.98 mm) and its A4 print sheets.

The card uses two fonts (regular and bold; English lines in regular, in a muted colour):
every font embedded costs about 0.5 ms per file, and cards are printed by the thousand.

One drawing routine per side, placed by translation: the card PDF (page 1 front, page 2 back,
for card printers) and the print sheets (10 cards, crop marks, the back page mirrored for
long-edge duplex printing) draw exactly the same card. On the page writer a sheet does not
draw its cards again: it places each card file's finished pages as forms
(certgen/render/placed_pages.py), kept from drawing the card file (`_drawn`: the last sheet's
worth) or, on a rerun, drawn again on a throwaway canvas; either way the same bytes.
"""

from __future__ import annotations

import io
from collections import OrderedDict
from dataclasses import dataclass, fields
from datetime import date
from typing import Sequence

from reportlab.lib.colors import HexColor
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas

from ..barcode import QUIET_ZONE, QrMatrix, draw_qr
from ..model import PersonRecord
from ..seal import SHEET_KEYWORD
from .art import draw_emblem, draw_guilloche, draw_microtext
from . import page_writer
from .pdf_settings import new_canvas
from .placed_pages import DrawnPages, drawn_pages, write_placed
from .signature_field import SignatureField
from .fixed_parts import token
from .fonts import FontSet, fit_lines, wrap
from .templates import TemplateSet
from .values import date_id, field_value

CARD_W, CARD_H = 85.60 * mm, 53.98 * mm
MIN_MODULE = 0.33 * mm
QR_MIN_SIDE, QR_MAX_SIDE = 30 * mm, 46 * mm
TEXT_X = 25.5 * mm
TEXT_W = CARD_W - TEXT_X - 3 * mm
NAME_SIZE, NAME_MIN = 7.5, 5.0
#: Print sheet: 2 columns x 5 rows, centred on A4, gutters between cards.
COLUMNS, ROWS = 2, 5
GUTTER_X, GUTTER_Y = 6 * mm, 4 * mm
CARDS_PER_SHEET = COLUMNS * ROWS


@dataclass(frozen=True)
class CardData:
    """What one card prints."""

    number: str
    record: PersonRecord
    seal: QrMatrix
    photo: str | None
    issued_on: date  # the day its certificate was issued, printed in the signature block
    #: The card's edition (docs/issuing.md, "Card editions"): printed on the back from edition 2 on.
    edition: int = 1
    #: A successor's card: the number of the certificate it replaces, printed under its own (back).
    replaces: str | None = None


def qr_side(seal: QrMatrix) -> float:
    """Side of the QR square on the card: modules of at least 0.33 mm, quiet zone included."""
    return max(QR_MIN_SIDE, (seal.size + 2 * QUIET_ZONE) * MIN_MODULE)


def card_fit_problems(templates: TemplateSet, fonts: FontSet, record: PersonRecord) -> list[tuple[str, str]]:
    """Values that do not fit the card."""
    fonts.prepare(record)
    problems = []
    for spec in templates.card.front:
        value = _front_value(spec.field, record, "SK-0000-000000-0")
        if value is None:
            continue
        size = NAME_SIZE if spec.field == "name" else 6.2
        if fit_lines(value, fonts.bold, TEXT_W, size, NAME_MIN if spec.field == "name" else 4.5, max(spec.lines, 2 if spec.field == "name" else 1)) is None:
            problems.append((spec.field, "too long for the card"))
    return problems


def _front_value(field: str, record: PersonRecord, number: str) -> str | None:
    if field == "number":
        return number
    from .templates import Bilingual, FieldSpec
    value = field_value(record, FieldSpec(field, Bilingual("", "")))
    return value if isinstance(value, str) else None


def _card_ground(c: Canvas, templates: TemplateSet) -> tuple[HexColor, HexColor]:
    """White card with the guilloche; saves the graphics state. Returns (primary, text) colours."""
    lh = templates.letterhead
    c.saveState()
    c.setFillColorRGB(1, 1, 1)
    c.rect(0, 0, CARD_W, CARD_H, stroke=0, fill=1)
    draw_guilloche(c, 0, 0, CARD_W, CARD_H, lh.colours["guilloche"], samples=60)
    return HexColor(lh.colours["primary"]), HexColor(lh.colours["text"])


def draw_front(c: Canvas, templates: TemplateSet, fonts: FontSet, card: CardData) -> None:
    """The front, with the card's lower left corner at the origin."""
    lh = templates.letterhead
    primary, text_colour = _card_ground(c, templates)
    page_writer.fixed(c, ("card front", token(templates), token(fonts)), lambda c: _front_band(c, templates, fonts))
    # photo
    px, py, pw, ph = 3.5 * mm, 5.5 * mm, 19 * mm, 25.3 * mm
    if card.photo:
        c.drawImage(card.photo, px, py, pw, ph, preserveAspectRatio=True, anchor="c")
    else:
        c.setFillColorRGB(0.93, 0.94, 0.96)
        c.rect(px, py, pw, ph, stroke=0, fill=1)
    c.setStrokeColor(primary)
    c.setLineWidth(0.4)
    c.rect(px, py, pw, ph, stroke=1, fill=0)
    # fields
    y = CARD_H - 14 * mm
    for spec in templates.card.front:
        value = _front_value(spec.field, card.record, card.number)
        if value is None:
            continue
        c.setFillColorRGB(0.35, 0.38, 0.42)
        c.setFont(fonts.regular, 4.3)
        c.drawString(TEXT_X, y, f"{spec.label.id} / {spec.label.en}")
        y -= 1.2 * mm
        is_name = spec.field == "name"
        size = NAME_SIZE if is_name else 6.2
        fitted = fit_lines(value, fonts.bold, TEXT_W, size, NAME_MIN if is_name else 4.5,
                           max(spec.lines, 2 if is_name else 1)) or (4.5, wrap(value, fonts.bold, 4.5, TEXT_W))
        c.setFillColor(primary if is_name else text_colour)
        c.setFont(fonts.bold, fitted[0])
        for line in fitted[1]:
            y -= fitted[0] * 1.08
            c.drawString(TEXT_X, y, line)
        y -= 2.9 * mm
    draw_microtext(c, fonts, lh.microtext, 1.5 * mm, 1.8 * mm, CARD_W - 3 * mm, 1.0, lh.colours["accent"])
    c.restoreState()


def _front_band(c: Canvas, templates: TemplateSet, fonts: FontSet) -> None:
    """The band at the top (emblem, body, the card's title) and the rule at the foot."""
    lh = templates.letterhead
    primary = HexColor(lh.colours["primary"])
    c.setFillColor(primary)
    c.rect(0, CARD_H - 11 * mm, CARD_W, 11 * mm, stroke=0, fill=1)
    c.rect(0, 0, CARD_W, 1.2 * mm, stroke=0, fill=1)
    draw_emblem(c, lh, fonts, 2.5 * mm, CARD_H - 9.8 * mm, 8.6 * mm, font=fonts.bold)
    c.setFillColorRGB(1, 1, 1)
    c.setFont(fonts.bold, 7)
    c.drawString(12.5 * mm, CARD_H - 4.3 * mm, lh.name.id)
    c.setFont(fonts.bold, 5.2)
    c.drawString(12.5 * mm, CARD_H - 7.1 * mm, templates.card.title.id)
    c.setFont(fonts.regular, 4.8)
    c.drawString(12.5 * mm, CARD_H - 9.4 * mm, templates.card.title.en)


def draw_back(c: Canvas, templates: TemplateSet, fonts: FontSet, card: CardData) -> None:
    """The back, with the card's lower left corner at the origin."""
    lh = templates.letterhead
    primary, text_colour = _card_ground(c, templates)
    side = qr_side(card.seal)
    qx, qy = 3 * mm, (CARD_H - side) / 2
    draw_qr(c, card.seal, qx, qy, side)
    x = qx + side + 2.5 * mm
    width = CARD_W - x - 3 * mm
    y = CARD_H - 6 * mm
    c.setFillColor(primary)
    c.setFont(fonts.bold, 6.5)
    c.drawString(x, y, lh.scan_caption.id)
    c.setFont(fonts.regular, 5.5)
    c.drawString(x, y - 2.6 * mm, lh.scan_caption.en)
    c.setFillColor(text_colour)
    c.setFont(fonts.bold, 6.3)
    c.drawString(x, y - 6.4 * mm, card.number + (f"  ·  {EDITION_LABEL} {card.edition}" if card.edition > 1 else ""))
    y = BACK_TEXT_TOP
    paragraphs = _back_paragraphs(templates, fonts, width)
    if card.replaces and _paragraphs_bottom(paragraphs, y - REPLACES_SHIFT) >= SIGNATURE_TOP:  # printed if it fits
        c.setFont(fonts.regular, REPLACES_SIZE)
        c.drawString(x, CARD_H - 14.8 * mm, f"{REPLACES_LABEL} {card.replaces}")
        y -= REPLACES_SHIFT
    if _paragraphs_bottom(paragraphs, y) < SIGNATURE_TOP:
        raise ValueError(f"{card.number}: the card's back text (templates/card.yaml, back_text) runs into the signature block")
    page_writer.fixed(c, ("card back", token(templates), token(fonts), x, y, card.issued_on),
                      lambda c: _back_text(c, templates, fonts, x, y, card.issued_on))
    c.restoreState()


def _back_text(c: Canvas, templates: TemplateSet, fonts: FontSet, x: float, y: float, issued_on: date) -> None:
    """From the back text (at `y`) down: the same on every card of a day and QR size."""
    lh = templates.letterhead
    primary, text_colour = HexColor(lh.colours["primary"]), HexColor(lh.colours["text"])
    width = CARD_W - x - 3 * mm
    muted = HexColor("#4a5568")
    paragraphs = _back_paragraphs(templates, fonts, width)
    for (size, lines), colour in zip(paragraphs, (text_colour, muted)):
        c.setFillColor(colour)
        c.setFont(fonts.regular, size)
        for line in lines:
            c.drawString(x, y, line)
            y -= size * 1.2
        y -= 1 * mm
    _signature_block(c, templates, fonts, x, issued_on, text_colour, muted)
    c.setFillColor(text_colour)
    c.setFont(fonts.bold, 5.2)
    c.drawString(x, 7.2 * mm, lh.name.id)
    c.setFont(fonts.regular, 3.8)
    for i, line in enumerate(wrap(lh.contact, fonts.regular, 3.8, width)[:2]):
        c.drawString(x, 5 * mm - i * 1.6 * mm, line)
    c.setFillColor(primary)
    c.rect(0, 0, CARD_W, 1.2 * mm, stroke=0, fill=1)
    draw_microtext(c, fonts, lh.microtext, 1.5 * mm, CARD_H - 1.6 * mm, CARD_W - 3 * mm, 1.0, lh.colours["accent"])


BACK_TEXT_TOP = CARD_H - 16 * mm
#: Under the number on a successor's card ("menggantikan" is Indonesian for "replaces").
REPLACES_LABEL = "menggantikan/replaces"
REPLACES_SIZE = 4.2
#: How far the back text moves down to make room for that line.
REPLACES_SHIFT = 1.8 * mm
#: Printed after the number on a reprinted card ("edisi" is Indonesian for edition).
EDITION_LABEL = "edisi/edition"
#: The signature block on the back: (what, font role, size, baseline, muted), top line first.
SIGNATURE_LINES = (("place and date", "regular", 4.8, 22.3 * mm, False),
                   ("signatory title", "bold", 4.6, 19.7 * mm, False),
                   ("signatory title (en)", "regular", 4.2, 17.5 * mm, True),
                   ("signatory name", "bold", 5.4, 14.6 * mm, False))
SIGNATURE_TOP = SIGNATURE_LINES[0][3] + SIGNATURE_LINES[0][2]  # the first baseline plus that line's size


def _back_paragraphs(templates: TemplateSet, fonts: FontSet, width: float) -> list[tuple[float, list[str]]]:
    """The back text, Indonesian then English: (size, lines) each."""
    text = templates.card.back_text
    return [(size, wrap(t, fonts.regular, size, width)) for size, t in ((4.6, text.id), (4.4, text.en))]


def _paragraphs_bottom(paragraphs: list[tuple[float, list[str]]], y: float) -> float:
    """Where the last line of `paragraphs` drawn from `y` down ends (its baseline)."""
    for size, lines in paragraphs:
        y -= size * 1.2 * len(lines) + 1 * mm
    return y + 1 * mm + paragraphs[-1][0] * 1.2


def card_template_problems(templates: TemplateSet, fonts: FontSet) -> list[str]:
    """What in the card template cannot be printed (checked before a person batch starts)."""
    x = 3 * mm + QR_MIN_SIDE + 2.5 * mm
    width = CARD_W - x - 3 * mm
    problems = []
    if _paragraphs_bottom(_back_paragraphs(templates, fonts, width), BACK_TEXT_TOP) < SIGNATURE_TOP:
        problems.append("card.yaml: back_text is too long: it runs into the signature block; shorten it")
    lines = _signature_texts(templates, date(2026, 9, 30))  # September: the longest month name
    for what, role, size, _, _ in SIGNATURE_LINES:
        if fonts.width(lines[what], getattr(fonts, role), size) > width:
            problems.append(f"letterhead.yaml: the {what} is too long for the card's signature block")
    return problems


def _signature_texts(templates: TemplateSet, issued_on: date) -> dict[str, str]:
    lh = templates.letterhead
    return {"place and date": f"{lh.city}, {date_id(issued_on)}", "signatory title": lh.signatory_title.id,
            "signatory title (en)": lh.signatory_title.en, "signatory name": lh.signatory_name}


def _signature_block(c: Canvas, templates: TemplateSet, fonts: FontSet, x: float, issued_on: date, text_colour,
                     muted) -> None:
    """Place and date of issue, the signatory's title and name: the card's signature block,
    as on the certificate (the seal on the other side carries the digital signature)."""
    texts = _signature_texts(templates, issued_on)
    for what, role, size, baseline, is_muted in SIGNATURE_LINES:
        c.setFillColor(muted if is_muted else text_colour)
        c.setFont(getattr(fonts, role), size)
        c.drawString(x, baseline, texts[what])


def render_card(templates: TemplateSet, fonts: FontSet, card: CardData, signature: SignatureField | None = None) -> bytes:
    """The card PDF: ID-1 page size, page 1 front, page 2 back; with `signature`, its (invisible)
    PAdES field on page 1, ready to be signed in place (certgen/card_files.py)."""
    fonts.prepare(card.record)
    if qr_side(card.seal) > QR_MAX_SIDE:
        raise ValueError(f"{card.number}: the seal is too large for the card (QR version {card.seal.version})")
    kept: list[page_writer.PageCanvas] = []
    pdf = page_writer.render((CARD_W, CARD_H), fonts.regular,
                             lambda c: _draw_card(c, templates, fonts, card, signature), card.record, keep=kept)
    if kept:  # for the sheet of its group (render_sheet)
        _remember(templates, fonts, card, drawn_pages(kept[0]))
    return pdf


def _draw_card(c: Canvas, templates: TemplateSet, fonts: FontSet, card: CardData,
               signature: SignatureField | None) -> None:
    c.setTitle(f"{templates.card.title.id} {card.number}")
    c.setAuthor(templates.letterhead.name.id)
    draw_front(c, templates, fonts, card)
    if signature is not None:
        page_writer.add_signature_field(c, signature, fonts.regular)
    c.showPage()
    draw_back(c, templates, fonts, card)
    c.showPage()
    c.save()


def sheet_positions() -> list[tuple[float, float]]:
    """Lower left corners of the 10 card places on an A4 front page, row by row from the top."""
    page_w, page_h = A4
    block_w = COLUMNS * CARD_W + (COLUMNS - 1) * GUTTER_X
    block_h = ROWS * CARD_H + (ROWS - 1) * GUTTER_Y
    x0, y0 = (page_w - block_w) / 2, (page_h - block_h) / 2
    return [(x0 + col * (CARD_W + GUTTER_X), y0 + (ROWS - 1 - row) * (CARD_H + GUTTER_Y))
            for row in range(ROWS) for col in range(COLUMNS)]


def mirrored(index: int) -> int:
    """The place on the back page behind place `index` of the front (long-edge flip)."""
    row, col = divmod(index, COLUMNS)
    return row * COLUMNS + (COLUMNS - 1 - col)


def render_sheet(templates: TemplateSet, fonts: FontSet, cards: Sequence[CardData], label: str = "") -> bytes:
    """One A4 print sheet of up to 10 cards: page 1 fronts, page 2 backs, for duplex. On the
    page writer each card's pages are placed as drawn for its card file (drawn again if they
    were not drawn in this process just before: a rerun), else ReportLab draws every card."""
    fonts.prepare(*(card.record for card in cards))
    if not 1 <= len(cards) <= CARDS_PER_SHEET:
        raise ValueError(f"a sheet holds 1 to {CARDS_PER_SHEET} cards, not {len(cards)}")
    records = [card.record for card in cards]
    if page_writer.usable() and not page_writer.needs_fallback(getattr(r, f.name) for r in records for f in fields(r)):
        drawn = [_recall(templates, fonts, card) or _draw_again(templates, fonts, card) for card in cards]
        if all(d is not None for d in drawn):
            return _placed_sheet(fonts, drawn, label)  # type: ignore[arg-type]
        fonts.prepare(*records)
    buffer = io.BytesIO()
    _draw_sheet(new_canvas(buffer, A4, fonts.regular), templates, fonts, cards, label)
    return buffer.getvalue()


#: Cards drawn on the page writer lately, by id of their CardData: (card, templates, fonts, pages).
#: As many as a sheet holds: a group's sheet follows its cards, which are dropped once placed.
_drawn: OrderedDict[int, tuple[CardData, TemplateSet, FontSet, DrawnPages]] = OrderedDict()


def _remember(templates: TemplateSet, fonts: FontSet, card: CardData, drawn: DrawnPages) -> None:
    _drawn[id(card)] = (card, templates, fonts, drawn)
    _drawn.move_to_end(id(card))
    if len(_drawn) > CARDS_PER_SHEET:
        _drawn.popitem(last=False)


def _recall(templates: TemplateSet, fonts: FontSet, card: CardData) -> DrawnPages | None:
    """The pages drawn for this very card (the same objects: a frozen CardData, its templates)."""
    found = _drawn.pop(id(card), None)
    if found is None or found[0] is not card or found[1] is not templates or found[2] != fonts:
        return None
    return found[3]


def _draw_again(templates: TemplateSet, fonts: FontSet, card: CardData) -> DrawnPages | None:
    """The card's pages drawn on a throwaway page writer canvas, unsigned (the signature field
    adds nothing to the pages); None when the page writer does not draw this card."""
    fonts.prepare(card.record)
    canvas = page_writer.PageCanvas(io.BytesIO(), (CARD_W, CARD_H), fonts.regular)
    try:
        _draw_card(canvas, templates, fonts, card, None)  # type: ignore[arg-type]
    except page_writer.Unsupported:
        return None
    return drawn_pages(canvas)


def _placed_sheet(fonts: FontSet, drawn: Sequence[DrawnPages], label: str) -> bytes:
    """The sheet's own marks and label drawn on the page writer, each card's page placed as a
    form XObject (certgen/render/placed_pages.py)."""
    canvas = page_writer.PageCanvas(io.BytesIO(), A4, fonts.regular)
    _draw_sheet(canvas, None, fonts, drawn, label)  # type: ignore[arg-type]
    placed = [[(f"C{i + 1}", pages, side) for i, pages in enumerate(drawn)] for side in (0, 1)]
    return write_placed(drawn_pages(canvas), placed)


def _draw_sheet(c: Canvas, templates: TemplateSet | None, fonts: FontSet, cards: Sequence[CardData | DrawnPages],
                label: str) -> None:
    """The sheet: each card drawn at its place (`templates` None: a `Do` of the form `Cn` of
    the n-th card's page, certgen/render/placed_pages.py), crop marks, label."""
    positions = sheet_positions()
    c.setTitle(f"Lembar cetak kartu / Card print sheet {label}".strip())
    c.setKeywords(SHEET_KEYWORD)
    for side, draw in (("front", draw_front), ("back", draw_back)):
        for i, card in enumerate(cards):
            place = i if side == "front" else mirrored(i)
            c.saveState()
            c.translate(*positions[place])
            if templates is None:
                c.addLiteral(f"/C{i + 1} Do")
            else:
                draw(c, templates, fonts, card)  # type: ignore[arg-type]
            c.restoreState()
        _crop_marks(c, positions)
        c.setFont(fonts.regular, 6)
        c.setFillColorRGB(0.4, 0.4, 0.4)
        c.drawString(8 * mm, 2.5 * mm, f"{label} · {'depan / front' if side == 'front' else 'belakang / back (long-edge duplex)'}")
        c.showPage()
    c.save()


def _crop_marks(c: Canvas, positions: list[tuple[float, float]]) -> None:
    """Marks in the page margins on every card edge line, 3 mm clear of the cards."""
    page_w, page_h = A4
    xs = sorted({x for x, _ in positions} | {x + CARD_W for x, _ in positions})
    ys = sorted({y for _, y in positions} | {y + CARD_H for _, y in positions})
    left, right = min(xs), max(xs)
    bottom, top = min(ys), max(ys)
    c.saveState()
    c.setStrokeColorRGB(0, 0, 0)
    c.setLineWidth(0.25)
    length, gap = 4 * mm, 1 * mm
    for x in xs:
        c.line(x, top + gap, x, min(top + gap + length, page_h - 1 * mm))
        c.line(x, bottom - gap, x, max(bottom - gap - length, 1 * mm))
    for y in ys:
        c.line(left - gap - length, y, left - gap, y)
        c.line(right + gap, y, right + gap + length, y)
    c.restoreState()
