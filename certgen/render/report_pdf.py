"""The yearly service report as a PDF on the letterhead, with charts drawn by matplotlib.

Page 1: the letterhead, the figures per kind as a table, the complaints by channel and outcome.
Page 2: three charts (applications on time and late per kind; median and 90th percentile of the
working days used against the days allowed; complaints by channel). The charts are rendered as
PNG at 200 dpi by matplotlib's Agg backend (no display needed) and placed by ReportLab.
"""

from __future__ import annotations

import io
from typing import Any

from reportlab.lib.colors import HexColor
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader

from .fonts import FontSet
from .letter import LEFT, RIGHT, SIGNATURE_BOX, draw_letterhead
from .pdf_settings import new_canvas
from .signature_field import SignatureField, add_signature_field
from .templates import TemplateSet
from .values import date_id

PAGE_W, PAGE_H = A4


def _charts(report: Any, primary: str, accent: str) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    kinds = [k for k in report.kinds if k.kind != "all"]
    names = [k.kind for k in kinds]
    fig = Figure(figsize=(7.2, 9.0), dpi=200)
    ax1, ax2, ax3 = fig.subplots(3, 1)
    ax1.bar(names, [k.on_time for k in kinds], color=primary, label="tepat waktu / on time")
    ax1.bar(names, [k.late for k in kinds], bottom=[k.on_time for k in kinds], color=accent, label="terlambat / late")
    ax1.set_title("Permohonan selesai per jenis / Applications reported per kind", fontsize=9)
    ax1.legend(fontsize=7)
    width = 0.28
    xs = range(len(kinds))
    ax2.bar([x - width for x in xs], [k.median_days or 0 for k in kinds], width, color=primary, label="median")
    ax2.bar(list(xs), [k.p90_days or 0 for k in kinds], width, color=accent, label="persentil 90 / 90th percentile")
    ax2.bar([x + width for x in xs], [k.days_allowed or 0 for k in kinds], width, color="#9aa5b1", label="batas / allowed")
    ax2.set_xticks(list(xs), names)
    ax2.set_title("Hari kerja terpakai / Working days used", fontsize=9)
    ax2.legend(fontsize=7)
    channels = list(report.complaints_by_channel)
    ax3.barh(channels, [report.complaints_by_channel[c] for c in channels], color=primary)
    ax3.set_title("Pengaduan dan banding per saluran / Complaints and appeals by channel", fontsize=9)
    for ax in (ax1, ax2, ax3):
        ax.tick_params(labelsize=7)
    fig.tight_layout()
    out = io.BytesIO()
    fig.savefig(out, format="png")
    return out.getvalue()


def render_report(templates: TemplateSet, fonts: FontSet, report: Any, issued_on: Any,
                  signature: SignatureField | None = None) -> bytes:
    """The report PDF; `signature`'s field (if any) goes on page 1's signature block."""
    lh = templates.letterhead
    primary = lh.colours["primary"]
    buffer = io.BytesIO()
    c = new_canvas(buffer, A4, fonts.regular)
    c.setTitle(f"Laporan kinerja layanan {report.year}")
    c.setAuthor(lh.name.id)
    c.setSubject(f"Service performance report {report.year}")
    y = draw_letterhead(c, lh, fonts)
    c.setFillColor(HexColor(primary))
    c.setFont(fonts.title, 14)
    c.drawCentredString(PAGE_W / 2, y - 4 * mm, f"LAPORAN KINERJA LAYANAN TAHUN {report.year}")
    c.setFont(fonts.italic, 10)
    c.drawCentredString(PAGE_W / 2, y - 9 * mm, f"Service performance report {report.year}")
    c.setFillColor(HexColor(lh.colours["text"]))
    c.setFont(fonts.regular, 8)
    c.drawCentredString(PAGE_W / 2, y - 14 * mm, f"{report.standard} · {lh.city}, {date_id(issued_on)}")
    y -= 24 * mm
    headers = ["Jenis / kind", "Batas", "Mohon", "Selesai", "Proses", "Median", "P90", "Tepat", "Telat", "Surat", "Tebus"]
    xs = [LEFT, LEFT + 38 * mm, LEFT + 52 * mm, LEFT + 66 * mm, LEFT + 80 * mm, LEFT + 94 * mm, LEFT + 108 * mm,
          LEFT + 120 * mm, LEFT + 134 * mm, LEFT + 147 * mm, LEFT + 160 * mm]
    c.setFont(fonts.bold, 8)
    for x, h in zip(xs, headers):
        c.drawString(x, y, h)
    c.setFont(fonts.italic, 6.5)
    for x, h in zip(xs[1:], ["allowed", "applied", "reported", "open", "median", "p90", "on time", "late", "letters",
                             "redeemed"]):
        c.drawString(x, y - 8, h)
    y -= 14
    c.setFont(fonts.regular, 8)
    for k in report.kinds:
        share = f"{k.on_time} ({k.on_time_share:.0%})" if k.on_time_share is not None else str(k.on_time)
        values = [k.kind, k.days_allowed or "-", k.applications, k.reported, k.open,
                  "-" if k.median_days is None else f"{k.median_days:g}", "-" if k.p90_days is None else k.p90_days,
                  share, k.late, k.letters_issued, k.letters_redeemed]
        y -= 12
        if k.kind == "all":
            c.setFont(fonts.bold, 8)
        for x, v in zip(xs, values):
            c.drawString(x, y, str(v))
    y -= 18
    c.setFont(fonts.bold, 9)
    c.drawString(LEFT, y, "Pengaduan dan banding / Complaints and appeals")
    c.setFont(fonts.regular, 8)
    y -= 12
    c.drawString(LEFT, y, "Saluran / channel: " + ", ".join(f"{ch} {n}" for ch, n in report.complaints_by_channel.items()))
    y -= 11
    c.drawString(LEFT, y, "Hasil / outcome: " + ", ".join(f"{o} {n}" for o, n in report.complaints_by_outcome.items())
                 + f"; banding / appeals {report.appeals}; belum ditutup / not closed {report.complaints_open}")
    sx = (SIGNATURE_BOX[0] + SIGNATURE_BOX[2]) / 2
    c.setFont(fonts.bold, 9.5)
    c.drawCentredString(sx, 68 * mm, lh.signatory_title.id)
    c.setFont(fonts.italic, 8)
    c.drawCentredString(sx, 64 * mm, lh.signatory_title.en)
    c.setFont(fonts.bold, 9.5)
    c.drawCentredString(sx, 27 * mm, lh.signatory_name)
    if signature is not None:
        add_signature_field(c, signature, fonts.regular)
    c.showPage()
    chart = _charts(report, primary, lh.colours["accent"])
    width = RIGHT - LEFT
    height = width * 9.0 / 7.2
    c.drawImage(ImageReader(io.BytesIO(chart)), LEFT, PAGE_H - 20 * mm - height, width, height)
    c.showPage()
    c.save()
    return buffer.getvalue()
