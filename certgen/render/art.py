"""The "special design" of the paper documents, in vector form: emblem, guilloche, microtext.

The guilloche is computed once per size and kept as PDF operators, so that drawing it costs
one string append per document (it is thousands of path segments).
"""

from __future__ import annotations

import math
from functools import lru_cache

from reportlab.lib.colors import HexColor
from reportlab.lib.utils import ImageReader

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
    primary, accent = letterhead.colours["primary"], letterhead.colours["accent"]
    cx, cy, r = x + size / 2, y + size / 2, size / 2
    canvas.saveState()
    canvas.setFillColor(HexColor(primary))
    canvas.circle(cx, cy, r, stroke=0, fill=1)
    canvas.setStrokeColor(HexColor(accent))
    canvas.setLineWidth(size * 0.035)
    canvas.circle(cx, cy, r * 0.86, stroke=1, fill=0)
    # a seventeen-pointed star ring (17 August): drawn, not an image
    path = canvas.beginPath()
    points = 17
    for i in range(points * 2 + 1):
        angle = math.pi / 2 + i * math.pi / points
        radius = r * (0.78 if i % 2 == 0 else 0.66)
        px, py = cx + radius * math.cos(angle), cy + radius * math.sin(angle)
        path.moveTo(px, py) if i == 0 else path.lineTo(px, py)
    path.close()
    canvas.setFillColor(HexColor(accent))
    canvas.drawPath(path, stroke=0, fill=1)
    canvas.setFillColor(HexColor(primary))
    canvas.circle(cx, cy, r * 0.6, stroke=0, fill=1)
    canvas.setFillColorRGB(1, 1, 1)
    font_size = size * 0.34
    canvas.setFont(font or fonts.title, font_size)
    canvas.drawCentredString(cx, cy - font_size * 0.36, letterhead.emblem_initials)
    canvas.restoreState()


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
    w, h = round(width, 2), round(height, 2)
    name = f"guilloche-{w:.0f}-{h:.0f}-{samples}"
    if not canvas.hasForm(name):
        canvas.beginForm(name, lowerx=0, lowery=0, upperx=w, uppery=h)
        canvas.addLiteral(guilloche_operators(w, h, _rgb(colour), samples=samples))
        canvas.endForm()
    canvas.saveState()
    canvas.translate(x, y)
    canvas.doForm(name)
    canvas.restoreState()


def draw_microtext(canvas, fonts: FontSet, text: str, x: float, y: float, width: float, size: float, colour: str,
                   angle: float = 0) -> None:
    """A line of tiny repeated text: legible under a loupe, a smear on a photocopy."""
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
