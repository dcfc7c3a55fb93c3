"""What one hostile or heavy file costs the verifier: CPU time and peak memory per request.

    PYTHONPATH=$PWD python benchmarks/bench_hostile.py [--repeat 3] [--only NAME]

Every case runs in a fresh child process (so one case's memory peak does not hide another's):
the child builds nothing, it loads the prepared file, calls the verifier once untimed to warm
the imports, then times one call with `time.process_time()` and reports the peak resident set
(`ru_maxrss`) and the verdict and reason. Run it against the landed code with
`PYTHONPATH=/path/to/main` for a before/after comparison (docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path



def _png(width: int, height: int) -> bytes:
    import cv2
    import numpy as np
    return cv2.imencode(".png", np.full((height, width), 255, np.uint8))[1].tobytes()


def _jpeg(width: int, height: int) -> bytes:
    import cv2
    import numpy as np
    return cv2.imencode(".jpg", np.full((height, width), 255, np.uint8), [cv2.IMWRITE_JPEG_QUALITY, 80])[1].tobytes()


def _photo_12mp() -> bytes:
    from certgen.barcode import qr_matrix
    from certgen.render.document import render_certificate
    from tests import photography
    from tests.documents import person, templates_and_fonts
    templates, fonts = templates_and_fonts()
    seal = "https://verifikasi.example.id/v/" + "A" * 200
    with tempfile.TemporaryDirectory() as folder:
        pdf = Path(folder) / "c.pdf"
        pdf.write_bytes(render_certificate(templates, fonts, person(), "SK-2026-000123-6", qr_matrix(seal), date(2026, 11, 24)))
        page = photography.render_page(pdf, 1)
    return photography.encode(photography.photo_12mp(page), ".jpg", 85)


def _pdf_pages(count: int) -> bytes:
    from reportlab.pdfgen.canvas import Canvas
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pageCompression=1)
    for number in range(count):
        canvas.drawString(100, 700, f"page {number + 1}")
        canvas.showPage()
    canvas.save()
    return buffer.getvalue()


#: name -> (how the file is made, which verifier entry point checks it)
CASES = {
    "png 7999x7999 (blank)": (lambda: _png(7999, 7999), "image"),
    "png 6000x6000 (largest PNG accepted, blank)": (lambda: _png(6000, 6000), "image"),
    "jpeg 8000x8000 (64 MP, blank)": (lambda: _jpeg(8000, 8000), "image"),
    "jpeg 12 MP photo of a certificate": (_photo_12mp, "image"),
    "png 1x1": (lambda: _png(1, 1), "image"),
    "png 1x500": (lambda: _png(1, 500), "image"),
    "png 500x1": (lambda: _png(500, 1), "image"),
    "pdf 10,000 pages (scan)": (lambda: _pdf_pages(10_000), "print_pdf"),
    "pdf 10,000 pages (pdf)": (lambda: _pdf_pages(10_000), "pdf"),
}


def child(path: str, entry: str) -> None:
    """Run one case in this process and print its measurements as JSON."""
    from certgen.trust import TrustList
    from verify.service import Verifier

    data = Path(path).read_bytes()
    verifier = Verifier(TrustList.from_signers([]))
    call = {"image": verifier.verify_image, "print_pdf": verifier.verify_print_pdf,
            "pdf": lambda d: [verifier.verify_pdf(d)]}[entry]
    call(_png(64, 64) if entry == "image" else _pdf_pages(1))  # imports and caches, untimed
    base = _memory_mb("VmHWM")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)  # the warm-up's poppler runs are not this case's
    started_cpu, started_wall = time.process_time(), time.perf_counter()
    try:
        reports = call(data)
        outcome = ", ".join(f"{r.verdict.value} {r.checks[0].reason.value}" for r in reports)
    except BaseException as exc:  # the "before" code raises on some of these
        outcome = f"raised {type(exc).__name__}: {str(exc)[:60]}"
    cpu, wall = time.process_time() - started_cpu, time.perf_counter() - started_wall
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    spent_children = children.ru_utime + children.ru_stime - before.ru_utime - before.ru_stime
    print(json.dumps({"cpu_s": round(cpu + spent_children, 3), "wall_s": round(wall, 3),
                      "base_rss_mb": base, "peak_rss_mb": _memory_mb("VmHWM"), "outcome": outcome}))


def _memory_mb(field: str) -> float:
    """From /proc/self/status: VmHWM is the peak of this program (ru_maxrss would also count
    the parent's memory before exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--only", help="run the cases whose name contains this")
    parser.add_argument("--timeout", type=float, default=300)
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    print("| case | CPU s | wall s | RSS before MB | peak RSS MB | verdict, reason |\n|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as folder:
        for name, (make, entry) in CASES.items():
            if args.only and args.only not in name:
                continue
            path = Path(folder) / "case"
            path.write_bytes(make())
            for _ in range(args.repeat):
                try:
                    done = subprocess.run([sys.executable, __file__, "--child", str(path), entry], capture_output=True,
                                          text=True, timeout=args.timeout, env=os.environ)
                    result = json.loads(done.stdout.strip().splitlines()[-1])
                except subprocess.TimeoutExpired:
                    result = {"cpu_s": f">{args.timeout:g}", "wall_s": f">{args.timeout:g}", "base_rss_mb": "?",
                              "peak_rss_mb": "?", "outcome": "timed out"}
                except (ValueError, IndexError):
                    result = {"cpu_s": "?", "wall_s": "?", "base_rss_mb": "?", "peak_rss_mb": "?",
                              "outcome": f"crashed: {done.stderr.strip().splitlines()[-1:]}"}
                print(f"| {name} | {result['cpu_s']} | {result['wall_s']} | {result['base_rss_mb']} | {result['peak_rss_mb']} "
                      f"| {result['outcome']} |", flush=True)


if __name__ == "__main__":
    main()
