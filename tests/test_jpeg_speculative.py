"""The two-thread JPEG decoder by checked speculation (verify/jpeg_speculative.py): libjpeg's own
pixels whenever it answers, the spans really joined, and a plain fall-back for everything else.
Hostile files: tests/test_jpeg_speculative_hostile.py."""

import io
import os
import subprocess
import sys
import threading

import cv2
import numpy as np
import pytest
from PIL import Image

from tests import photography as photo
from verify import jpeg_speculative as spec
from verify import jpeg_stripes
from verify import scan as scan_module

REDUCED = cv2.IMREAD_REDUCED_GRAYSCALE_2


@pytest.fixture(scope="module", autouse=True)
def warm_decoder():
    assert spec.warm(), "numba is installed (pyproject.toml): the decoder must warm and pass its self-test"
    assert spec.REQUIRE_FREE_CORE is False  # tests/conftest.py: the suite's scans do not depend on the load


@pytest.fixture
def small_files(monkeypatch):
    """Two spans on small images: no size threshold, and the first span stops 256 MCUs past the
    middle (instead of 2,048) so that the spans must join (quality 100 resynchronises after
    about 80 MCUs, the others within 5)."""
    monkeypatch.setattr(spec, "MIN_SPLIT_BYTES", 0)
    monkeypatch.setattr(spec, "OVERLAP_MCUS", 256)


def _texture(height: int, width: int, colour: bool, seed: int) -> np.ndarray:
    return photo.texture(height, width, colour, seed, noise=14)


def _pillow(image: np.ndarray, **options) -> bytes:
    out = io.BytesIO()
    Image.fromarray(image).save(out, "JPEG", **options)
    return out.getvalue()


def _opencv(image: np.ndarray, quality: int, optimize: bool = False) -> bytes:
    params = [cv2.IMWRITE_JPEG_QUALITY, quality, cv2.IMWRITE_JPEG_OPTIMIZE, int(optimize)]
    return cv2.imencode(".jpg", image, params)[1].tobytes()


def _libjpeg(data: bytes) -> np.ndarray:
    return cv2.imdecode(np.frombuffer(data, np.uint8), REDUCED | cv2.IMREAD_IGNORE_ORIENTATION)


def _explain(data: bytes) -> spec.Outcome:
    width, height = Image.open(io.BytesIO(data)).size
    job = spec.plan(data, REDUCED, width, height)
    assert job is not None, spec.refusal(data, width, height, spec.MIN_SPLIT_BYTES)
    return spec.explain(job)


def _cases() -> dict[str, bytes]:
    grey, colour = _texture(376, 501, False, 1), _texture(392, 517, True, 2)
    return {
        "opencv grey q88": _opencv(grey, 88),
        "opencv grey q100": _opencv(grey, 100),
        "opencv grey q20 optimised tables": _opencv(grey, 20, optimize=True),
        "opencv colour 4:2:0 q95": _opencv(colour, 95),
        "pillow colour 4:4:4": _pillow(colour, quality=90, subsampling=0),
        "pillow colour 4:2:2": _pillow(colour, quality=90, subsampling=1),
        "pillow colour 4:2:0 optimised": _pillow(colour, quality=75, subsampling=2, optimize=True),
        "pillow grey q60": _pillow(grey, quality=60),
        "pillow colour odd size": _pillow(colour[:301, :403], quality=85),
        "pillow colour with EXIF": _pillow(colour, quality=85, exif=Image.Exif().tobytes()),
    }


@pytest.mark.parametrize("name", list(_cases()))
def test_two_spans_join_and_give_libjpegs_pixels(small_files, name):
    data = _cases()[name]
    outcome = _explain(data)
    assert outcome.how == "joined", outcome.how
    assert outcome.joined_mcu and outcome.resync_mcus is not None
    assert np.array_equal(outcome.pixels, _libjpeg(data))


def test_sixteen_bit_quantisation_tables_decode_alike(small_files):
    """A DQT of 16-bit precision (Pq = 1) with the same values: the same pixels."""
    data = _opencv(_texture(376, 501, False, 3), 90)
    at = data.index(b"\xff\xdb")
    length = int.from_bytes(data[at + 2:at + 4], "big")
    tables, body, i = [], data[at + 4:at + 2 + length], 0
    while i < len(body):
        values = body[i + 1:i + 65]
        tables.append(bytes([0x10 | body[i] & 15]) + b"".join(v.to_bytes(2, "big") for v in values))
        i += 65
    segment = b"".join(tables)
    widened = data[:at] + b"\xff\xdb" + (len(segment) + 2).to_bytes(2, "big") + segment + data[at + 2 + length:]
    assert np.array_equal(_libjpeg(widened), _libjpeg(data))
    outcome = _explain(widened)
    assert outcome.how == "joined" and np.array_equal(outcome.pixels, _libjpeg(data))


def _photo_12mp(certificate: np.ndarray, colour: bool) -> bytes:
    grey = photo.photo_12mp(certificate)
    if not colour:
        return photo.encode(grey, ".jpg", 88)
    tinted = np.dstack([grey, np.clip(grey.astype(np.int16) + 6, 0, 255).astype(np.uint8), grey])
    return _opencv(tinted, 92)


@pytest.mark.parametrize("colour", [False, True], ids=["grey", "colour 4:2:0"])
def test_a_12_megapixel_photo_is_decoded_on_two_threads_and_read(monkeypatch, certificate, colour):
    """The real thresholds: a phone photo's entropy data is megabytes, the spans join within a few
    MCUs of the middle, the pixels are libjpeg's and the scanner reads the seal from them."""
    from tests.test_scan import SEAL
    data = _photo_12mp(certificate, colour)
    outcome = _explain(data)
    assert outcome.how == "joined" and outcome.resync_mcus < 64
    assert np.array_equal(outcome.pixels, _libjpeg(data))
    used = []
    real = spec.decode
    monkeypatch.setattr(spec, "decode", lambda job: used.append(job.split_at) or real(job))
    result = scan_module.scan(data)
    assert result.texts == (SEAL,) and result.decoder == "zxing-cpp/reduced" and len(used) == 1
    monkeypatch.setattr(scan_module, "SPECULATIVE", False)
    assert scan_module.scan(data) == result


def _refused_files() -> dict[str, tuple[bytes, str]]:
    grey = _texture(376, 501, False, 4)
    progressive = _pillow(grey, quality=85, progressive=True)
    restart = _pillow(grey, quality=85, restart_marker_rows=1)
    baseline = _opencv(grey, 85)
    adobe = baseline[:2] + b"\xff\xee\x00\x0eAdobe\x00\x64\x00\x00\x00\x00\x00" + baseline[2:]
    no_eoi = baseline[:-2]
    return {
        "progressive": (progressive, "marker 0xc2: not a baseline Huffman file"),
        "restart markers": (restart, "a restart interval (verify.jpeg_stripes decodes those)"),
        "Adobe transform": (adobe, "an Adobe colour transform"),
        "PNG": (photo.encode(grey, ".png"), "not a JPEG"),
    } | {"no EOI (taken, the join refuses it)": (no_eoi, "")}


@pytest.mark.parametrize("name", list(_refused_files()))
def test_what_it_does_not_reproduce_is_left_to_libjpeg(small_files, name):
    data, reason = _refused_files()[name]
    width, height = 501, 376
    assert spec.refusal(data, width, height, 0) == (reason or None)
    if reason:
        assert spec.plan(data, REDUCED, width, height) is None
    else:
        assert spec.explain(spec.plan(data, REDUCED, width, height)).how == "no_eoi_after_the_scan"


def test_only_the_half_scale_decode_of_a_file_of_the_probed_size_is_planned(small_files):
    data = _opencv(_texture(376, 501, False, 5), 85)
    assert spec.plan(data, REDUCED, 501, 376) is not None
    assert spec.plan(data, cv2.IMREAD_GRAYSCALE, 501, 376) is None
    assert spec.plan(data, cv2.IMREAD_REDUCED_GRAYSCALE_4, 501, 376) is None
    assert spec.plan(data, REDUCED, 500, 376) is None
    assert spec.refusal(data, 500, 376, 0) == "the frame is not the size the header check saw"


def test_small_files_stay_on_one_thread():
    data = _opencv(_texture(376, 501, False, 6), 85)
    assert spec.refusal(data, 501, 376) == "too small to gain from a split"


def test_a_busy_pool_does_not_wait_the_second_span_runs_on_the_caller(small_files):
    data = _cases()["opencv colour 4:2:0 q95"]
    release = threading.Event()
    blocker = jpeg_stripes.worker_pool().submit(release.wait, 10)
    try:
        outcome = _explain(data)
    finally:
        release.set()
        blocker.result()
    assert outcome.how == "joined" and np.array_equal(outcome.pixels, _libjpeg(data))


def test_threads_decoding_at_once_each_get_their_own_pixels(small_files):
    """One two-span decode at a time per process: a thread that finds it running gets "busy" and
    libjpeg decodes its file; every thread gets libjpeg's pixels for its own file."""
    files = list(_cases().values())
    results: dict[int, tuple[str, bool]] = {}
    real = spec.explain

    def work(i: int) -> None:
        outcome = real(spec.plan(files[i], REDUCED, *Image.open(io.BytesIO(files[i])).size))
        decoded = scan_module.decode(files[i], scan_module.probe(files[i]), REDUCED)
        results[i] = (outcome.how, np.array_equal(decoded, _libjpeg(files[i]))
                      and (outcome.pixels is None or np.array_equal(outcome.pixels, _libjpeg(files[i]))))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(files))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(results) == len(files) and all(same for _, same in results.values())
    assert {how for how, _ in results.values()} <= {"joined", "busy"}
    assert any(how == "joined" for how, _ in results.values())


def _decode_in_child(data: bytes) -> bool:
    outcome = _explain(data)
    return outcome.how == "joined" and np.array_equal(outcome.pixels, _libjpeg(data))


def test_a_forked_child_decodes_with_what_its_parent_warmed(small_files):
    """Also when the parent forks while one of its threads holds the two-span semaphore."""
    import multiprocessing
    data = _cases()["pillow colour 4:2:0 optimised"]
    assert spec._SPANS.acquire(blocking=False)
    try:
        with multiprocessing.get_context("fork").Pool(1) as pool:
            assert pool.apply(_decode_in_child, (data,)) is True
    finally:
        spec._SPANS.release()


def test_a_failed_self_test_leaves_the_decoder_off(monkeypatch):
    """If the kernels ever disagree with libjpeg on this machine (a numba or LLVM problem), warm
    says so and every photo is decoded by libjpeg as before."""
    monkeypatch.setattr(spec, "_KERNELS", None)
    real = cv2.imdecode
    monkeypatch.setattr(spec.cv2, "imdecode", lambda buf, flag: 255 - real(buf, flag))
    assert spec.warm() is False and not spec.ready()
    data = _opencv(_texture(376, 501, False, 7), 85)
    assert spec.plan(data, REDUCED, 501, 376) is None


def test_a_one_shot_process_does_not_import_numba(tmp_path):
    """`certverify` run once for one photo must not pay for numba's import: the scanner only uses
    the decoder where a long-running process warmed it."""
    image = tmp_path / "photo.jpg"
    image.write_bytes(_opencv(_texture(1600, 2400, False, 8), 88))
    code = ("import sys; from verify.scan import scan; scan(open(sys.argv[1], 'rb').read()); "
            "print('numba' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code, str(image)], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "PYTHONPATH": os.getcwd()})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def test_upload_check_children_start_with_the_decoder_warm():
    """The forkserver of the upload checks preloads verify.jpeg_warm, so a check child decodes a
    phone photo on two threads without compiling anything."""
    from verify.isolation import FAST_JPEG, SandboxPool
    assert FAST_JPEG == "verify.jpeg_warm"
    pool = SandboxPool(1, 60.0)
    try:
        assert pool.run(spec.ready) is True
    finally:
        pool.close()


def test_with_no_free_core_or_a_decode_already_running_libjpeg_decodes_it(small_files, monkeypatch, tmp_path):
    """Our kernels spend more CPU than libjpeg: the second span only runs on a free core, and one
    two-span decode at a time per process."""
    data = _cases()["opencv grey q88"]
    loadavg = tmp_path / "loadavg"
    loadavg.write_text("3.10 2.50 1.90 2/412 12345\n")
    assert spec.free_core(str(loadavg), cores=2) is False
    assert spec.free_core(str(loadavg), cores=4) is True
    loadavg.write_text("0.10 0.50 0.90 1/412 12345\n")
    assert spec.free_core(str(loadavg), cores=2) is True
    assert spec.free_core(str(loadavg), cores=1) is False
    loadavg.write_text("garbage")
    assert spec.free_core(str(loadavg)) is True
    assert spec.free_core(str(tmp_path / "missing")) is True
    cpu_max = tmp_path / "cpu.max"
    cpu_max.write_text("100000 100000\n")  # a container limited to one CPU
    assert spec.usable_cores(str(cpu_max)) == 1
    cpu_max.write_text("max 100000\n")
    assert spec.usable_cores(str(cpu_max)) == len(os.sched_getaffinity(0))
    assert spec.usable_cores(str(tmp_path / "missing")) == len(os.sched_getaffinity(0))
    monkeypatch.setattr(spec, "REQUIRE_FREE_CORE", True)
    monkeypatch.setattr(spec, "free_core", lambda: False)
    assert _explain(data).how == "no_free_core"
    monkeypatch.setattr(spec, "free_core", lambda: True)
    assert spec._SPANS.acquire(blocking=False)
    try:
        assert _explain(data).how == "busy"
    finally:
        spec._SPANS.release()
    outcome = _explain(data)
    assert outcome.how == "joined" and np.array_equal(outcome.pixels, _libjpeg(data))
    monkeypatch.setattr(spec, "free_core", lambda: False)
    assert np.array_equal(scan_module.decode(data, scan_module.probe(data), REDUCED), _libjpeg(data))


def _child_state() -> str:
    return f"{spec.ready()} {'numba' in sys.modules}"


def test_the_operator_can_leave_the_decoder_off():
    """CERTVERIFY_FAST_JPEG=0: the upload checks' forkserver imports nothing of numba (memory
    over speed). In a fresh process: the forkserver is one per process."""
    from verify.web.config import WebConfig
    assert WebConfig.from_env({}).fast_jpeg is True
    assert WebConfig.from_env({"CERTVERIFY_FAST_JPEG": "0"}).fast_jpeg is False
    code = ("import sys\n"
            "from verify.isolation import SandboxPool\n"
            "from tests.test_jpeg_speculative import _child_state\n"
            "if __name__ == '__main__':\n"
            "    pool = SandboxPool(1, 60.0, fast_jpeg=sys.argv[1] == '1')\n"
            "    print(pool.run(_child_state)); pool.close()\n")
    for value, expected in (("0", "False False"), ("1", "True True")):
        out = subprocess.run([sys.executable, "-c", code, value], capture_output=True, text=True, timeout=120,
                             env={**os.environ, "PYTHONPATH": os.getcwd()})
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip() == expected


def test_a_second_span_that_starts_on_garbage_starts_again_and_still_joins(small_files, monkeypatch):
    """Regression (a 12 MP 4:2:0 photo at quality 60, split at 43%): the second span's very first
    MCU held a coefficient no encoder writes; it stopped there, the spans never met and libjpeg
    decoded the file again. A speculative span now starts such an MCU again at the next byte.
    Over many split points some start on garbage; every one joins with libjpeg's pixels."""
    data = _opencv(_texture(392, 517, True, 11), 60)
    expected = _libjpeg(data)
    restarts = 0
    for step in range(20):  # steps 6 and 14 start on garbage
        monkeypatch.setattr(spec, "FIRST_SHARE", 0.30 + step * 0.005)
        job = spec.plan(data, REDUCED, 517, 392)
        second = _second_span(job)
        restarts += second[6] >= 0
        outcome = spec.explain(job)
        assert outcome.how == "joined", (step, outcome.how)
        assert np.array_equal(outcome.pixels, expected)
    assert restarts > 0


def _second_span(job: spec.Job) -> tuple:
    from verify import jpeg_kernels as kernels
    luma = int(job.layout[:, 2].sum())
    common = (job.layout, job.mcus_per_row, job.hmax, job.vmax, *job.tables, job.quant, kernels.ZIGZAG, job.mcus)
    return kernels.decode_span(job.data, job.split_at, len(job.data), *common, job.split_at,
                               np.empty(spec.OVERLAP_MCUS, np.int64), np.empty(spec.OVERLAP_MCUS, np.int64), False, False,
                               np.empty((1, 1), np.uint32), spec._LIMIT, np.empty((job.mcus * luma, 64), np.int16),
                               np.empty(job.mcus * luma, np.int64))


def test_a_long_trailer_after_the_image_still_splits_at_its_middle(small_files):
    """A motion photo appends megabytes (a video) after EOI: the split is found from the image's
    own EOI, so the spans still join."""
    data = _opencv(_texture(376, 501, False, 12), 88)
    trailer = b"\x00\x00\x00\x18ftypmp42" + bytes(np.random.default_rng(3).integers(0, 255, 200_000, dtype=np.uint8))
    outcome = _explain(data + trailer)
    assert outcome.how == "joined" and np.array_equal(outcome.pixels, _libjpeg(data))
