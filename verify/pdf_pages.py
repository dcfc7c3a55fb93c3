"""The pages of a print PDF (a card, a print sheet) as images, to read the barcodes printed on them.

Cards and print sheets carry seals but no PDF signature, so `certverify pdf` cannot check them;
`certverify scan` reads their QR codes instead, from pages rendered by poppler's `pdftoppm`.
Command line only: the web service never renders uploaded PDFs (rendering an arbitrary PDF is
costly, and poppler's parser is attack surface a public endpoint does not need).
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

DPI = 300  # a card's 0.33 mm modules are 3.9 pixels: enough for every decoder of the cascade
MAX_PAGES = 20
MAX_BYTES = 20 * 1024 * 1024
TIMEOUT = 120


class PdfPagesError(ValueError):
    """The PDF's pages could not be rendered; the message says why."""


def page_images(data: bytes, dpi: int = DPI) -> list[bytes]:
    """PNG images of the first MAX_PAGES pages, in page order."""
    if not data.startswith(b"%PDF-"):
        raise PdfPagesError("not a PDF file")
    if len(data) > MAX_BYTES:
        raise PdfPagesError(f"the PDF is larger than {MAX_BYTES // 2**20} MiB")
    with tempfile.TemporaryDirectory(prefix="certverify-pages-") as folder:
        try:
            done = subprocess.run(["pdftoppm", "-r", str(dpi), "-png", "-l", str(MAX_PAGES), "-", str(Path(folder) / "page")],
                                  input=data, capture_output=True, timeout=TIMEOUT)
        except FileNotFoundError:
            raise PdfPagesError("reading barcodes from a PDF needs poppler's pdftoppm (Debian package poppler-utils)") from None
        except subprocess.TimeoutExpired:
            raise PdfPagesError(f"rendering the PDF took longer than {TIMEOUT} s") from None
        pages = sorted(Path(folder).glob("page-*.png"), key=lambda p: int(p.stem.rsplit("-", 1)[1]))
        if done.returncode != 0 or not pages:
            why = done.stderr.decode("utf-8", "replace").strip().splitlines()
            raise PdfPagesError(f"the PDF's pages cannot be rendered ({why[0] if why else f'pdftoppm exit {done.returncode}'})")
        return [p.read_bytes() for p in pages]
