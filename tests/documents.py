"""Helpers for document tests: records, rendering with the bundled templates, reading PDFs back."""

from __future__ import annotations

import io
import subprocess
from datetime import date
from functools import lru_cache
from pathlib import Path

from pypdf import PdfReader

from certgen.adapters.install import install_all
from certgen.model import PersonRecord, ProductRecord, TrainingRecord
from certgen.render.fonts import FontSet, register
from certgen.render.templates import TemplateSet

SAMPLES = Path(__file__).parent.parent / "samples"
PHOTO = str(SAMPLES / "photos" / "person-001.jpg")


@lru_cache(maxsize=1)
def templates_and_fonts() -> tuple[TemplateSet, FontSet]:
    install_all()  # as `certgen issue` does at start-up
    templates = TemplateSet.load()
    return templates, register(templates.letterhead.fonts, templates.letterhead.fallback_fonts)


def person(name: str = "Siti Aminah", photo: str | None = PHOTO) -> PersonRecord:
    return PersonRecord(name, "SKM-PTK-03", "Pengawas Mutu Barang / Goods Quality Inspector",
                        "Pengawasan mutu barang beredar dan jasa perdagangan", date(2026, 11, 24), date(2029, 11, 23),
                        photo)


def product(scheme_type: int = 5) -> ProductRecord:
    return ProductRecord("PT Sinar Baja Nusantara Tbk", "Kawasan Industri Jababeka II Blok C-12, Cikarang, Bekasi",
                         "Baja tulangan beton", "Garuda", "BjTS 420B ulir, diameter 10–32 mm", "SNI 2052:2017",
                         scheme_type, date(2026, 11, 24), date(2030, 11, 23),
                         "PT Sinar Baja Nusantara Pabrik Cikarang" if scheme_type == 5 else None,
                         "Jl. Industri Raya No. 8, Cikarang, Bekasi" if scheme_type == 5 else None)


def training() -> TrainingRecord:
    return TrainingRecord("Yohanes Kristianto Manurung", "Penerapan SNI ISO/IEC 17025:2017 untuk Laboratorium Pengujian",
                          "BIMTEK-LAB-2026-01", date(2026, 11, 18), date(2026, 11, 21), 32,
                          "Balai Sertifikasi, Kementerian Perdagangan", "Jakarta")


def page_texts(pdf: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages]


def page_sizes_mm(pdf: bytes) -> list[tuple[float, float]]:
    return [(float(p.mediabox.width) * 25.4 / 72, float(p.mediabox.height) * 25.4 / 72)
            for p in PdfReader(io.BytesIO(pdf)).pages]


def decode_pages(pdf_path: Path, dpi: int = 300) -> list[list[str]]:
    """Every barcode text zbar reads on each page, rendered by poppler at `dpi`."""
    from PIL import Image
    from pyzbar.pyzbar import ZBarSymbol, decode

    out_prefix = pdf_path.with_suffix("")
    subprocess.run(["pdftoppm", "-r", str(dpi), "-gray", "-png", str(pdf_path), str(out_prefix)], check=True)
    pages = sorted(pdf_path.parent.glob(out_prefix.name + "-*.png"))
    texts = []
    for png in pages:
        with Image.open(png) as image:
            texts.append(sorted(s.data.decode("utf-8") for s in decode(image, symbols=[ZBarSymbol.QRCODE])))
        png.unlink()
    return texts


def fonts_embedded(pdf_path: Path) -> list[tuple[str, bool]]:
    """(font name, embedded?) for every font poppler's pdffonts lists."""
    out = subprocess.run(["pdffonts", str(pdf_path)], check=True, capture_output=True, text=True).stdout
    rows = out.splitlines()[2:]
    result = []
    for row in rows:
        parts = row.split()
        # name type... emb sub uni object ID: emb is the 5th field from the end
        result.append((parts[0], parts[-5] == "yes"))
    return result
