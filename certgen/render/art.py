"""The "special design" of the paper documents, in vector form: emblem, guilloche, microtext.

The guilloche is computed once per size and kept as PDF operators, so that drawing it costs
one string append per document (it is thousands of path segments).
"""

from __future__ import annotations

import math
from functools import lru_cache

from reportlab.lib.colors import HexColor
from reportlab.lib.utils import ImageReader

from . import page_writer
from .fonts import FontSet
from .templates import Letterhead


def _rgb(hex_colour: str) -> tuple[float, float, float]:
    c = HexColor(hex_colour)
    return c.red, c.green, c.blue


def draw_emblem(canvas, letterhead: Letterhead, fonts: FontSet, x: float, y: float, size: float,
                font: str | None = None) -> None:
    """The body's emblem in the square (x, y, size): the template's image, or the drawn seal
    with the initials in `font` (default: the title font)."""
    if letterhead.emblem_kind == "image" and letterhead.emblem_file is not None:
        canvas.drawImage(ImageReader(str(letterhead.emblem_file)), x, y, size, size, mask="auto", preserveAspectRatio=True)
        return
    canvas.saveState()
    canvas.translate(x, y)
    canvas.scale(size / _EMBLEM_UNITS, size / _EMBLEM_UNITS)
    canvas.addLiteral(_emblem_operators(letterhead.colours["primary"], letterhead.colours["accent"]))
    canvas.restoreState()
    canvas.saveState()
    canvas.setFillColorRGB(1, 1, 1)
    font_size = size * 0.34
    canvas.setFont(font or fonts.title, font_size)
    canvas.drawCentredString(x + size / 2, y + size / 2 - font_size * 0.36, letterhead.emblem_initials)
    canvas.restoreState()


_EMBLEM_UNITS = 100.0  # the drawn emblem is computed once in a 100-unit square, then scaled


@lru_cache(maxsize=8)
def _emblem_operators(primary: str, accent: str) -> str:
    """The drawn emblem without its initials, as PDF operators: a disc, a ring, a
    seventeen-pointed star (17 August) and an inner disc. Computed once, drawn by reference."""
    from reportlab.pdfgen.pathobject import PDFPathObject

    c = r = _EMBLEM_UNITS / 2

    def circle(radius: float, operator: str) -> str:
        path = PDFPathObject()
        path.circle(c, c, radius)
        return f"{path.getCode()} {operator}"

    star = PDFPathObject()
    points = 17
    for i in range(points * 2 + 1):
        angle = math.pi / 2 + i * math.pi / points
        radius = r * (0.78 if i % 2 == 0 else 0.66)
        px, py = c + radius * math.cos(angle), c + radius * math.sin(angle)
        star.moveTo(px, py) if i == 0 else star.lineTo(px, py)
    star.close()
    fill_primary = "%.4f %.4f %.4f rg" % _rgb(primary)
    accent_rgb = _rgb(accent)
    return "\n".join([
        fill_primary, circle(r, "f"),
        "%.4f %.4f %.4f RG" % accent_rgb, f"{_EMBLEM_UNITS * 0.035:.3f} w", circle(r * 0.86, "S"),
        "%.4f %.4f %.4f rg" % accent_rgb, f"{star.getCode()} f",
        fill_primary, circle(r * 0.6, "f"),
    ])


@lru_cache(maxsize=16)
def guilloche_operators(width: float, height: float, rgb: tuple[float, float, float], line_width: float = 0.18,
                        strands: int = 14, samples: int = 90) -> str:
    """Interlaced sine strands over the rectangle (0, 0, width, height), as PDF operators."""
    r, g, b = rgb
    ops = ["q", f"{r:.3f} {g:.3f} {b:.3f} RG", f"{line_width:.2f} w"]
    for family, (freq, phase_step, amp) in enumerate(((3.0, 0.45, 0.22), (5.0, -0.37, 0.15))):
        for s in range(strands):
            phase = s * phase_step
            base = height * (s + 0.5) / strands
            pts = []
            for i in range(samples + 1):
                t = i / samples
                xx = t * width
                yy = base + amp * height / strands * 3 * math.sin(2 * math.pi * freq * t + phase) \
                    * math.cos(2 * math.pi * (family + 1) * t + s)
                pts.append(f"{xx:.2f} {min(max(yy, 0), height):.2f}")
            ops.append(pts[0] + " m " + " l ".join(pts[1:]) + " l S")
    ops.append("Q")
    return "\n".join(ops)


def draw_guilloche(canvas, x: float, y: float, width: float, height: float, colour: str, samples: int = 90) -> None:
    """The pattern as a form XObject: written once per PDF however often it is drawn
    (a print sheet shows it twenty times)."""
    name = define_guilloche(canvas, width, height, colour, samples)
    canvas.saveState()
    canvas.translate(x, y)
    canvas.doForm(name)
    canvas.restoreState()


def define_guilloche(canvas, width: float, height: float, colour: str, samples: int = 90) -> str:
    """The pattern's form in this document (defined on first use); returns its name. Called
    before a fixed part that draws it (a part must not define a form: page_writer.fixed)."""
    w, h = round(width, 2), round(height, 2)
    name = f"guilloche-{w:.0f}-{h:.0f}-{samples}"
    if not canvas.hasForm(name):
        canvas.beginForm(name, lowerx=0, lowery=0, upperx=w, uppery=h)
        canvas.addLiteral(guilloche_operators(w, h, _rgb(colour), samples=samples))
        canvas.endForm()
    return name


def draw_microtext(canvas, fonts: FontSet, text: str, x: float, y: float, width: float, size: float, colour: str,
                   angle: float = 0) -> None:
    """A line of tiny repeated text: legible under a loupe, a smear on a photocopy. The same on
    every page: drawn once per process on the page writer (a fixed part)."""
    page_writer.fixed(canvas, ("microtext", fonts.regular, text, x, y, width, size, colour, angle),
                      lambda c: _draw_microtext(c, fonts, text, x, y, width, size, colour, angle))


def _draw_microtext(canvas, fonts: FontSet, text: str, x: float, y: float, width: float, size: float, colour: str,
                    angle: float) -> None:
    canvas.saveState()
    canvas.translate(x, y)
    canvas.rotate(angle)
    canvas.setFillColor(HexColor(colour))
    canvas.setFont(fonts.regular, size)
    canvas.drawString(0, 0, _microtext_line(text, fonts.regular, round(width, 1), size))
    canvas.restoreState()


@lru_cache(maxsize=64)
def _microtext_line(text: str, font: str, width: float, size: float) -> str:
    from reportlab.pdfbase.pdfmetrics import stringWidth

    unit = text + " \u00b7 "
    line = unit * max(1, int(width // max(stringWidth(unit, font, size), 1)))
    for char in unit:
        if stringWidth(line + char, font, size) > width:
            break
        line += char
    return line
