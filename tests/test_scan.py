"""The scanner: public corpora, the project's own documents after synthetic photography, bad input."""

import base64
import json
from datetime import date

import cv2
import numpy as np
import pytest

from certgen.barcode import qr_matrix
from certgen.render.card import CardData, qr_side, render_card
from certgen.render.document import QR_BOX, render_certificate
from tests.conftest import DATA
from tests.documents import person, templates_and_fonts
from tests import photography as photo
from verify.scan import ImageError, scan

SEAL = "https://verifikasi.example.id/v/" + "2KCE3IQBEYCEQHQE6G3RMADETOQFQ4FDAFTUSRBNIJJUWUAGDJVQMG7SHIAACAAAU4AACALQKNFS2MRQGI3C2MBQGAY" * 3 + "TEMZNGYBAE"
CORPUS = DATA / "zxing-qrcode-2"


def test_zxing_corpus_reads_55_of_56():
    """The real figure: every image but 13.webp (a QR code whose modules are filled with the
    texture of an aerial photograph; no decoder in the cascade reads it). zxing-cpp's own tests
    expect 50 of 56 from zxing-cpp alone."""
    images = sorted(p for p in CORPUS.iterdir() if p.suffix in (".png", ".jpg", ".webp"))
    assert len(images) == 56
    missed = [p.name for p in images
              if CORPUS.joinpath(p.stem + ".txt").read_bytes().decode("utf-8") not in scan(p.read_bytes()).texts]
    assert missed == ["13.webp"]


def test_dgc_pictures_decode_to_their_prefix():
    cases = [json.loads(p.read_text()) for p in sorted((DATA / "dgc").glob("*.json"))]
    pictures = [c for c in cases if "2DCODE" in c and "EXPECTEDPICTUREDECODE" in c["EXPECTEDRESULTS"]]
    assert len(pictures) == 2
    for case in pictures:
        try:
            decoded = case["PREFIX"] in scan(base64.b64decode(case["2DCODE"])).texts
        except ImageError:
            decoded = False
        assert decoded is case["EXPECTEDRESULTS"]["EXPECTEDPICTUREDECODE"], case["TESTCTX"]["DESCRIPTION"]


@pytest.fixture(scope="module")
def printed(tmp_path_factory):
    """A certificate page and a card back as a 300 dpi print, with their module sizes in pixels."""
    folder = tmp_path_factory.mktemp("printed")
    templates, fonts = templates_and_fonts()
    matrix = qr_matrix(SEAL)
    cert = folder / "cert.pdf"
    cert.write_bytes(render_certificate(templates, fonts, person(), "SK-2026-000123-6", matrix,
                                        date(2026, 11, 24)))
    card = folder / "card.pdf"
    card.write_bytes(render_card(templates, fonts, CardData("SK-2026-000123-6", person(), matrix, None, date(2026, 11, 24))))
    modules = matrix.size + 8
    return {
        "certificate": (photo.render_page(cert, 1), QR_BOX[2] / modules / 72 * 300),
        "card": (photo.render_page(card, 2), qr_side(matrix) / modules / 72 * 300),
    }


TRANSFORMS = {
    "as printed": lambda img, m: photo.encode(img),
    "rotated 15": lambda img, m: photo.encode(photo.rotate(img, 15)),
    "rotated 45": lambda img, m: photo.encode(photo.rotate(img, 45)),
    "perspective": lambda img, m: photo.encode(photo.perspective(img)),
    "blur sigma 2": lambda img, m: photo.encode(photo.blur(img, 2.0)),
    "noise": lambda img, m: photo.encode(photo.noise(img)),
    "jpeg q30": lambda img, m: photo.encode(img, ".jpg", 30),
    "2 px per module": lambda img, m: photo.encode(photo.scale_to_module(img, m, 2.0)),
    "12 MP photo": lambda img, m: photo.encode(photo.photo_12mp(img), ".jpg", 85),
}


@pytest.mark.parametrize("document", ["certificate", "card"])
@pytest.mark.parametrize("transform", list(TRANSFORMS))
def test_own_documents_read_after_synthetic_photography(printed, document, transform):
    image, module_px = printed[document]
    data = TRANSFORMS[transform](image, module_px)
    assert scan(data).texts == (SEAL,)


def test_two_cards_side_by_side_give_two_texts(printed, tmp_path):
    templates, fonts = templates_and_fonts()
    other = SEAL[:-4] + "QQQQ"
    image, _ = printed["card"]
    second = tmp_path / "card2.pdf"
    second.write_bytes(render_card(templates, fonts, CardData("SK-2026-000124-4", person(), qr_matrix(other), None, date(2026, 11, 24))))
    both = np.hstack([image, photo.render_page(second, 2)])
    assert sorted(scan(photo.encode(both)).texts) == sorted([SEAL, other])


@pytest.mark.parametrize("data, message, too_large", [
    (b"hello, not an image", "not a PNG, JPEG or WebP image", False),
    (b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "damaged or truncated", False),
    (photo.encode(np.full((50, 50), 255, np.uint8), ".jpg")[:200], "damaged or truncated", False),
])
def test_bad_images_get_a_clear_error(data, message, too_large):
    with pytest.raises(ImageError, match=message) as err:
        scan(data)
    assert err.value.too_large is too_large


def test_decompression_bomb_is_refused_before_decoding():
    import io
    from PIL import Image
    buffer = io.BytesIO()
    Image.new("1", (12000, 12000)).save(buffer, "PNG")  # a few kB that would decode to 144 megapixels
    assert len(buffer.getvalue()) < 100_000
    with pytest.raises(ImageError) as err:
        scan(buffer.getvalue())
    assert err.value.too_large


def test_blank_image_has_no_barcode_and_webp_is_read(printed):
    assert scan(photo.encode(np.full((400, 400), 255, np.uint8))).texts == ()
    image, _ = printed["card"]
    webp = cv2.imencode(".webp", image, [cv2.IMWRITE_WEBP_QUALITY, 80])[1].tobytes()
    assert scan(webp).texts == (SEAL,)


# -- the reduced first pass (issue 15) ---------------------------------------------------------

@pytest.fixture()
def decodes(monkeypatch):
    """The OpenCV flags every decode of the scan used, in order."""
    from verify import scan as scan_module
    flags = []
    real = scan_module.decode

    def spy(data, header, flag):
        flags.append(flag)
        return real(data, header, flag)
    monkeypatch.setattr(scan_module, "decode", spy)
    return flags


def test_a_12_megapixel_photo_is_read_from_a_jpeg_decoded_at_half_size(printed, decodes):
    image, _ = printed["certificate"]
    result = scan(photo.encode(photo.photo_12mp(image), ".jpg", 88))
    assert result.texts == (SEAL,)
    assert result.decoder == "zxing-cpp/reduced" and (result.width, result.height) == (2000, 1500)
    assert decodes == [cv2.IMREAD_REDUCED_GRAYSCALE_2]  # the full-size pixels were never decoded


def test_a_code_too_small_for_the_reduced_image_is_read_at_full_resolution(printed, decodes):
    """The page 900 pixels wide in a 4000-pixel photo: about 1.4 pixels per module at half size,
    too few; the full decode reads it."""
    image, _ = printed["certificate"]
    result = scan(photo.encode(photo.photo_12mp(image, page_width=900, angle=3, seed=1), ".jpg", 90))
    assert result.texts == (SEAL,) and result.decoder == "zxing-cpp"
    assert decodes == [cv2.IMREAD_REDUCED_GRAYSCALE_2, cv2.IMREAD_GRAYSCALE]


def test_a_large_png_is_shrunk_not_decoded_twice(printed, decodes):
    image, _ = printed["certificate"]
    result = scan(photo.encode(photo.photo_12mp(image)))
    assert result.texts == (SEAL,) and result.decoder == "zxing-cpp/reduced"
    assert decodes == [cv2.IMREAD_GRAYSCALE]


def _outcome(data: bytes, reduced_first: bool) -> tuple:
    try:
        return ("texts", scan(data, reduced_first=reduced_first).texts)
    except ImageError as exc:
        return ("error", exc.kind, str(exc))


def _photos(printed) -> dict[str, bytes]:
    """Large photos of both documents: the code large, small, too small, none at all; JPEG at
    several sizes (each DCT scaling) and quality, PNG."""
    image, _ = printed["certificate"]
    card, _ = printed["card"]
    big = photo.photo_12mp(image)
    return {
        **{f"certificate 12 MP, page {width} px":
           photo.encode(photo.photo_12mp(image, page_width=width, angle=3, seed=1), ".jpg", 90)
           for width in (700, 800, 900, 1100, 1500, 1800)},
        "card 12 MP": photo.encode(photo.photo_12mp(card, page_width=1400), ".jpg", 85),
        "certificate 12 MP, quality 40": photo.encode(big, ".jpg", 40),
        "certificate 12 MP, PNG": photo.encode(big),
        "certificate 3000 px": photo.encode(cv2.resize(big, (3000, 2250), interpolation=cv2.INTER_AREA), ".jpg", 90),
        "certificate 7000 px": photo.encode(cv2.resize(big, (7000, 5250)), ".jpg", 90),
        "blank page 12 MP": photo.encode(photo.photo_12mp(np.full_like(image, 250)), ".jpg", 88),
        "truncated 12 MP": photo.encode(big, ".jpg", 88)[:600_000],
    }


def test_the_reduced_pass_gives_what_the_full_resolution_path_gives(printed):
    """The fast path never loses a code and never reads another: the same texts, or the same
    error, on every large photo, on every image of the public corpus and on every hostile image
    of tests/test_hostile_files.py."""
    from tests.test_hostile_files import hostile_images
    photos = _photos(printed)
    files = {**photos, **hostile_images(),
             **{p.name: p.read_bytes() for p in sorted(CORPUS.iterdir()) if p.suffix in (".png", ".jpg", ".webp")}}
    outcomes = {name: (_outcome(data, True), _outcome(data, False)) for name, data in files.items()}
    assert {name: both for name, both in outcomes.items() if both[0][:2] != both[1][:2]} == {}
    missed = [name for name in photos if outcomes[name][0] != ("texts", (SEAL,))]
    assert missed == ["certificate 12 MP, page 800 px", "blank page 12 MP", "truncated 12 MP"]
    assert outcomes["truncated 12 MP"][0][:2] == ("error", "unreadable")
    kinds = {outcomes[name][0][1] for name in hostile_images()}  # an error's kind, or the texts read
    assert kinds == {"too_small", "too_large", "unreadable", ()}, kinds


def test_a_small_second_code_next_to_a_large_one_is_not_lost(printed, tmp_path):
    """Two certificates in one 12 MP photo, one close (its code large), one far (its code
    readable only at full resolution): both codes are returned, as the full path returns them.
    (A known gap until 30 November 2026: the reduced pass stopped at the codes it read. zxing-cpp
    locates the far code at 1/2 scale without decoding it; that sends the scan to full
    resolution as well.)"""
    templates, fonts = templates_and_fonts()
    other = SEAL[:-4] + "QQQQ"
    far = tmp_path / "far.pdf"
    far.write_bytes(render_certificate(templates, fonts, person(), "SK-2026-000124-4", qr_matrix(other), date(2026, 11, 24)))
    near, _ = printed["certificate"]
    desk = np.full((3000, 4000), 120, np.uint8)
    for page, width, left in ((near, 1800, 100), (photo.render_page(far, 1), 800, 2600)):
        shrunk = cv2.resize(page, (width, round(page.shape[0] * width / page.shape[1])), interpolation=cv2.INTER_AREA)
        desk[200:200 + shrunk.shape[0], left:left + width] = shrunk
    data = photo.encode(desk, ".jpg", 92)
    assert sorted(scan(data, reduced_first=False).texts) == sorted([SEAL, other])
    result = scan(data)
    assert sorted(result.texts) == sorted([SEAL, other])
    assert result.decoder == "zxing-cpp/reduced+zxing-cpp" and (result.width, result.height) == (4000, 3000)


def test_an_undecoded_symbol_on_a_code_already_read_is_not_a_second_code():
    """zxing-cpp may report one code twice, read and not read: only an undecoded symbol apart
    from every code read sends the scan to full resolution (scan._zxing_quick)."""
    from types import SimpleNamespace

    from verify.scan import _overlaps

    def symbol(x: float, y: float, side: float) -> SimpleNamespace:
        point = lambda px, py: SimpleNamespace(x=px, y=py)  # noqa: E731
        return SimpleNamespace(position=SimpleNamespace(top_left=point(x, y), top_right=point(x + side, y),
                                                        bottom_right=point(x + side, y + side),
                                                        bottom_left=point(x, y + side)))

    read = symbol(100, 100, 300)
    assert _overlaps(symbol(120, 110, 280), read)  # the same code, located a little differently
    assert not _overlaps(symbol(1300, 100, 60), read)  # a small code elsewhere on the desk
    assert not _overlaps(symbol(380, 380, 100), read)  # centre just outside the read code's box
