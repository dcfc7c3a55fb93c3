"""Striped decoding of JPEGs with restart markers (verify/jpeg_stripes.py): pixel for pixel what
the whole file decodes to, and a plain fall-back for everything it cannot prove splits."""

import io
import threading

import cv2
import numpy as np
import pytest
from PIL import Image

from tests import photography as photo
from verify import jpeg_stripes as stripes
from verify import scan as scan_module
from verify.scan import ImageError, scan

GREY = [cv2.IMREAD_GRAYSCALE, cv2.IMREAD_REDUCED_GRAYSCALE_2, cv2.IMREAD_REDUCED_GRAYSCALE_4,
        cv2.IMREAD_REDUCED_GRAYSCALE_8]


@pytest.fixture(autouse=True)
def small_files_split(monkeypatch):
    """Split files of any size, so that the tests run on small images quickly."""
    monkeypatch.setattr(stripes, "MIN_SPLIT_BYTES", 0)


def _pillow(image: np.ndarray, **options) -> bytes:
    out = io.BytesIO()
    Image.fromarray(image).save(out, "JPEG", quality=85, **options)
    return out.getvalue()


def _whole(data: bytes, flag: int) -> np.ndarray:
    return cv2.imdecode(np.frombuffer(data, np.uint8), flag | cv2.IMREAD_IGNORE_ORIENTATION)


def _size(data: bytes) -> tuple[int, int]:
    return Image.open(io.BytesIO(data)).size


def _plan(data: bytes, flag: int = cv2.IMREAD_GRAYSCALE):
    width, height = _size(data)
    return stripes.plan(data, flag, width, height)


def _same_as_whole(data: bytes) -> None:
    for flag in GREY:
        split = _plan(data, flag)
        assert split is not None and len(split.stripes) == 2, flag
        decoded = stripes.decode(split, flag)
        assert decoded is not None and np.array_equal(decoded, _whole(data, flag)), flag


CASES = {
    "grey, a marker every MCU row": (photo.texture(203, 301), {"restart_marker_rows": 1}),
    "grey, every 3 rows": (photo.texture(200, 160), {"restart_marker_rows": 3}),
    "grey, every 7 MCUs (meets a row every 7 rows)": (photo.texture(190, 77), {"restart_marker_blocks": 7}),
    "colour 4:2:0, every row": (photo.texture(203, 301, True), {"restart_marker_rows": 1, "subsampling": 2}),
    "colour 4:2:2, every 2 rows": (photo.texture(150, 250, True), {"restart_marker_rows": 2, "subsampling": 1}),
    "colour 4:4:4, every row": (photo.texture(97, 129, True), {"restart_marker_rows": 1, "subsampling": 0}),
    "colour 4:2:0, every 5 MCUs": (photo.texture(180, 240, True, 3), {"restart_marker_blocks": 5, "subsampling": 2}),
}


@pytest.mark.parametrize("name", list(CASES))
def test_stripes_decode_to_the_pixels_of_the_whole_file(name):
    image, options = CASES[name]
    _same_as_whole(_pillow(image, **options))


def test_opencv_restart_interval_and_odd_sizes_decode_alike():
    for height, width in ((64, 64), (65, 63), (1001, 17), (33, 1500)):
        image = photo.texture(height, width, seed=height)
        _same_as_whole(cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_RST_INTERVAL, -(-width // 8)])[1].tobytes())


def test_the_corpus_file_with_a_restart_interval_splits_exactly():
    """#199b.jpg of zxing-cpp's corpus (100x99, 4:2:0, DRI 7 = one MCU row)."""
    from tests.test_scan import CORPUS
    _same_as_whole((CORPUS / "#199b.jpg").read_bytes())


def test_three_stripes_split_too():
    data = _pillow(photo.texture(300, 200), restart_marker_rows=1)
    split = stripes.plan(data, cv2.IMREAD_GRAYSCALE, 200, 300, stripes=3)
    assert len(split.stripes) == 3
    parts = [_whole(s, cv2.IMREAD_GRAYSCALE) for s in split.stripes]
    assert np.array_equal(np.vstack(parts), _whole(data, cv2.IMREAD_GRAYSCALE))


def test_a_busy_pool_does_not_wait_the_stripe_is_decoded_by_the_caller():
    data = _pillow(photo.texture(200, 200), restart_marker_rows=1)
    release = threading.Event()
    blocker = stripes.worker_pool().submit(release.wait, 10)
    try:
        decoded = stripes.decode(_plan(data), cv2.IMREAD_GRAYSCALE)
    finally:
        release.set()
    blocker.result(timeout=10)
    assert np.array_equal(decoded, _whole(data, cv2.IMREAD_GRAYSCALE))


def _decode_in_child(data: bytes) -> bool:
    split = _plan(data)
    return stripes._POOL is None and np.array_equal(stripes.decode(split, cv2.IMREAD_GRAYSCALE),
                                                     _whole(data, cv2.IMREAD_GRAYSCALE))


def test_a_forked_worker_gets_its_own_pool():
    """The parent's pool threads do not survive a fork (certverify's worker processes): the
    child starts its own instead of queueing stripes no thread will ever take."""
    import multiprocessing
    data = _pillow(photo.texture(200, 200), restart_marker_rows=1)
    stripes.decode(_plan(data), cv2.IMREAD_GRAYSCALE)
    assert stripes._POOL is not None
    with multiprocessing.get_context("fork").Pool(1) as pool:
        assert pool.apply(_decode_in_child, (data,)) is True


def test_damaged_intervals_decode_as_the_whole_file_does():
    """Bytes changed inside intervals (markers intact): libjpeg resets at every marker, so the
    stripes still give exactly the whole file's (damaged) pixels."""
    data = _pillow(photo.texture(240, 320, True), restart_marker_rows=1, subsampling=2)
    rng = np.random.default_rng(7)
    scan_at = data.index(b"\xff\xda") + 14
    for _ in range(20):
        damaged = bytearray(data)
        for at in rng.integers(scan_at, len(data) - 2, 6):
            if damaged[at] != 0xFF and damaged[at - 1] != 0xFF:
                damaged[at] = int(rng.integers(0, 255))  # never 0xFF: no new marker
        split = _plan(bytes(damaged))
        assert split is not None
        assert np.array_equal(stripes.decode(split, cv2.IMREAD_GRAYSCALE), _whole(bytes(damaged), cv2.IMREAD_GRAYSCALE))


# -- what does not split: the plan says None, the file is decoded whole -------------------------

def _rst_offsets(data: bytes) -> list[int]:
    scan_at = data.index(b"\xff\xda")
    return [i for i in range(scan_at, len(data) - 1) if data[i] == 0xFF and 0xD0 <= data[i + 1] <= 0xD7]


def _with_dri(data: bytes, value: int) -> bytes:
    at = data.index(b"\xff\xdd")
    return data[:at + 4] + value.to_bytes(2, "big") + data[at + 6:]


def _refused() -> dict[str, tuple[bytes, str]]:
    """Files that must not be split, with the reason `refusal` gives."""
    grey = photo.texture(200, 160)
    good = _pillow(grey, restart_marker_rows=1)
    marks = _rst_offsets(good)
    sof = good.index(b"\xff\xc0")
    middle = marks[len(marks) // 2]
    colour = _pillow(photo.texture(64, 64, True), restart_marker_rows=1, subsampling=2)
    c_sof = colour.index(b"\xff\xc0")
    sequence = "restart markers out of sequence"
    no_eoi = "the scan does not end in EOI after its restart markers"
    luma = "not a YCbCr frame with full-resolution luma"
    return {
        "no restart markers": (_pillow(grey), "no restart interval"),
        "progressive with restart markers": (_pillow(grey, progressive=True, restart_marker_rows=1),
                                             "marker 0xc2: not a baseline Huffman file"),
        "a DRI of 0 with markers in the data": (_with_dri(good, 0), "no restart interval"),
        "a fake DRI (markers every row, DRI says every MCU)": (_with_dri(good, 1),
                                                               "24 restart markers where the frame needs 499"),
        "a DRI longer than the image": (_with_dri(good, 65535), "24 restart markers where the frame needs 0"),
        "an interval that never meets a row boundary": (_pillow(photo.texture(128, 128), restart_marker_blocks=127),
                                                        "the restart interval does not meet a row boundary often enough"),
        "a marker out of sequence": (good[:middle + 1] + bytes([0xD0 + (good[middle + 1] - 0xCF) % 8])
                                     + good[middle + 2:], sequence),
        "a marker missing": (good[:middle] + good[middle + 2:], "23 restart markers where the frame needs 24"),
        "a marker too many": (good[:middle] + good[middle:middle + 2] + good[middle:],
                              "25 restart markers where the frame needs 24"),
        "a fill byte before a marker": (good[:middle] + b"\xff" + good[middle:], no_eoi),
        "truncated (no EOI)": (good[:len(good) * 2 // 3], no_eoi),
        "no scan at all": (good[:good.index(b"\xff\xda")], "no marker where a segment should start"),
        "a segment length past the end": (good[:sof + 2] + b"\xff\xff" + good[sof + 4:], "segment length out of range"),
        "65 comment segments": (good[:2] + b"\xff\xfe\x00\x03x" * 65 + good[2:], "too many segments"),
        "12-bit precision": (good[:sof + 4] + b"\x0c" + good[sof + 5:], "not an 8-bit frame"),
        "height 0 (a DNL file)": (good[:sof + 5] + b"\x00\x00" + good[sof + 7:], "frame components"),
        "sampling factor 3": (colour[:c_sof + 11] + b"\x31" + colour[c_sof + 12:], "sampling factors"),
        "chroma sampled above luma": (colour[:c_sof + 11] + b"\x11" + colour[c_sof + 12:c_sof + 14] + b"\x22"
                                      + colour[c_sof + 15:], luma),
        "RGB component ids": (colour[:c_sof + 10] + b"R" + colour[c_sof + 11:c_sof + 13] + b"G"
                              + colour[c_sof + 14:c_sof + 16] + b"B" + colour[c_sof + 17:], luma),
        "an Adobe APP14 segment": (colour[:2] + b"\xff\xee\x00\x0eAdobe\x00\x64\x00\x00\x00\x00\x01" + colour[2:],
                                   "an Adobe colour transform"),
        "entropy data of stuffed 0xFF bytes": (good[:-2] + b"\xff\x00" * 20000 + b"\xff\xd9",
                                               "too many 0xFF bytes for entropy-coded data"),
        "arithmetic coding (SOF9)": (good[:sof + 1] + b"\xc9" + good[sof + 2:], "marker 0xc9: not a baseline Huffman file"),
    }


SIZES = {"an interval that never meets a row boundary": (128, 128), "sampling factor 3": (64, 64),
         "chroma sampled above luma": (64, 64), "RGB component ids": (64, 64), "an Adobe APP14 segment": (64, 64)}


@pytest.mark.parametrize("name", list(_refused()))
def test_what_cannot_be_proven_to_split_is_decoded_whole(name):
    data, reason = _refused()[name]
    width, height = SIZES.get(name, (160, 200))  # as probe read them from the header
    for flag in GREY:
        assert stripes.refusal(data, flag, width, height) == reason, flag
        assert stripes.plan(data, flag, width, height) is None


def test_a_frame_of_another_size_than_the_header_check_saw_is_not_split():
    data = _pillow(photo.texture(200, 160), restart_marker_rows=1)
    assert _plan(data) is not None
    assert stripes.plan(data, cv2.IMREAD_GRAYSCALE, 160, 199) is None
    assert stripes.plan(data, cv2.IMREAD_COLOR, 160, 200) is None  # colour output: never split


def test_hostile_declared_sizes_are_refused_by_the_header_check_first():
    """A striped file declaring 60000 x 60000 is refused by probe before any decoding; one
    declaring 8000 x 5000 (40 MP, under the limit) for 200 rows of data has too few markers."""
    data = _pillow(photo.texture(200, 160), restart_marker_rows=1)
    sof = data.index(b"\xff\xc0") + 5
    huge = data[:sof] + (60000).to_bytes(2, "big") * 2 + data[sof + 4:]
    with pytest.raises(ImageError) as refused:
        scan(huge)
    assert refused.value.kind == "too_large"
    large = data[:sof] + (5000).to_bytes(2, "big") + (8000).to_bytes(2, "big") + data[sof + 4:]
    assert stripes.plan(large, cv2.IMREAD_REDUCED_GRAYSCALE_2, 8000, 5000) is None


def _outcome(data: bytes) -> tuple:
    try:
        result = scan(data)
        return ("texts", result.texts, result.decoder, result.width, result.height)
    except ImageError as exc:
        return ("error", exc.kind, str(exc))


def test_the_scan_gives_the_same_outcome_striped_or_not(monkeypatch):
    """Every refused file and every split one: the same texts or the same error with the
    striped path on and off."""
    files = {**{name: data for name, (data, _) in _refused().items()}, **{name: _pillow(image, **options) for name, (image, options) in CASES.items()}}
    striped = {name: _outcome(data) for name, data in files.items()}
    monkeypatch.setattr(scan_module, "STRIPED", False)
    assert {name: _outcome(data) for name, data in files.items()} == striped


# -- in the scanner -------------------------------------------------------------------------------

def _certificate_photo(page: np.ndarray, restart_rows: int | None, exif_orientation: int | None = None) -> bytes:
    """A 12 MP photo of the page (Pillow, quality 88), with a restart marker every
    `restart_rows` MCU rows and an EXIF orientation if given."""
    options: dict = {"quality": 88}
    if restart_rows:
        options["restart_marker_rows"] = restart_rows
    if exif_orientation:
        exif = Image.Exif()
        exif[0x0112] = exif_orientation
        options["exif"] = exif.tobytes()
    out = io.BytesIO()
    Image.fromarray(photo.photo_12mp(page)).save(out, "JPEG", **options)
    return out.getvalue()


def test_a_12_megapixel_photo_with_restart_markers_is_read_from_stripes(monkeypatch, certificate):
    from tests.test_scan import SEAL
    monkeypatch.undo()  # the real size threshold: a 12 MP photo is well above it
    data = _certificate_photo(certificate, restart_rows=1)
    used = []
    real = stripes.decode
    monkeypatch.setattr(stripes, "decode", lambda split, flag: used.append((len(split.stripes), flag)) or real(split, flag))
    result = scan(data)
    assert result.texts == (SEAL,) and result.decoder == "zxing-cpp/reduced"
    assert (result.width, result.height) == (2000, 1500)
    assert used == [(2, cv2.IMREAD_REDUCED_GRAYSCALE_2)]
    assert np.array_equal(scan_module.decode(data, scan_module.probe(data), cv2.IMREAD_REDUCED_GRAYSCALE_2),
                          _whole(data, cv2.IMREAD_REDUCED_GRAYSCALE_2))


@pytest.mark.parametrize("orientation", [6, 8, 3])
def test_a_portrait_phone_photo_is_read_not_refused(orientation, certificate):
    """Regression: a photo whose EXIF says "turned" (every portrait phone photo) decoded to
    3000 x 4000 and was refused as unreadable ("decodes to 3000x4000 pixels, not the 4000x3000
    its header declares"). The scanner reads the stored pixels: a QR code reads turned."""
    from tests.test_scan import SEAL
    for restart in (None, 1):
        data = _certificate_photo(certificate, restart, exif_orientation=orientation)
        assert scan(data).texts == (SEAL,)
        assert scan(data, reduced_first=False).texts == (SEAL,)
