"""A4 certificates (product, person, training): template + record + seal -> unsigned PDF.

The geometry is here; all wording, labels, colours and the field list come from the
templates. `check_fit` runs the same fitting as drawing, so the intake can reject a value
that would not fit before anything is issued. The signature block leaves `SIGNATURE_BOX`
free for the visible PAdES signature field.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from reportlab.lib.colors import HexColor
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas

from ..barcode import QrMatrix, draw_qr
from ..model import Record
from . import page_writer
from .art import define_guilloche, draw_emblem, draw_guilloche, draw_microtext
from .fixed_parts import token
from .signature_field import SignatureField
from .fonts import FontSet, fit_lines, fit_size, wrap
from .templates import Bilingual, DocumentTemplate, FieldSpec, Letterhead, TemplateSet
from .values import Printable, date_id, record_fields

PAGE_W, PAGE_H = A4
LEFT, RIGHT = 22 * mm, PAGE_W - 22 * mm
LABEL_X, VALUE_X = 24 * mm, 76 * mm
PHOTO_W, PHOTO_H = 30 * mm, 40 * mm
VALUE_SIZE, VALUE_MIN = 10.5, 7.5
HOLDER_SIZE, HOLDER_MIN = 20.0, 9.0
QR_BOX = (LEFT, 37 * mm, 40 * mm)  # x, y, side (quiet zone included)
#: Where the visible signature field goes: (x1, y1, x2, y2) in points.
SIGNATURE_BOX = (118 * mm, 39 * mm, 188 * mm, 62 * mm)
FIELDS_TOP = 194 * mm
GUILLOCHE_BAND = (12 * mm, 12 * mm, PAGE_W - 24 * mm, 16 * mm)  # x, y, width, height
FIELDS_BOTTOM = 97 * mm


@dataclass(frozen=True)
class FitProblem:
    field: str
    message: str


def value_width(template: DocumentTemplate) -> float:
    return (RIGHT - PHOTO_W - 4 * mm if template.photo else RIGHT) - VALUE_X


def _value_lines(value: Printable, spec: FieldSpec, template: DocumentTemplate, fonts: FontSet):
    """[(font, size, lines)] for a value, or None when it does not fit."""
    width = value_width(template)
    if isinstance(value, Bilingual):
        first = fit_lines(value.id, fonts.regular, width, VALUE_SIZE, VALUE_MIN, spec.lines)
        second = fit_lines(value.en, fonts.italic, width, VALUE_SIZE - 1.5, VALUE_MIN - 1, spec.lines)
        if first is None or second is None:
            return None
        return [(fonts.regular, first[0], first[1]), (fonts.italic, second[0], second[1])]
    fitted = fit_lines(value, fonts.regular, width, VALUE_SIZE, VALUE_MIN, spec.lines)
    return None if fitted is None else [(fonts.regular, fitted[0], fitted[1])]


def check_fit(templates: TemplateSet, fonts: FontSet, record: Record) -> list[FitProblem]:
    """Values of `record` that cannot be printed in their place, with why."""
    fonts.prepare(record)
    template = templates.documents[record.kind]
    problems = []
    if fit_size(record.holder, fonts.title, RIGHT - LEFT, HOLDER_SIZE, HOLDER_MIN) is None:
        problems.append(FitProblem(template.holder.field, f"too long to print on one line even at {HOLDER_MIN:g} pt"))
    height = 0.0
    for spec, value in record_fields(record, template):
        lines = _value_lines(value, spec, template, fonts)
        if lines is None:
            problems.append(FitProblem(spec.field, f"too long for the layout: more than {spec.lines} line(s) even at {VALUE_MIN:g} pt"))
            continue
        height += _row_height(lines)
    if not problems and height > FIELDS_TOP - FIELDS_BOTTOM:
        problems.append(FitProblem("(all fields)", "the fields together are too long for the page"))
    return problems


def _row_height(lines) -> float:
    text = sum(size * 1.2 * len(ls) for _, size, ls in lines)
    return max(text, 9.5 * 1.2 + 7.5 * 1.2) + 1.6 * mm


def render_certificate(templates: TemplateSet, fonts: FontSet, record: Record, number: str, seal: QrMatrix,
                       issued_on: date, photo: str | None = None, signature: SignatureField | None = None,
                       replaces: str | None = None) -> bytes:
    """The A4 PDF of a certificate: unsigned, or with `signature`'s field in SIGNATURE_BOX ready
    to be signed in place (`certgen.sign.PdfSealer.complete`). Drawn by the page writer when it
    can (certgen/render/page_writer.py), else by ReportLab: the same drawing code either way.
    `replaces`: the number of the certificate this successor replaces (docs/lifecycle.md),
    printed under its own number."""
    fonts.prepare(record)
    return page_writer.render(A4, fonts.regular, lambda c: _draw_certificate(
        c, templates, fonts, record, number, seal, issued_on, photo, signature, replaces), record)


def _draw_certificate(c, templates: TemplateSet, fonts: FontSet, record: Record, number: str, seal: QrMatrix,
                      issued_on: date, photo: str | None, signature: SignatureField | None,
                      replaces: str | None = None) -> None:
    """Draw part by part, top to bottom, on a ReportLab canvas or the page writer's."""
    template = templates.documents[record.kind]
    lh = templates.letterhead
    c.setTitle(f"{template.title.id} {number}")
    c.setAuthor(lh.name.id)
    c.setSubject(f"{template.title.en} {number}: {record.holder}")
    colours = _Colours(*(HexColor(lh.colours[k]) for k in ("primary", "accent", "text")))
    # parts the same for every holder are fixed parts (page_writer.fixed): drawn once per process
    define_guilloche(c, *GUILLOCHE_BAND[2:], lh.colours["guilloche"])  # a part defines no form
    page_writer.fixed(c, ("certificate head", token(lh), token(fonts)),
                      lambda c: (draw_frame(c, lh, fonts, colours), draw_letterhead(c, lh, fonts, colours)))
    y = draw_title_and_holder(c, template, fonts, colours, record, number, replaces)
    y = draw_fields(c, template, fonts, colours, record, photo)
    page_writer.fixed(c, ("certificate statement", token(template), token(fonts), y),
                      lambda c: draw_statement(c, template, fonts, y))
    qx, qy, qside = QR_BOX
    draw_qr(c, seal, qx, qy, qside)
    page_writer.fixed(c, ("certificate foot", token(lh), token(fonts), issued_on),
                      lambda c: (draw_seal_caption(c, lh, fonts), draw_signature_block(c, lh, fonts, colours, issued_on),
                                 draw_electronic_note(c, lh, fonts)))
    if signature is not None:
        page_writer.add_signature_field(c, signature, fonts.regular)
    c.showPage()
    c.save()


@dataclass(frozen=True)
class _Colours:
    primary: HexColor
    accent: HexColor
    text: HexColor


def draw_frame(c: Canvas, lh: Letterhead, fonts: FontSet, colours: _Colours) -> None:
    """Guilloche band, double frame and microtext lines."""
    draw_guilloche(c, *GUILLOCHE_BAND, lh.colours["guilloche"])
    c.setStrokeColor(colours.primary)
    c.setLineWidth(1.4)
    c.rect(10 * mm, 10 * mm, PAGE_W - 20 * mm, PAGE_H - 20 * mm)
    c.setLineWidth(0.4)
    c.rect(12 * mm, 12 * mm, PAGE_W - 24 * mm, PAGE_H - 24 * mm)
    draw_microtext(c, fonts, lh.microtext, 13 * mm, PAGE_H - 11.5 * mm, PAGE_W - 26 * mm, 1.3, lh.colours["accent"])
    draw_microtext(c, fonts, lh.microtext, 13 * mm, 10.6 * mm, PAGE_W - 26 * mm, 1.3, lh.colours["accent"])


def draw_letterhead(c: Canvas, lh: Letterhead, fonts: FontSet, colours: _Colours) -> None:
    """The kop: emblem, ministry, body name, address and contact, double rule."""
    draw_emblem(c, lh, fonts, LEFT, PAGE_H - 44 * mm, 24 * mm)
    centre = (LEFT + 28 * mm + RIGHT) / 2
    c.setFillColor(colours.text)
    c.setFont(fonts.bold, 10.5)
    c.drawCentredString(centre, PAGE_H - 25 * mm, lh.ministry.id)
    c.setFont(fonts.italic, 7.5)
    c.drawCentredString(centre, PAGE_H - 28.5 * mm, lh.ministry.en)
    c.setFillColor(colours.primary)
    c.setFont(fonts.title, 17)
    c.drawCentredString(centre, PAGE_H - 35 * mm, lh.name.id)
    c.setFillColor(colours.text)
    c.setFont(fonts.regular, 7.5)
    c.drawCentredString(centre, PAGE_H - 39.5 * mm, lh.address)
    c.drawCentredString(centre, PAGE_H - 43 * mm, lh.contact)
    c.setStrokeColor(colours.primary)
    c.setLineWidth(1.6)
    c.line(LEFT, PAGE_H - 47 * mm, RIGHT, PAGE_H - 47 * mm)
    c.setLineWidth(0.5)
    c.line(LEFT, PAGE_H - 48.2 * mm, RIGHT, PAGE_H - 48.2 * mm)


#: The line under a successor's number (the public page's wording, docs/lifecycle.md).
REPLACES_LABEL = "Menggantikan sertifikat / Replaces certificate"
REPLACES_SIZE = 7.5


def draw_title_and_holder(c: Canvas, template: DocumentTemplate, fonts: FontSet, colours: _Colours, record: Record,
                          number: str, replaces: str | None = None) -> float:
    """Title, number (and for a successor the number it replaces, in the gap above the
    introduction: nothing moves), introduction and the holder's name; returns where the holder line is."""
    c.setFillColor(colours.primary)
    c.setFont(fonts.title, 22)
    c.drawCentredString(PAGE_W / 2, PAGE_H - 60 * mm, template.title.id)
    c.setFont(fonts.italic, 11)
    c.drawCentredString(PAGE_W / 2, PAGE_H - 66 * mm, template.title.en)
    c.setFillColor(colours.text)
    c.setFont(fonts.bold, 11)
    c.drawCentredString(PAGE_W / 2, PAGE_H - 73 * mm, f"Nomor / Number: {number}")
    if replaces:
        c.setFont(fonts.regular, REPLACES_SIZE)
        c.drawCentredString(PAGE_W / 2, PAGE_H - 76.3 * mm, f"{REPLACES_LABEL} {replaces}")
    y = page_writer.fixed(c, ("certificate intro", token(template), token(fonts)), lambda c: _intro(c, template, fonts))
    size = fit_size(record.holder, fonts.title, RIGHT - LEFT, HOLDER_SIZE, HOLDER_MIN) or HOLDER_MIN
    c.setFillColor(colours.primary)
    c.setFont(fonts.title, size)
    c.drawCentredString(PAGE_W / 2, y - size - 1 * mm, record.holder)
    c.setFillColor(colours.text)
    return y


def _intro(c: Canvas, template: DocumentTemplate, fonts: FontSet) -> float:
    y = _centred_paragraph(c, fonts.regular, 9.5, template.intro.id, PAGE_H - 77 * mm, RIGHT - LEFT)
    return _centred_paragraph(c, fonts.italic, 8.5, template.intro.en, y, RIGHT - LEFT)


def draw_fields(c: Canvas, template: DocumentTemplate, fonts: FontSet, colours: _Colours, record: Record,
                photo: str | None) -> float:
    """The labelled fields (and the photo box); returns the y below the last field."""
    y = FIELDS_TOP
    if template.photo:
        _photo_box(c, photo, RIGHT - PHOTO_W, y - PHOTO_H, colours.primary)
    for spec, value in record_fields(record, template):
        lines = _value_lines(value, spec, template, fonts) or [(fonts.regular, VALUE_MIN, [str(value)])]
        c.setFont(fonts.bold, 9.5)
        c.drawString(LABEL_X, y - 9.5, spec.label.id)
        c.setFont(fonts.italic, 7.5)
        c.drawString(LABEL_X, y - 9.5 - 9, spec.label.en)
        c.setFont(fonts.regular, 9.5)
        c.drawString(VALUE_X - 4 * mm, y - 9.5, ":")
        yy = y
        for font, fsize, texts in lines:
            c.setFont(font, fsize)
            for text in texts:
                yy -= fsize * 1.2
                c.drawString(VALUE_X, yy + fsize * 0.2, text)
        y -= _row_height(lines)
    return y


def draw_statement(c: Canvas, template: DocumentTemplate, fonts: FontSet, y: float) -> None:
    """The certifying statement below the fields, Indonesian then English."""
    y -= 2 * mm
    y = _centred_paragraph(c, fonts.regular, 9, template.statement.id, y, RIGHT - LEFT)
    _centred_paragraph(c, fonts.italic, 8, template.statement.en, y, RIGHT - LEFT)


def draw_seal_caption(c: Canvas, lh: Letterhead, fonts: FontSet) -> None:
    """The "scan to verify" caption under QR_BOX."""
    qx, qy, qside = QR_BOX
    c.setFont(fonts.bold, 7)
    c.drawCentredString(qx + qside / 2, qy - 3.5 * mm, lh.scan_caption.id)
    c.setFont(fonts.italic, 6.5)
    c.drawCentredString(qx + qside / 2, qy - 6.5 * mm, lh.scan_caption.en)


def draw_signature_block(c: Canvas, lh: Letterhead, fonts: FontSet, colours: _Colours, issued_on: date) -> None:
    """Place and date, the signatory's title, the dashed SIGNATURE_BOX, the signatory's name."""
    sx = (SIGNATURE_BOX[0] + SIGNATURE_BOX[2]) / 2
    c.setFont(fonts.regular, 9.5)
    c.drawCentredString(sx, 81 * mm, f"{lh.city}, {date_id(issued_on)}")
    c.setFont(fonts.bold, 9.5)
    c.drawCentredString(sx, 75.5 * mm, lh.signatory_title.id)
    c.setFont(fonts.italic, 8)
    c.drawCentredString(sx, 71.5 * mm, lh.signatory_title.en)
    c.setStrokeColor(colours.accent)
    c.setLineWidth(0.4)
    c.setDash(2, 2)
    c.rect(SIGNATURE_BOX[0], SIGNATURE_BOX[1], SIGNATURE_BOX[2] - SIGNATURE_BOX[0], SIGNATURE_BOX[3] - SIGNATURE_BOX[1])
    c.setDash()
    c.setFont(fonts.bold, 9.5)
    c.drawCentredString(sx, 34 * mm, lh.signatory_name)


def draw_electronic_note(c: Canvas, lh: Letterhead, fonts: FontSet) -> None:
    """The note at the foot: this document is signed electronically."""
    y = 27 * mm
    y = _centred_paragraph(c, fonts.regular, 6.5, lh.electronic_note.id, y, RIGHT - LEFT)
    _centred_paragraph(c, fonts.italic, 6, lh.electronic_note.en, y, RIGHT - LEFT)


def _centred_paragraph(c: Canvas, font: str, size: float, text: str, y: float, width: float) -> float:
    c.setFont(font, size)
    for line in wrap(text, font, size, width):
        y -= size * 1.25
        c.drawCentredString(PAGE_W / 2, y, line)
    return y - 1.2 * mm


def _photo_box(c: Canvas, photo: str | None, x: float, y: float, frame) -> None:
    c.saveState()
    c.setStrokeColor(frame)
    c.setLineWidth(0.6)
    if photo:
        c.drawImage(photo, x, y, PHOTO_W, PHOTO_H, preserveAspectRatio=True, anchor="c")
    else:
        c.setFillColorRGB(0.93, 0.94, 0.96)
        c.rect(x, y, PHOTO_W, PHOTO_H, stroke=0, fill=1)
    c.rect(x, y, PHOTO_W, PHOTO_H, stroke=1, fill=0)
    c.restoreState()
