"""Verification benchmark: scanning quality and speed, PDF verification throughput.

    python benchmarks/bench_verify.py [--pdfs 400] [--photos 15] [--rounds 5] [--photos-only] [--landed main]
                                      [--restart-markers]

* zxing-cpp's qrcode-2 corpus (tests/data/zxing-qrcode-2): images read exactly;
* the project's own certificate and card after synthetic photography (tests/photography.py):
  read / tried;
* median and worst scan time of a 12-megapixel photo of a certificate (4000 x 3000 JPEG): ours,
  ours on one thread (the two-thread decoder of verify/jpeg_speculative.py off), ours without
  the reduced first pass, and zxing-cpp alone on the full image, alternating on the same photos
  in one run, with the ratio ours / zxing-cpp alone per round, and where the two decoding spans
  joined on each photo; with
  `--restart-markers` also the same photos encoded with a restart marker every MCU row (what
  verify/jpeg_stripes.py decodes on two threads), ours against zxing-cpp alone on those;
* PDF verification of a folder of issued certificates (signature, seal, registry), in as many
  processes as cores: files per second.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from certgen.barcode import qr_matrix  # noqa: E402
from certgen.render.document import render_certificate  # noqa: E402
from tests import photography as photo  # noqa: E402
from tests.documents import person, templates_and_fonts  # noqa: E402
from verify.scan import scan  # noqa: E402

CORPUS = ROOT / "tests" / "data" / "zxing-qrcode-2"
SEAL = "https://verifikasi.example.id/v/" + "2KCE3IQBEYCEQHQE6G3RMADETOQFQ4FDAFTUSRBNIJJUWUAGDJVQMG7SHIAACAAAU4AACALQKNFS2MRQGI3C2MBQGAY" * 3 + "TEMZNGYBAE"


def corpus() -> dict:
    images = sorted(p for p in CORPUS.iterdir() if p.suffix in (".png", ".jpg", ".webp"))
    read = sum(CORPUS.joinpath(p.stem + ".txt").read_bytes().decode() in scan(p.read_bytes()).texts for p in images)
    return {"read": read, "images": len(images)}


def own_documents(folder: Path) -> dict:
    from tests.test_scan import TRANSFORMS
    from certgen.render.card import CardData, qr_side, render_card
    from certgen.render.document import QR_BOX

    templates, fonts = templates_and_fonts()
    matrix = qr_matrix(SEAL)
    cert, card = folder / "cert.pdf", folder / "card.pdf"
    cert.write_bytes(render_certificate(templates, fonts, person(), "SK-2026-000123-6", matrix, date(2026, 11, 24)))
    card.write_bytes(render_card(templates, fonts, CardData("SK-2026-000123-6", person(), matrix, None, date(2026, 11, 24))))
    modules = matrix.size + 8
    printed = {"certificate": (photo.render_page(cert, 1), QR_BOX[2] / modules / 72 * 300),
               "card": (photo.render_page(card, 2), qr_side(matrix) / modules / 72 * 300)}
    tried = read = 0
    failures = []
    for doc, (image, module_px) in printed.items():
        for name, transform in TRANSFORMS.items():
            tried += 1
            if scan(transform(image, module_px)).texts == (SEAL,):
                read += 1
            else:
                failures.append(f"{doc}/{name}")
    return {"read": read, "tried": tried, "failures": failures, "cert_image": printed["certificate"][0]}


def zxing_alone(data: bytes) -> list[str]:
    """The comparison: zxing-cpp by itself on the full image, the way its documentation shows
    (OpenCV decodes the JPEG, greyscale; zxing-cpp's defaults, told to look for QR codes only)."""
    import cv2
    import numpy as np
    import zxingcpp

    grey = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE)
    return [r.text for r in zxingcpp.read_barcodes(grey, formats=zxingcpp.BarcodeFormat.QRCode)]


def landed_scan(revision: str):
    """`scan` of verify/scan.py as it was at a git revision (the code before a change, measured
    in the same run as the change)."""
    import subprocess
    import types

    source = subprocess.run(["git", "-C", str(ROOT), "show", f"{revision}:verify/scan.py"], check=True,
                            capture_output=True, text=True).stdout
    module = types.ModuleType("verify._landed_scan")
    module.__package__ = "verify"
    sys.modules[module.__name__] = module  # dataclasses look their module up there
    exec(compile(source, f"{revision}:verify/scan.py", "exec"), module.__dict__)  # noqa: S102 - our own history
    return module.scan


FLOOR = "libjpeg at 1/8, nothing else"
BROWSER = "ours, the page's 2000 px copy"
RST_OURS = "ours, restart-marker photos"
RST_ONE_THREAD = "ours, restart markers, 1 thread"
RST_ALONE = "zxing-cpp alone, restart-marker photos"
RST_FLOOR = "libjpeg at 1/8, restart-marker photos"


def with_restart_markers(data: bytes) -> bytes:
    """The same photo encoded by the same encoder (OpenCV's libjpeg-turbo, quality 88) with a
    restart marker after every MCU row (DRI = MCUs per row), as `cjpeg -restart 1` writes."""
    import cv2
    import numpy as np

    grey = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE)
    return cv2.imencode(".jpg", grey, [cv2.IMWRITE_JPEG_QUALITY, 88,
                                       cv2.IMWRITE_JPEG_RST_INTERVAL, -(-grey.shape[1] // 8)])[1].tobytes()


def one_thread(data: bytes) -> tuple:
    """Ours with the striped and the speculative decoding turned off (the same file decoded on
    one thread by libjpeg)."""
    import verify.scan as scan_module

    scan_module.STRIPED = scan_module.SPECULATIVE = False
    try:
        return scan(data).texts
    finally:
        scan_module.STRIPED = scan_module.SPECULATIVE = True


ONE_THREAD = "ours, one thread (libjpeg)"


def joins(photos: list[bytes]) -> list:
    """Where the two spans of verify/jpeg_speculative.py joined on each photo: the MCUs the
    second span decoded before it met the true decode, or why it was not used."""
    from verify import jpeg_speculative
    from verify.scan import probe

    out = []
    for data in photos:
        header = probe(data)
        job = jpeg_speculative.plan(data, jpeg_speculative.FLAG, header.width, header.height)
        outcome = jpeg_speculative.explain(job) if job else None
        out.append(outcome.resync_mcus if outcome and outcome.how == "joined" else (outcome.how if outcome else
                                                                                     "not planned"))
    return out


def browser_copy(data: bytes) -> bytes:
    """What the public page uploads instead of a large photo (verify/web/static/upload.js): the
    image 2000 pixels on its longest side, JPEG quality 90 (area-averaged here; the browser's
    own resampling differs a little)."""
    import cv2
    import numpy as np

    grey = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE)
    scale = 2000 / max(grey.shape)
    small = cv2.resize(grey, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    return cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes()


def entropy_decoding_only(data: bytes) -> tuple:
    """The floor of any scan that reads the whole file: libjpeg decoding it at 1/8 (an 8x8 block
    becomes one pixel: no inverse DCT to speak of, the Huffman decoding of every coefficient
    remains, and a baseline JPEG has no way to skip it)."""
    import cv2
    import numpy as np

    cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_REDUCED_GRAYSCALE_8)
    return ()


def photo_times(image, count: int, rounds: int, landed: str | None = None, restart: bool = False) -> dict:
    """Ours, ours without the reduced first pass, zxing-cpp alone (and the landed code, and the
    floor: libjpeg's entropy decoding alone) on the same 12 MP photos, alternating photo by photo
    (the order rotated each round) so that a busy host slows them alike. Each round gives a
    ratio of medians; the spread of the rounds is reported."""
    photos = [photo.encode(photo.photo_12mp(image, page_width=1100 + 40 * seed, angle=-8 + seed, seed=seed), ".jpg", 88)
              for seed in range(count)]
    contenders = {"ours": lambda data: scan(data).texts,
                  ONE_THREAD: one_thread,
                  "ours, full resolution only": lambda data: scan(data, reduced_first=False).texts,
                  "zxing-cpp alone": zxing_alone}
    if landed:
        old_scan = landed_scan(landed)
        contenders[f"landed code ({landed})"] = lambda data: old_scan(data).texts
    contenders[FLOOR] = entropy_decoding_only
    shrunk = {data: browser_copy(data) for data in photos}
    contenders[BROWSER] = lambda data: scan(shrunk[data]).texts
    if restart:
        marked = {data: with_restart_markers(data) for data in photos}
        contenders[RST_OURS] = lambda data: scan(marked[data]).texts
        contenders[RST_ONE_THREAD] = lambda data: one_thread(marked[data])
        contenders[RST_ALONE] = lambda data: zxing_alone(marked[data])
        contenders[RST_FLOOR] = lambda data: entropy_decoding_only(marked[data])
    for data in photos[:2]:  # imports, first allocations: untimed
        for read in contenders.values():
            read(data)
    times: dict[str, list[list[float]]] = {name: [] for name in contenders}
    cpu: dict[str, list[float]] = {name: [] for name in contenders}  # process CPU (every thread)
    for round_ in range(rounds):
        for name in contenders:
            times[name].append([])
        shift = round_ % len(contenders)
        order = list(contenders)[shift:] + list(contenders)[:shift]
        for seed, data in enumerate(photos):
            for name in order:
                started, cpu_started = time.perf_counter(), time.process_time()
                texts = contenders[name](data)
                times[name][-1].append((time.perf_counter() - started) * 1000)
                cpu[name].append((time.process_time() - cpu_started) * 1000)
                assert name in (FLOOR, RST_FLOOR) or tuple(texts) == (SEAL,), f"photo {seed} not read by {name}"
    result: dict = {"photos": count, "rounds": rounds, "resync_mcus": joins(photos)}
    for name, per_round in times.items():
        every = [t for one in per_round for t in one]
        result[name] = {"median_ms": round(statistics.median(every), 1), "max_ms": round(max(every), 1),
                        "cpu_median_ms": round(statistics.median(cpu[name]), 1),
                        "round_medians_ms": [round(statistics.median(one), 1) for one in per_round]}
    ratios = [statistics.median(ours) / statistics.median(alone)
              for ours, alone in zip(times["ours"], times["zxing-cpp alone"])]
    result["ratio"] = round(result["ours"]["median_ms"] / result["zxing-cpp alone"]["median_ms"], 3)
    result["round_ratios"] = [round(r, 3) for r in ratios]
    result["floor_ratio"] = round(result[FLOOR]["median_ms"] / result["zxing-cpp alone"]["median_ms"], 3)
    result["browser_copy_ratio"] = round(result[BROWSER]["median_ms"] / result["zxing-cpp alone"]["median_ms"], 3)
    result["cpu_ratio"] = round(result["ours"]["cpu_median_ms"] / result["zxing-cpp alone"]["cpu_median_ms"], 3)
    result["one_thread_ratio"] = round(result[ONE_THREAD]["median_ms"] / result["zxing-cpp alone"]["median_ms"], 3)
    if restart:
        result["restart_ratio"] = round(result[RST_OURS]["median_ms"] / result[RST_ALONE]["median_ms"], 3)
        result["restart_round_ratios"] = [round(statistics.median(ours) / statistics.median(alone), 3)
                                          for ours, alone in zip(times[RST_OURS], times[RST_ALONE])]
        result["restart_cpu_ratio"] = round(result[RST_OURS]["cpu_median_ms"] / result[RST_ALONE]["cpu_median_ms"], 3)
        result["restart_one_thread_ratio"] = round(result[RST_ONE_THREAD]["median_ms"]
                                                   / result[RST_ALONE]["median_ms"], 3)
    return result


def pdf_throughput(folder: Path, count: int) -> dict:
    from benchmarks.bench_pdf_verify import issue
    from verify.cli import Context, _init_worker, _verify_pdf_file

    issued = issue(folder, count)  # the same 2,000-certificate set-up as bench_pdf_verify
    files = [str(p) for p in issued["files"]]
    ctx = Context(str(issued["trust_list"]), str(issued["root"]), issued["registry"], "2026-11-24T10:00:00+07:00")
    cores = os.cpu_count() or 1
    started = time.perf_counter()
    with multiprocessing.get_context("fork").Pool(cores, initializer=_init_worker, initargs=(ctx,)) as pool:
        verdicts = [r["verdict"] for r in pool.imap(_verify_pdf_file, files, chunksize=8)]
    seconds = time.perf_counter() - started
    assert verdicts == ["VALID"] * len(files), set(verdicts)
    return {"files": len(files), "seconds": round(seconds, 2), "per_second": round(len(files) / seconds, 1),
            "processes": cores}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pdfs", type=int, default=400)
    parser.add_argument("--photos", type=int, default=15)
    parser.add_argument("--rounds", type=int, default=5, help="passes over the photos, alternating (default 5)")
    parser.add_argument("--photos-only", action="store_true", help="the scanner only: no PDF throughput")
    parser.add_argument("--landed", metavar="REV", help="also time verify/scan.py as of this git revision (e.g. main)")
    parser.add_argument("--restart-markers", action="store_true",
                        help="also time the same photos with a restart marker every MCU row (striped decoding)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    from verify.jpeg_speculative import warm

    started = time.perf_counter()
    warmed = warm()  # what a long-running verifier does at start (verify/jpeg_warm.py)
    print(f"two-thread JPEG decoder: {'warm' if warmed else 'OFF'} ({time.perf_counter() - started:.2f} s)")
    results: dict = {"load_average_start": round(os.getloadavg()[0], 2), "speculative_decoder": warmed}
    results["corpus"] = corpus()
    print(f"corpus:   {results['corpus']['read']} of {results['corpus']['images']} zxing qrcode-2 images read exactly")
    with tempfile.TemporaryDirectory() as tmp:
        own = own_documents(Path(tmp))
        image = own.pop("cert_image")
        results["own_documents"] = own
        print(f"own:      {own['read']} of {own['tried']} certificate/card photographs read {own['failures'] or ''}")
        timed = results["photo_12mp"] = photo_times(image, args.photos, args.rounds, args.landed, args.restart_markers)
        for name in [key for key, value in timed.items() if isinstance(value, dict)]:
            print(f"12 MP:    {name:38s} median {timed[name]['median_ms']:6.1f} ms (CPU {timed[name]['cpu_median_ms']:6.1f}), "
                  f"worst {timed[name]['max_ms']:6.1f} ms; round medians {timed[name]['round_medians_ms']}")
        print(f"12 MP:    ours / zxing-cpp alone = {timed['ratio']} (rounds: {timed['round_ratios']}) over "
              f"{args.photos} photos x {args.rounds} rounds; floor (entropy decoding) / zxing-cpp alone = "
              f"{timed['floor_ratio']}; the page's 2000 px copy / zxing-cpp alone on the original = "
              f"{timed['browser_copy_ratio']}; CPU ours / zxing-cpp alone = {timed['cpu_ratio']}; ours on one "
              f"thread / zxing-cpp alone = {timed['one_thread_ratio']}")
        print(f"12 MP:    the two decoding spans joined after the second decoded {timed['resync_mcus']} MCUs "
              f"(per photo)")
        if args.restart_markers:
            print(f"12 MP:    restart-marker photos: ours / zxing-cpp alone = {timed['restart_ratio']} (rounds: "
                  f"{timed['restart_round_ratios']}); CPU {timed['restart_cpu_ratio']}; one thread "
                  f"{timed['restart_one_thread_ratio']}; load average {os.getloadavg()[0]:.2f}")
    if not args.photos_only:
        with tempfile.TemporaryDirectory() as tmp:
            results["pdf"] = pdf_throughput(Path(tmp), args.pdfs)
            print(f"pdf:      {results['pdf']['files']} issued PDFs verified (signature, seal, registry) in "
                  f"{results['pdf']['seconds']} s = {results['pdf']['per_second']}/s on {results['pdf']['processes']} processes")
    results["load_average_end"] = round(os.getloadavg()[0], 2)
    print(f"load:     average {results['load_average_start']} at the start, {results['load_average_end']} at the end")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
