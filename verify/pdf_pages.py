"""The pages of a print PDF (a card, a print sheet) as images, to read the barcodes printed on them.

Cards and print sheets carry seals but no PDF signature, so `certverify pdf` cannot check them;
`certverify scan` reads their QR codes instead, from pages rendered by poppler's `pdftoppm`.
The web service renders only uploaded print sheets (`certgen.seal.is_print_sheet`), and only
in its bounded child process (verify.isolation), which is killed with poppler at its bound:
poppler's parser is attack surface a public endpoint should reach as little as it can.

Bounded work (issue 10): poppler's `pdfinfo` first reads the page count and page sizes (a
card is 2 pages, a print sheet 2); a PDF with more pages than a sheet is refused before any
page is rendered, and the resolution is lowered for pages so large that 300 dpi would exceed
MAX_SIDE pixels. Both poppler tools run with a time limit and a memory limit.
"""

from __future__ import annotations

import re
import resource
import subprocess
import tempfile
from pathlib import Path

DPI = 300  # a card's 0.33 mm modules are 3.9 pixels: enough for every decoder of the cascade
#: A card PDF has 2 pages (front, back), a print sheet 2 (fronts, backs for duplex).
MAX_PAGES = 2
MAX_BYTES = 20 * 1024 * 1024
#: Longest side of a rendered page in pixels: an A4 page at 300 dpi is 3508.
MAX_SIDE = 4000
TIMEOUT = 30
INFO_TIMEOUT = 10
#: Address space of a poppler process: a page bomb fails inside it, not in the machine.
MEMORY_LIMIT = 1024 * 1024 * 1024
_SIZE = re.compile(r"^Page\s+\d+\s+size:\s+([\d.]+)\s+x\s+([\d.]+)\s+pts", re.MULTILINE)
_PAGES = re.compile(r"^Pages:\s+(\d+)", re.MULTILINE)


class PdfPagesError(ValueError):
    """The PDF's pages could not be rendered; the message says why. `too_large`: refused by
    the page limits before rendering."""

    def __init__(self, message: str, *, too_large: bool = False) -> None:
        super().__init__(message)
        self.too_large = too_large


def _limit_memory() -> None:  # runs in the child, before exec
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def _run(command: list[str], data: bytes, timeout: float) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(command, input=data, capture_output=True, timeout=timeout, preexec_fn=_limit_memory)
    except FileNotFoundError:
        raise PdfPagesError("reading barcodes from a PDF needs poppler's pdftoppm (Debian package poppler-utils)") from None
    except subprocess.TimeoutExpired:
        raise PdfPagesError(f"rendering the PDF took longer than {timeout} s") from None


def _failure(done: subprocess.CompletedProcess, tool: str) -> PdfPagesError:
    why = done.stderr.decode("utf-8", "replace").strip().splitlines()
    return PdfPagesError(f"the PDF's pages cannot be rendered ({why[0][:200] if why else f'{tool} exit {done.returncode}'})")


def page_layout(data: bytes) -> tuple[int, float]:
    """(page count, longest page side in points over the pages to render), from pdfinfo."""
    done = _run(["pdfinfo", "-f", "1", "-l", str(MAX_PAGES), "-"], data, INFO_TIMEOUT)
    text = done.stdout.decode("utf-8", "replace")
    pages = _PAGES.search(text)
    if done.returncode != 0 or not pages:
        raise _failure(done, "pdfinfo")
    sides = [max(float(w), float(h)) for w, h in _SIZE.findall(text)]
    return int(pages.group(1)), max(sides, default=0.0)


def page_images(data: bytes, dpi: int = DPI) -> list[bytes]:
    """PNG images of the pages (at most MAX_PAGES), in page order."""
    if not data.startswith(b"%PDF-"):
        raise PdfPagesError("not a PDF file")
    if len(data) > MAX_BYTES:
        raise PdfPagesError(f"the PDF is larger than {MAX_BYTES // 2**20} MiB", too_large=True)
    pages, longest = page_layout(data)
    if pages > MAX_PAGES:
        raise PdfPagesError(f"the PDF has {pages} pages; a card or a print sheet has at most {MAX_PAGES}", too_large=True)
    if longest * dpi / 72 > MAX_SIDE:
        dpi = max(1, int(MAX_SIDE * 72 / longest))
    with tempfile.TemporaryDirectory(prefix="certverify-pages-") as folder:
        done = _run(["pdftoppm", "-r", str(dpi), "-png", "-l", str(MAX_PAGES), "-", str(Path(folder) / "page")],
                    data, TIMEOUT)
        pages_found = sorted(Path(folder).glob("page-*.png"), key=lambda p: int(p.stem.rsplit("-", 1)[1]))
        if done.returncode != 0 or not pages_found:
            raise _failure(done, "pdftoppm")
        return [p.read_bytes() for p in pages_found]


#: The long side of an ID-1 card (85.60 mm) in points, and the tolerance of a "card-sized" page.
CARD_LONG_SIDE = 85.60 / 25.4 * 72
CARD_TOLERANCE = 2.0
#: What marks an unsigned PDF as a print sheet of cards: today's keyword (certgen.seal.SHEET_KEYWORD)
#: or, on sheets drawn before it existed, the title every sheet carries.
_SHEET_MARKS = (b"(certgen-print-sheet)", b"Card print sheet")


def is_card_print(data: bytes) -> bool:
    """Whether a PDF is a card print file: unsigned (no /ByteRange: certgen signs every
    certificate and, since card editions, every card) and either marked as a print sheet or
    made of card-sized pages (ID-1, from pdfinfo). A seal printed on it is a card's. What
    this rests on is unsigned and forgeable, so it only ever counts against a document: a
    certificate's seal pasted onto card-sized paper reads as an old card (docs/lifecycle.md)."""
    if not data.startswith(b"%PDF-") or b"/ByteRange" in data:
        return False
    if any(mark in data for mark in _SHEET_MARKS):
        return True
    try:
        done = _run(["pdfinfo", "-f", "1", "-l", str(MAX_PAGES), "-"], data, INFO_TIMEOUT)
    except PdfPagesError:
        return False
    sizes = _SIZE.findall(done.stdout.decode("utf-8", "replace"))
    return bool(sizes) and all(abs(max(float(w), float(h)) - CARD_LONG_SIDE) <= CARD_TOLERANCE for w, h in sizes)
