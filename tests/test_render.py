"""Documents as printed: content, fonts, sizes, barcodes read back by an independent decoder."""

from datetime import date

import pytest
from certgen.barcode import QUIET_ZONE, qr_matrix
from certgen.render.card import CARD_W, CardData, card_fit_problems, qr_side, render_card, render_sheet
from certgen.render.document import check_fit, render_certificate
from certgen.render.fonts import normalise
from tests.documents import (decode_pages, fonts_embedded, page_sizes_mm, page_texts, person, product,
                             templates_and_fonts, training)

SEAL = "https://verifikasi.example.id/v/" + "2KCE3IQBEYCEQHQE6G3RMADETOQFQ4FDAFTUSRBNIJJUWUAGDJVQMG7SHIAACAAAU" * 5
ISSUED = date(2026, 11, 24)

NAMES = [
    "Gede Ngurah Rai Öğretmen-Sastrowardoyo",   # diacritics and a hyphen
    "Nur'aini Ma'ruf",                          # apostrophes
    "Sukarni",                                  # a single name
    "Ñuñez Ångström Łukasz Đorđević Nguyễn Thị Minh Khai",
    "Raden Mas Muhammad Rizky Pratama Wijayakusuma Setiawati Nugroho Hadiningrat Putr",  # 80 characters
    "王小明",                                    # Chinese: the Droid Sans Fallback font
    "山田 太郎 (やまだ たろう)",                    # Japanese kanji and kana
    "김민수",                                    # Korean: Nanum Gothic
    "Wang Xiaoming 王小明",                      # Latin and Han on one line
]


def test_eighty_character_name_is_eighty_characters():
    assert len(NAMES[4]) == 80


@pytest.mark.parametrize("name", NAMES)
def test_any_name_prints_and_extracts_exactly(name, tmp_path):
    templates, fonts = templates_and_fonts()
    record = person(normalise(name))
    assert check_fit(templates, fonts, record) == []
    pdf = render_certificate(templates, fonts, record, "SK-2026-000123-6", qr_matrix(SEAL), ISSUED, record.photo)
    lines = page_texts(pdf)[0].splitlines()
    assert name in lines  # one line, exactly as typed
    card = render_card(templates, fonts, CardData("SK-2026-000123-6", record, qr_matrix(SEAL), record.photo, ISSUED))
    front = page_texts(card)[0]
    assert name in front.replace("\n", " ")


def test_combining_characters_are_normalised_to_print():
    assert normalise("Jose\u0301  Marti\u0301\n") == "José Martí"


@pytest.mark.parametrize("record", [product(5), product(1), training(), person()],
                         ids=["product-type5", "product-type1", "training", "person"])
def test_certificate_shows_the_required_content(record, tmp_path):
    templates, fonts = templates_and_fonts()
    pdf = render_certificate(templates, fonts, record, "P5-2026-000001-X", qr_matrix(SEAL), ISSUED,
                             getattr(record, "photo", None))
    text = page_texts(pdf)[0]
    # the body, the number, the holder and the signature block are on every document
    for expected in ("BALAI SERTIFIKASI", "KEMENTERIAN PERDAGANGAN REPUBLIK INDONESIA", "P5-2026-000001-X",
                     record.holder, "Kepala Balai Sertifikasi", "Jakarta, 24 November 2026"):
        assert expected in text
    if record.kind.value == "product":
        for expected in (record.client_address, record.product, record.brand, record.standard, "23 November 2030"):
            assert expected in text.replace("\n", " ")
        assert ("Pabrik Cikarang" in text) == (record.scheme_type == 5)
        assert f"Tipe {record.scheme_type}" in text
    if record.kind.value == "training":
        assert "18–21 November 2026" in text and "32 jam pelajaran" in text and "Berlaku Sampai" not in text
    if record.kind.value == "person":
        assert "SKM-PTK-03" in text and "23 November 2029" in text
    path = tmp_path / "doc.pdf"
    path.write_bytes(pdf)
    assert page_sizes_mm(pdf) == [pytest.approx((210, 297), abs=0.2)]
    fonts_found = fonts_embedded(path)
    assert fonts_found and all(embedded for _, embedded in fonts_found), fonts_found
    assert decode_pages(path) == [[SEAL]]  # zbar reads the printed seal


def test_card_is_id1_with_front_and_back_and_a_readable_code(tmp_path):
    templates, fonts = templates_and_fonts()
    matrix = qr_matrix(SEAL)
    card = render_card(templates, fonts, CardData("SK-2026-000123-6", person(), matrix, person().photo, ISSUED))
    assert page_sizes_mm(card) == [pytest.approx((85.60, 53.98), abs=0.01)] * 2
    text = page_texts(card)
    assert "KARTU PERSONEL BERSERTIFIKAT" in text[0] and "Siti Aminah" in text[0] and "24-11-2026 s.d. 23-11-2029" in text[0]
    assert "Pindai untuk verifikasi" in text[1] and "Scan to verify" in text[1]
    # the signature block: place and date of issue, the signatory
    assert "Jakarta, 24 November 2026" in text[1]
    assert "Kepala Balai Sertifikasi" in text[1] and "Head of the Certification Centre" in text[1]
    assert "Dr. Ratna Dewi Kusumawati, M.Sc." in text[1]
    module_mm = qr_side(matrix) / (matrix.size + 2 * QUIET_ZONE) * 25.4 / 72
    assert module_mm >= 0.33
    path = tmp_path / "card.pdf"
    path.write_bytes(card)
    assert all(embedded for _, embedded in fonts_embedded(path))
    assert decode_pages(path, dpi=600) == [[], [SEAL]]


def test_print_sheet_holds_ten_cards_with_backs_mirrored(tmp_path):
    templates, fonts = templates_and_fonts()
    texts = [SEAL + "Q" * (i + 1) for i in range(10)]
    cards = [CardData(f"SK-2026-{i + 1:06d}-X", person(f"Peserta {i + 1}"), qr_matrix(text), None, ISSUED)
             for i, text in enumerate(texts)]
    pdf = render_sheet(templates, fonts, cards, "cards-0001")
    assert page_sizes_mm(pdf) == [pytest.approx((210, 297), abs=0.2)] * 2
    front_text, back_text = page_texts(pdf)
    assert all(f"Peserta {i + 1}" in front_text for i in range(10))
    path = tmp_path / "sheet.pdf"
    path.write_bytes(pdf)
    front, back = decode_pages(path, dpi=400)
    assert front == [] and back == sorted(texts)


def test_back_places_mirror_the_front_for_long_edge_duplex():
    from certgen.render.card import COLUMNS, mirrored, sheet_positions
    from reportlab.lib.pagesizes import A4
    positions = sheet_positions()
    for index, (x, y) in enumerate(positions):
        bx, by = positions[mirrored(index)]
        assert by == y  # same row
        assert bx + CARD_W == pytest.approx(A4[0] - x)  # mirrored across the page's vertical axis
    assert COLUMNS == 2 and len(positions) == 10


def test_too_long_values_are_reported_by_field():
    templates, fonts = templates_and_fonts()
    long = person("Nama " * 30)
    problems = {p.field for p in check_fit(templates, fonts, long)}
    assert "name" in problems
    record = product()
    from dataclasses import replace
    wordy = replace(record, client_address="Jalan " * 60)
    assert [p.field for p in check_fit(templates, fonts, wordy)] == ["client_address"]
    assert card_fit_problems(templates, fonts, person("Panjang " * 15)) == [("name", "too long for the card")]


@pytest.mark.parametrize("text", [
    "".join(map(chr, range(128))),  # every ASCII code, the eight PDFDocEncoding does not map included
    "0.25 w 12 34 m 56 78 l S\nBT /F1+0 9.5 Tf (Siti Aminah) Tj ET",
    "Jl. M.I. Ridwan Rais · Nguy\u1ec5n · \u0391\u03b8\u03ae\u03bd\u03b1",
    b"\x00\xffbytes pass through",
])
def test_fast_text_encoding_gives_reportlabs_bytes(text):
    """The ReportLab adapter encodes ASCII with Python's codec: same bytes, or the same error, as ReportLab's own."""
    from certgen.adapters import reportlab as pdf_settings

    def outcome(encode):
        try:
            return encode(text)
        except UnicodeEncodeError as exc:
            return type(exc)

    assert outcome(pdf_settings._fast_pdfdoc_encode) == outcome(pdf_settings._pdfdoc_encode)


def test_reused_text_splits_follow_each_documents_own_character_codes():
    """The ReportLab adapter reuses the subset split of a string drawn before; a later document that gave
    its non-ASCII characters other codes must still print (and extract) the right text."""
    templates, fonts = templates_and_fonts()
    matrix = qr_matrix(SEAL)
    first, second = "Ñuñez Ibáñez", "Ångström Øre"

    def sheet(*names):
        cards = [CardData(f"SK-2026-{i + 1:06d}-X", person(n), matrix, None, ISSUED) for i, n in enumerate(names)]
        return page_texts(render_sheet(templates, fonts, cards))[0]

    assert first in sheet(first, second) and second in sheet(first, second)
    assert second in sheet(second)  # Å and ø come first here: other codes than on the sheet before
    assert first in sheet(second, first) and second in sheet(second, first)


def test_a_card_template_whose_back_text_runs_into_the_signature_block_is_refused(tmp_path):
    """Staff edit templates/card.yaml: a back text too long for the card stops a person batch
    before anything is issued, naming the file and the key."""
    import shutil
    from dataclasses import replace

    from certgen.batch import BatchOptions, check_input
    from certgen.model import DocumentKind
    from certgen.render.card import card_template_problems
    from certgen.render.templates import Bilingual, TemplateError, TemplateSet

    templates, fonts = templates_and_fonts()
    assert card_template_problems(templates, fonts) == []
    wordy = replace(templates, card=replace(templates.card, back_text=Bilingual("Kartu ini milik negara. " * 16, "This card. " * 8)))
    assert card_template_problems(wordy, fonts) == [
        "card.yaml: back_text is too long: it runs into the signature block; shorten it"]
    with pytest.raises(ValueError, match="back_text"):
        render_card(wordy, fonts, CardData("SK-2026-000123-6", person(), qr_matrix(SEAL), None, ISSUED))
    long_name = replace(templates, letterhead=replace(templates.letterhead, signatory_name="Prof. Dr. Ir. " * 6))
    assert card_template_problems(long_name, fonts) == [
        "letterhead.yaml: the signatory name is too long for the card's signature block"]
    folder = tmp_path / "templates"
    shutil.copytree(templates.folder, folder)
    card_yaml = folder / "card.yaml"
    card_yaml.write_text(card_yaml.read_text(encoding="utf-8").replace(
        "Kartu ini milik Balai Sertifikasi.", "Kartu ini milik Balai Sertifikasi. " * 8), encoding="utf-8")
    from tests.documents import SAMPLES
    with pytest.raises(TemplateError, match=r"templates/card.yaml: back_text is too long"):
        check_input(BatchOptions(DocumentKind.PERSON, SAMPLES / "person.csv", tmp_path / "out"), TemplateSet.load(folder), fonts)


def test_fallback_fonts_are_embedded_only_where_a_name_needs_them(tmp_path):
    """CJK letters come from the fallback fonts of letterhead.yaml, subset and embedded in the
    documents that use them; other documents carry no trace of them."""
    templates, fonts = templates_and_fonts()
    embedded = {}
    for label, name in (("latin", "Siti Aminah"), ("cjk", "山田 太郎 김민수")):
        path = tmp_path / f"{label}.pdf"
        path.write_bytes(render_certificate(templates, fonts, person(name), "SK-2026-000123-6", qr_matrix(SEAL), ISSUED))
        embedded[label] = dict((font.split("+")[-1], emb) for font, emb in fonts_embedded(path))
    assert not any("Droid" in f or "Nanum" in f for f in embedded["latin"])
    assert embedded["cjk"]["DroidSansFallback"] and embedded["cjk"]["NanumGothic"]
    assert all(embedded["cjk"].values())


def test_scripts_that_need_shaping_do_not_fall_back():
    """Arabic, Hebrew, Devanagari, Thai letters would print wrongly without shaping and bidi:
    the intake refuses them (missing_glyphs names them) even where a font has the glyphs."""
    from certgen.render.fonts import missing_glyphs

    _, fonts = templates_and_fonts()
    for text in ("\u0639\u0628\u062f", "\u05d3\u05d5\u05d3", "\u0930\u093e\u092e", "\u0e2a\u0e21"):
        assert missing_glyphs(f"Nama {text}", fonts.regular) == sorted(set(text))
    assert missing_glyphs("王小明 김민수 やまだ", fonts.regular) == []


def test_a_missing_fallback_font_is_a_template_error_naming_it(tmp_path):
    import shutil

    from certgen.render.templates import TemplateError, TemplateSet

    folder = tmp_path / "templates"
    shutil.copytree(TemplateSet.load().folder, folder)
    letterhead = folder / "letterhead.yaml"
    letterhead.write_text(letterhead.read_text(encoding="utf-8").replace(
        "/usr/share/fonts/truetype/nanum/NanumGothic.ttf", "/nonexistent/Hangul.ttf"), encoding="utf-8")
    with pytest.raises(TemplateError, match=r"letterhead.yaml: fonts.fallback\[1\]: /nonexistent/Hangul.ttf is not a file"):
        TemplateSet.load(folder)


def test_fallback_is_switched_on_only_by_a_cjk_letter():
    """In a fresh process ReportLab's own methods run until a record with a CJK letter is
    measured or drawn (the wrappers cost about 3% of issuing time)."""
    import subprocess
    import sys
    from pathlib import Path

    probe = """
from datetime import date
from reportlab.pdfbase import pdfmetrics
from certgen.barcode import qr_matrix
from certgen.render.document import render_certificate
from tests.documents import person, templates_and_fonts
templates, fonts = templates_and_fonts()
font = pdfmetrics.getFont(fonts.title)
wrapped = lambda: getattr(font.stringWidth, "__self__", None) is not font
matrix = qr_matrix("https://verifikasi.example.id/v/" + "A" * 300)
render_certificate(templates, fonts, person("Nguyễn Thị Minh Khai"), "SK-2026-000123-6", matrix, date(2026, 11, 24))
print(wrapped())
render_certificate(templates, fonts, person("王小明"), "SK-2026-000123-6", matrix, date(2026, 11, 24))
print(wrapped())
"""
    root = Path(__file__).parent.parent
    out = subprocess.run([sys.executable, "-c", probe], cwd=root, capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "True"]
