"""The page writer (certgen/render/page_writer.py) against ReportLab, and its object writer
(certgen/render/pdf_objects.py) against the readers: pypdf, pikepdf (qpdf's library), poppler
(pdftotext, pdftoppm, pdffonts, pdfsig) and pyHanko.

Every layout is drawn both ways in this process (`page_writer.ENABLED` switches the writer
off; the ReportLab adapter stays installed) and must give the same extracted text, the same
pixels, the same fonts and valid signatures; documents the writer does not draw go to
ReportLab whole.
"""

from __future__ import annotations

import io
import re
import subprocess
from dataclasses import replace
from datetime import date, datetime, timezone
from pathlib import Path

import numpy as np
import pikepdf
import pytest
from PIL import Image
from pypdf import PdfReader

from certgen.adapters import ACTIVE
from certgen.barcode import qr_matrix
from certgen.render import page_writer
from certgen.render.card import CardData, render_card, render_sheet
from certgen.render.document import SIGNATURE_BOX, render_certificate
from certgen.render.pdf_objects import (PdfObjectError, PdfObjects, array, flate, literal, name, number, ref,
                                        text_string)
from certgen.sign import PdfSealer
from tests.conftest import PASSPHRASE
from tests.documents import PHOTO, decode_pages, fonts_embedded, person, product, templates_and_fonts, training
from tests.signatures import make_nss_db, pdfsig, pyhanko_status

SEAL = "https://verifikasi.example.id/v/" + "A" * 316
ISSUED = date(2026, 11, 24)
SIGNED_AT = datetime(2026, 11, 24, 3, 0, tzinfo=timezone.utc)
#: Rendering tolerance between the two paths: grey levels (of 255) and share of pixels.
MAX_LEVEL, MAX_SHARE = 24, 0.0005


def _both(draw) -> tuple[bytes, bytes]:
    """(page writer, ReportLab) output of `draw()`."""
    assert page_writer.ENABLED and ACTIVE.reportlab
    new = draw()
    page_writer.ENABLED = False
    try:
        old = draw()
    finally:
        page_writer.ENABLED = True
    return new, old


def _by_writer(pdf: bytes) -> bool:
    return b"/Producer (certgen page writer)" in pdf


def _pixels(pdf: bytes, folder: Path, tag: str, dpi: int = 100) -> list[np.ndarray]:
    path = folder / f"{tag}.pdf"
    path.write_bytes(pdf)
    subprocess.run(["pdftoppm", "-r", str(dpi), "-gray", "-png", str(path), str(folder / tag)], check=True,
                   timeout=60)
    pages = sorted(folder.glob(f"{tag}-*.png"))
    return [np.asarray(Image.open(p).convert("L")).astype(np.int16) for p in pages]


def _text(pdf: bytes, folder: Path, tag: str) -> str:
    path = folder / f"{tag}.pdf"
    path.write_bytes(pdf)
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True,
                          timeout=60).stdout


def assert_equivalent(new: bytes, old: bytes, folder: Path) -> None:
    """Same text (poppler and pypdf), pages, page sizes, fonts and pixels; the writer's file
    passes qpdf's structural check."""
    assert _by_writer(new) and not _by_writer(old)
    assert _text(new, folder, "new") == _text(old, folder, "old")
    new_reader, old_reader = PdfReader(io.BytesIO(new)), PdfReader(io.BytesIO(old))
    assert [p.extract_text() for p in new_reader.pages] == [p.extract_text() for p in old_reader.pages]
    assert [tuple(p.mediabox) for p in new_reader.pages] == [tuple(p.mediabox) for p in old_reader.pages]
    (folder / "new.pdf").write_bytes(new)
    (folder / "old.pdf").write_bytes(old)
    assert sorted(fonts_embedded(folder / "new.pdf")) == sorted(fonts_embedded(folder / "old.pdf"))
    with pikepdf.open(io.BytesIO(new)) as doc:
        assert doc.check_pdf_syntax() == []
    new_pages, old_pages = _pixels(new, folder, "new"), _pixels(old, folder, "old")
    assert len(new_pages) == len(old_pages)
    for a, b in zip(new_pages, old_pages):
        assert a.shape == b.shape
        off = np.abs(a - b) > MAX_LEVEL
        assert off.mean() <= MAX_SHARE, f"{int(off.sum())} pixels differ"


# -- the layouts, both ways -----------------------------------------------------------------

RECORDS_LATIN = "Ñuñez Nguyễn Thị Ångström-Çelik d'Arc (Jr.) \\ 50%"
RECORDS = {
    "person": lambda: person(),
    "person-latin": lambda: person(RECORDS_LATIN),
    "person-no-photo": lambda: person(photo=None),
    "product": lambda: product(),
    "product-type-1": lambda: product(1),
    "training": lambda: training(),
}


@pytest.mark.parametrize("kind", sorted(RECORDS))
def test_certificates_are_the_same_both_ways(kind, tmp_path):
    templates, fonts = templates_and_fonts()
    record = RECORDS[kind]()
    matrix = qr_matrix(SEAL)
    new, old = _both(lambda: render_certificate(templates, fonts, record, "SK-2026-000123-6", matrix, ISSUED,
                                                getattr(record, "photo", None)))
    assert_equivalent(new, old, tmp_path)


@pytest.mark.parametrize("kind", ["person", "person-latin", "person-no-photo"])
def test_cards_and_sheets_are_the_same_both_ways(kind, tmp_path):
    templates, fonts = templates_and_fonts()
    record = RECORDS[kind]()
    card = CardData("SK-2026-000123-6", record, qr_matrix(SEAL), record.photo, ISSUED)
    assert_equivalent(*_both(lambda: render_card(templates, fonts, card)), tmp_path)
    cards = [replace(card, number=f"SK-2026-00012{i}-6") for i in range(7)]
    assert_equivalent(*_both(lambda: render_sheet(templates, fonts, cards, "cards-0001")), tmp_path)


# -- print sheets: the cards' own pages placed as forms (certgen/render/placed_pages.py) ------

SHEET_NAMES = ["Budi Santoso", RECORDS_LATIN, "Siti Aminah", "Łukasz Żółć-Ørsted", "Budi Santoso", "Ömer Çelik"]


def _sheet_cards() -> list[CardData]:
    """Six cards of a sheet: ASCII and Latin-extended names (one card's subsets each), with and
    without a photo, a reprinted edition and a successor; each with its own seal."""
    cards = []
    for i, holder in enumerate(SHEET_NAMES):
        record = person(holder, photo=None if i == 2 else PHOTO)
        cards.append(CardData(f"SK-2026-00012{i}-6", record, qr_matrix(f"{SEAL[:-4]}{i:04d}"), record.photo, ISSUED,
                              2 if i == 3 else 1, "SK-2026-000001-E" if i == 4 else None))
    return cards


def _forms_placed(pdf: bytes) -> list[list[bytes]]:
    """The raw (compressed) stream of each form a sheet page draws by `Do`, by page."""
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        out = []
        for page in doc.pages:
            content = page.obj.Contents.read_bytes().decode("latin-1")
            names = re.findall(r"/(C\d+) Do", content)
            out.append([page.obj.Resources.XObject[f"/{n}"].read_raw_bytes() for n in names])
        return out


def test_a_sheet_places_the_pages_drawn_for_its_card_files(tmp_path):
    """The sheet's forms are the card files' page content streams, byte for byte (not drawn
    again); the sheet shows the same text, pixels (150 dpi) and QR codes as the sheet ReportLab
    draws card by card; qpdf's check passes; distinct subsets of a font carry distinct tags."""
    templates, fonts = templates_and_fonts()
    cards = _sheet_cards()
    card_files = [render_card(templates, fonts, card) for card in cards]
    new, old = _both(lambda: render_sheet(templates, fonts, cards, "cards-0001"))
    assert _by_writer(new) and not _by_writer(old)
    with_pages = []
    for pdf in card_files:
        with pikepdf.open(io.BytesIO(pdf)) as doc:
            with_pages.append([p.obj.Contents.read_raw_bytes() for p in doc.pages])
    fronts, backs = _forms_placed(new)
    assert fronts == [pages[0] for pages in with_pages]
    assert sorted(backs) == sorted(pages[1] for pages in with_pages)
    assert _text(new, tmp_path, "new") == _text(old, tmp_path, "old")
    assert [p.extract_text() for p in PdfReader(io.BytesIO(new)).pages] == \
        [p.extract_text() for p in PdfReader(io.BytesIO(old)).pages]
    with pikepdf.open(io.BytesIO(new)) as doc:
        assert doc.check_pdf_syntax() == []
    for a, b in zip(_pixels(new, tmp_path, "new", 150), _pixels(old, tmp_path, "old", 150), strict=True):
        assert a.shape == b.shape
        off = np.abs(a - b) > MAX_LEVEL
        assert off.mean() <= MAX_SHARE, f"{int(off.sum())} pixels differ"
    (tmp_path / "sheet.pdf").write_bytes(new)
    listed = fonts_embedded(tmp_path / "sheet.pdf")
    assert all(embedded for _, embedded in listed) and len({n for n, _ in listed}) == len(listed), listed
    assert len(listed) > len(fonts_embedded(tmp_path / "old.pdf"))  # each Latin-extended card has its own subsets
    seals = sorted(f"{SEAL[:-4]}{i:04d}" for i in range(len(cards)))
    assert decode_pages(tmp_path / "sheet.pdf", dpi=300) == [[], seals]


def test_a_sheet_is_the_same_from_signed_cards_and_drawn_again(keystore):
    """A batch's sheet places the pages of the signed card files it has just written; a rerun
    draws the cards again, unsigned, for a lost sheet: the same bytes (reruns compare SHA-256),
    also in a process that drew other cards before."""
    from certgen.card_files import signed_card
    from certgen.render import card as card_module

    templates, fonts = templates_and_fonts()
    sealer = PdfSealer(keystore.current_signer(PASSPHRASE), [keystore.root_certificate()])
    cards = _sheet_cards()
    for card in cards:
        signed_card(templates, fonts, sealer, card, SEAL, SIGNED_AT)
    assert all(id(card) in card_module._drawn for card in cards)
    first = render_sheet(templates, fonts, cards, "cards-0001")
    assert not any(id(card) in card_module._drawn for card in cards)  # placed, then dropped
    for i in range(3):
        render_card(templates, fonts, CardData(f"SK-{i}", person(f"Ådne {i}"), qr_matrix(SEAL + str(i)), PHOTO, ISSUED))
    again = render_sheet(templates, fonts, [replace(card) for card in cards], "cards-0001")
    assert _by_writer(first) and again == first


def test_only_a_sheets_worth_of_drawn_cards_is_kept():
    from certgen.render import card as card_module

    templates, fonts = templates_and_fonts()
    for i in range(25):
        render_card(templates, fonts, CardData(f"SK-{i}", person(), qr_matrix(SEAL), None, ISSUED))
    assert len(card_module._drawn) == 10


def test_a_sheet_with_a_card_the_writer_does_not_draw_is_drawn_by_reportlab(tmp_path, monkeypatch):
    """A CJK name (fallback fonts), a PNG photo, or the adapters switched off
    (CERTGEN_ADAPTERS=off): ReportLab draws the whole sheet, every card on it, as before."""
    from certgen.render import card as card_module

    templates, fonts = templates_and_fonts()
    cards = _sheet_cards()[:3]
    cjk = cards + [CardData("SK-2026-000130-6", person("王小明 Wang"), qr_matrix(SEAL), PHOTO, ISSUED)]
    sheet = render_sheet(templates, fonts, cjk, "cards-0001")
    assert not _by_writer(sheet) and "王小明 Wang" in _text(sheet, tmp_path, "cjk")
    png = tmp_path / "photo.png"
    Image.open(PHOTO).save(png)
    with_png = cards + [CardData("SK-2026-000131-6", person(photo=str(png)), qr_matrix(SEAL), str(png), ISSUED)]
    assert not _by_writer(render_sheet(templates, fonts, with_png, "cards-0001"))
    monkeypatch.setattr(ACTIVE, "switched_off", True)
    for card in cards:
        render_card(templates, fonts, card)
    assert not any(id(card) in card_module._drawn for card in cards)  # drawn by ReportLab: nothing to place
    off = render_sheet(templates, fonts, cards, "cards-0001")
    assert not _by_writer(off) and b"/C1 Do" not in off
    assert _text(off, tmp_path, "off").count("SK-2026-00012") == 6  # each number on the front and the back


@pytest.mark.parametrize("kind", ["product", "person", "training"])
def test_a_successor_prints_what_it_replaces_the_same_both_ways(kind, tmp_path):
    """A successor's certificate (and a person's card) names the certificate it replaces
    (docs/lifecycle.md): the same text and pixels from the page writer and from ReportLab."""
    templates, fonts = templates_and_fonts()
    record = RECORDS[kind]()
    new, old = _both(lambda: render_certificate(templates, fonts, record, "SK-2026-000123-6", qr_matrix(SEAL), ISSUED,
                                                getattr(record, "photo", None), replaces="SK-2026-000001-E"))
    assert_equivalent(new, old, tmp_path)
    assert "Menggantikan sertifikat / Replaces certificate SK-2026-000001-E" in _text(new, tmp_path, "successor")
    plain = render_certificate(templates, fonts, record, "SK-2026-000123-6", qr_matrix(SEAL), ISSUED,
                               getattr(record, "photo", None))
    assert "Replaces certificate" not in _text(plain, tmp_path, "plain")
    if kind == "person":
        card = CardData("SK-2026-000123-6", record, qr_matrix(SEAL), record.photo, ISSUED, 2, "SK-2026-000001-E")
        new, old = _both(lambda: render_card(templates, fonts, card))
        assert_equivalent(new, old, tmp_path)
        assert "menggantikan/replaces SK-2026-000001-E" in _text(new, tmp_path, "card")


def test_a_document_is_drawn_again_byte_for_byte():
    """Reruns repair a lost file by drawing it again (tests/test_batch.py): same bytes."""
    templates, fonts = templates_and_fonts()
    record = RECORDS["person-latin"]()
    draw = lambda: render_certificate(templates, fonts, record, "SK-2026-000123-6", qr_matrix(SEAL), ISSUED,  # noqa: E731
                                      record.photo)
    first = draw()
    render_certificate(templates, fonts, person("Other Person Ü"), "SK-2026-000124-4", qr_matrix(SEAL), ISSUED)
    assert _by_writer(first) and draw() == first


# -- signatures -----------------------------------------------------------------------------

def test_signed_in_place_both_ways_valid_in_pyhanko_pdfsig_and_certverify(keystore, tmp_path):
    from verify.pdf import check_pdf
    from verify.report import Reason

    templates, fonts = templates_and_fonts()
    sealer = PdfSealer(keystore.current_signer(PASSPHRASE), [keystore.root_certificate()])
    assert sealer.signs_in_place
    record = RECORDS["person-latin"]()

    def signed() -> bytes:
        field = sealer.field(SIGNATURE_BOX, SIGNED_AT, reason="Certificate of Competence SK-2026-000123-6",
                             location="Jakarta", seal=SEAL)
        return sealer.complete(render_certificate(templates, fonts, record, "SK-2026-000123-6", qr_matrix(SEAL),
                                                  ISSUED, record.photo, field))

    new, old = _both(signed)
    assert_equivalent(new, old, tmp_path)
    nss = make_nss_db(tmp_path / "nss", keystore.root_cert_path)
    for tag, pdf in (("new", new), ("old", old)):
        status = pyhanko_status(pdf, keystore.root_certificate())
        assert status.intact and status.valid and status.trusted and status.bottom_line, status.summary()
        path = tmp_path / f"signed-{tag}.pdf"
        path.write_bytes(pdf)
        report = pdfsig(path, nss)
        assert "Signature is Valid." in report and "Total document signed" in report, report
        result = check_pdf(pdf, trust=keystore.trust_list(), root=keystore.root_certificate(),
                           now=datetime(2026, 11, 25, tzinfo=timezone.utc))
        assert [c.reason for c in result.checks] == [Reason.PDF_SIGNATURE_VALID], result.checks
        assert result.seal == SEAL


def test_a_changed_byte_breaks_a_signature_of_the_writer(keystore):
    templates, fonts = templates_and_fonts()
    sealer = PdfSealer(keystore.current_signer(PASSPHRASE), [keystore.root_certificate()])
    field = sealer.field(SIGNATURE_BOX, SIGNED_AT, reason="r", location="Jakarta", seal=SEAL)
    signed = bytearray(sealer.complete(render_certificate(templates, fonts, person(), "SK-1", qr_matrix(SEAL), ISSUED,
                                                          PHOTO, field)))
    assert _by_writer(bytes(signed))
    at = signed.index(b"/Title (") + 8
    signed[at] ^= 0x01
    status = pyhanko_status(bytes(signed), keystore.root_certificate())
    assert not status.intact and not status.bottom_line


# -- what the writer leaves to ReportLab ----------------------------------------------------

def test_cjk_names_are_drawn_by_reportlab_with_the_fallback_fonts(tmp_path):
    templates, fonts = templates_and_fonts()
    record = person("王小明 Wang")
    pdf = render_certificate(templates, fonts, record, "SK-1", qr_matrix(SEAL), ISSUED, record.photo)
    assert not _by_writer(pdf)
    assert "王小明 Wang" in _text(pdf, tmp_path, "cjk")


def test_a_png_photo_is_drawn_by_reportlab(tmp_path):
    png = tmp_path / "photo.png"
    Image.open(PHOTO).save(png)
    templates, fonts = templates_and_fonts()
    pdf = render_certificate(templates, fonts, person(photo=str(png)), "SK-1", qr_matrix(SEAL), ISSUED, str(png))
    assert not _by_writer(pdf) and b"/Subtype /Image" in pdf


def test_an_image_emblem_is_drawn_by_reportlab(tmp_path):
    templates, fonts = templates_and_fonts()
    emblem = tmp_path / "emblem.png"
    Image.new("RGB", (64, 64), (200, 20, 20)).save(emblem)
    letterhead = replace(templates.letterhead, emblem_kind="image", emblem_file=emblem)
    changed = replace(templates, letterhead=letterhead)
    pdf = render_certificate(changed, fonts, person(), "SK-1", qr_matrix(SEAL), ISSUED, PHOTO)
    assert not _by_writer(pdf)
    assert _by_writer(render_certificate(templates, fonts, person(), "SK-1", qr_matrix(SEAL), ISSUED, PHOTO))


def test_any_canvas_call_the_writer_lacks_falls_back_to_reportlab():
    """A layout that calls a Canvas method (or internal, like `_doc`) the writer does not
    have is drawn by ReportLab, from the start."""
    calls = []

    def draw(c):
        calls.append(type(c).__name__)
        c.drawString(10, 10, "x")
        c.bezier(0, 0, 1, 1, 2, 2, 3, 3)
        c.showPage()
        c.save()

    pdf = page_writer.render((100, 100), templates_and_fonts()[1].regular, draw)
    assert calls == ["PageCanvas", "Canvas"] and not _by_writer(pdf)
    with pytest.raises(page_writer.Unsupported, match="_doc"):
        page_writer.PageCanvas(io.BytesIO(), (100, 100), "x")._doc  # noqa: B018


def test_the_writer_is_off_without_the_reportlab_adapter(monkeypatch):
    monkeypatch.setattr(ACTIVE, "switched_off", True)
    assert not page_writer.usable()
    monkeypatch.setattr(ACTIVE, "switched_off", False)
    monkeypatch.setattr(ACTIVE, "reportlab", False)
    assert not page_writer.usable()


# -- the object writer ----------------------------------------------------------------------

def _minimal(text: bytes = b"Hello (world) \\ back") -> bytes:
    pdf = PdfObjects()
    catalog, pages = pdf.reserve(), pdf.reserve()
    font = pdf.add(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    content = pdf.add_stream(b"/Filter /FlateDecode", flate(b"BT /F1 12 Tf 20 50 Td " + literal(text) + b" Tj ET"))
    page = pdf.add(b"<< /Type /Page /Parent " + ref(pages) + b" /MediaBox " + array([0, 0, 300, 100.5])
                   + b" /Resources << /Font << /F1 " + ref(font) + b" >> >> /Contents " + ref(content) + b" >>")
    pdf.put(pages, b"<< /Type /Pages /Kids [" + ref(page) + b"] /Count 1 >>")
    pdf.put(catalog, b"<< /Type /Catalog /Pages " + ref(pages) + b" >>")
    info = pdf.add(b"<< /Title " + text_string("Sertifikat · Zürich 東京") + b" >>")
    return pdf.write(catalog, info)


def test_written_files_open_in_every_reader(tmp_path):
    data = _minimal()
    assert data == _minimal()  # deterministic, /ID included
    reader = PdfReader(io.BytesIO(data), strict=True)
    assert reader.pages[0].extract_text() == "Hello (world) \\ back"
    assert reader.metadata.title == "Sertifikat · Zürich 東京"
    with pikepdf.open(io.BytesIO(data)) as doc:
        assert doc.check_pdf_syntax() == []
        assert len(doc.trailer.ID) == 2
    path = tmp_path / "minimal.pdf"
    path.write_bytes(data)
    assert _text(data, tmp_path, "minimal").strip() == "Hello (world) \\ back"
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True).stdout
    assert "Sertifikat · Zürich 東京" in info and re.search(r"^Pages: +1$", info, re.M)
    assert _pixels(data, tmp_path, "minimal", 72)[0].min() < 128  # something black was drawn
    from pyhanko.pdf_utils.reader import PdfFileReader
    assert PdfFileReader(io.BytesIO(data)).root["/Pages"]["/Count"] == 1


def test_object_writer_refuses_unset_and_twice_set_objects():
    pdf = PdfObjects()
    catalog = pdf.reserve()
    with pytest.raises(PdfObjectError, match="object 1 was reserved but never set"):
        pdf.write(catalog)
    pdf.put(catalog, b"<< /Type /Catalog >>")
    with pytest.raises(PdfObjectError, match="object 1 is set twice"):
        pdf.put(catalog, b"<< >>")
    with pytest.raises(PdfObjectError, match="object 5 was not reserved"):
        pdf.put(5, b"<< >>")


def test_object_writer_escapes():
    assert literal(b"a(b)\\c\r\n") == b"(a\\(b\\)\\\\c\\r\\n)"
    assert name("F1+0") == b"/F1+0" and name("a b/#") == b"/a#20b#2F#23"
    assert text_string("Jakarta") == b"(Jakarta)"
    assert text_string("é") == b"<feff00e9>"
    assert number(1.0) == b"1" and number(-0.00001) == b"0" and number(595.2756) == b"595.2756" and number(3) == b"3"


def test_a_photo_replaced_under_the_same_name_is_read_again(tmp_path):
    """Photos are read once for a person's three files, keyed by the file's identity, size and
    time: a new file under the same name is embedded, not the one read before."""
    templates, fonts = templates_and_fonts()
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(Path(PHOTO).read_bytes())
    first = render_certificate(templates, fonts, person(photo=str(photo)), "SK-1", qr_matrix(SEAL), ISSUED, str(photo))
    Image.open(PHOTO).rotate(90, expand=True).save(tmp_path / "other.jpg", quality=80)
    (tmp_path / "other.jpg").replace(photo)
    second = render_certificate(templates, fonts, person(photo=str(photo)), "SK-1", qr_matrix(SEAL), ISSUED, str(photo))
    assert _by_writer(first) and _by_writer(second)
    assert Path(PHOTO).read_bytes() in first and photo.read_bytes() in second


def test_a_missing_photo_fails_as_it_did_with_reportlab(tmp_path):
    templates, fonts = templates_and_fonts()
    gone = str(tmp_path / "gone.jpg")
    errors = []
    for enabled in (True, False):
        page_writer.ENABLED = enabled
        try:
            with pytest.raises(Exception) as caught:
                render_certificate(templates, fonts, person(photo=gone), "SK-1", qr_matrix(SEAL), ISSUED, gone)
            errors.append((type(caught.value), str(caught.value)))
        finally:
            page_writer.ENABLED = True
    assert errors[0] == errors[1] and "gone.jpg" in errors[0][1]


def test_a_fresh_process_draws_the_same_bytes():
    """The page writer's caches are per process: a rerun in a new process (a repair) must draw
    what a warm worker drew."""
    import json
    import os
    import sys
    import textwrap

    script = textwrap.dedent(f"""
        import json
        from datetime import date
        from certgen.barcode import qr_matrix
        from certgen.render.card import CardData, render_card
        from certgen.render.document import render_certificate
        from tests.documents import person, templates_and_fonts
        templates, fonts = templates_and_fonts()
        record = person({RECORDS_LATIN!r})
        matrix = qr_matrix({SEAL!r})
        pdf = render_certificate(templates, fonts, record, "SK-2026-000123-6", matrix, date(2026, 11, 24), record.photo)
        card = render_card(templates, fonts, CardData("SK-2026-000123-6", record, matrix, record.photo, date(2026, 11, 24)))
        print(json.dumps({{"pdf": pdf.hex(), "card": card.hex()}}))
    """)
    root = Path(__file__).parent.parent
    run = subprocess.run([sys.executable, "-c", script], cwd=root, capture_output=True, text=True, timeout=120,
                         env={**os.environ, "PYTHONPATH": str(root)}, check=False)
    assert run.returncode == 0, run.stderr
    fresh = {k: bytes.fromhex(v) for k, v in json.loads(run.stdout).items()}
    templates, fonts = templates_and_fonts()
    for i in range(3):  # warm: other holders first, caches filled
        render_card(templates, fonts, CardData(f"SK-{i}", person(f"Ömer {i}"), qr_matrix(SEAL + str(i)), PHOTO, ISSUED))
    record, matrix = person(RECORDS_LATIN), qr_matrix(SEAL)
    assert fresh["pdf"] == render_certificate(templates, fonts, record, "SK-2026-000123-6", matrix, ISSUED, record.photo)
    assert fresh["card"] == render_card(templates, fonts, CardData("SK-2026-000123-6", record, matrix, record.photo,
                                                                   ISSUED))
    assert _by_writer(fresh["pdf"]) and _by_writer(fresh["card"])


def test_signed_cards_both_ways_valid_and_the_same(keystore, tmp_path):
    """Cards carry an invisible PAdES field (certgen/card_files.py): the page writer draws it
    as ReportLab does; both verify in pyHanko and pdfsig. Print sheets keep their keyword."""
    from certgen.card_files import signed_card
    from certgen.seal import is_print_sheet

    templates, fonts = templates_and_fonts()
    sealer = PdfSealer(keystore.current_signer(PASSPHRASE), [keystore.root_certificate()])
    record = RECORDS["person-latin"]()
    card = CardData("SK-2026-000123-6", record, qr_matrix(SEAL), record.photo, ISSUED, edition=2)
    new, old = _both(lambda: signed_card(templates, fonts, sealer, card, SEAL, SIGNED_AT))
    assert_equivalent(new, old, tmp_path)
    nss = make_nss_db(tmp_path / "nss", keystore.root_cert_path)
    for tag, pdf in (("new", new), ("old", old)):
        status = pyhanko_status(pdf, keystore.root_certificate())
        assert status.intact and status.valid and status.trusted and status.bottom_line, status.summary()
        path = tmp_path / f"card-{tag}.pdf"
        path.write_bytes(pdf)
        assert "Signature is Valid." in pdfsig(path, nss)
    sheet_new, sheet_old = _both(lambda: render_sheet(templates, fonts, [card], "cards-0001"))
    assert is_print_sheet(sheet_new) and is_print_sheet(sheet_old)
