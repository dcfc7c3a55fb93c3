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


def test_zxing_corpus_reads_at_least_54_of_56():
    images = sorted(p for p in CORPUS.iterdir() if p.suffix in (".png", ".jpg", ".webp"))
    assert len(images) == 56
    read = [p.name for p in images
            if CORPUS.joinpath(p.stem + ".txt").read_bytes().decode("utf-8") in scan(p.read_bytes()).texts]
    assert len(read) >= 54, sorted(set(p.name for p in images) - set(read))


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
