"""The seal page while hostile uploads keep the checkers busy, old code against new, in one run:

    python benchmarks/bench_slow_uploads.py [--old /work/main] [--uploads 10] [--seconds 12] [--json out.json]

For each code tree (this one, and `--old`, e.g. a checkout of main before uploads were isolated)
a real `certverify serve` process (1 worker, `CERTVERIFY_UPLOAD_SLOTS` = `--uploads`,
`CERTVERIFY_CHECK_SECONDS=2`) gets `--uploads` uploads of a genuinely slow PDF
(tests/hostile_pdfs.py `many_revisions`: a certificate with 4,000 harmless incremental updates)
at once, while one client asks for the seal page `/v/<seal>` in a loop. Printed per tree: the
page's latency (median, p99, max) idle and during the slow uploads, what the slow uploads got,
how long the last one took, and whether a genuine PDF uploaded right after is checked (VALID) or
refused (503: every slot still held). The trees alternate `--rounds` times.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _serve(code: Path, material: dict, port: int, uploads: int) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(code), "CERTVERIFY_RATE_LIMIT": "0", "CERTVERIFY_UPLOAD_SLOTS": str(uploads),
           "CERTVERIFY_CHECK_SECONDS": "2", "CERTVERIFY_TIMEOUT": "60"}
    proc = subprocess.Popen([sys.executable, "-m", "verify.cli", "--trust-list", str(material["trust_list"]),
                             "--root", str(material["root"]), "--registry", material["registry"], "serve",
                             "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=code)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/health", timeout=1)
            return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit(f"the server of {code} did not start")


def _pages(base: str, code: str, until: threading.Event, out: list[float]) -> None:
    with httpx.Client(timeout=60) as client:
        while not until.is_set():
            started = time.perf_counter()
            client.get(f"{base}/v/{code}")
            out.append(time.perf_counter() - started)
            time.sleep(0.02)


def _stats(values: list[float]) -> dict:
    ordered = sorted(values)
    return {"n": len(ordered), "median_ms": round(statistics.median(ordered) * 1000, 1),
            "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, 1),
            "max_ms": round(ordered[-1] * 1000, 1)}


def measure(code: Path, material: dict, port: int, uploads: int, seconds: float) -> dict:
    base = f"http://127.0.0.1:{port}"
    proc = _serve(code, material, port, uploads)
    try:
        good = material["good"]
        httpx.post(base + "/api/v1/upload", files={"file": ("good.pdf", good)}, timeout=60)  # warm
        idle: list[float] = []
        stop = threading.Event()
        reader = threading.Thread(target=_pages, args=(base, material["seal"], stop, idle))
        reader.start()
        time.sleep(2)
        stop.set()
        reader.join()
        busy: list[float] = []
        stop = threading.Event()
        reader = threading.Thread(target=_pages, args=(base, material["seal"], stop, busy))
        answers: list[str] = []
        took: list[float] = []

        def slow() -> None:
            started = time.perf_counter()
            try:
                response = httpx.post(base + "/api/v1/upload", files={"file": ("slow.pdf", material["slow"])}, timeout=120)
                answers.append(response.json()[0]["checks"][0]["reason"] if response.status_code == 200
                               else str(response.status_code))
            except httpx.HTTPError as exc:
                answers.append(type(exc).__name__)
            took.append(time.perf_counter() - started)

        threads = [threading.Thread(target=slow) for _ in range(uploads)]
        started_at = time.perf_counter()
        reader.start()
        for thread in threads:
            thread.start()
        time.sleep(seconds)
        after = httpx.post(base + "/api/v1/upload", files={"file": ("good.pdf", good)}, timeout=120)
        after_answer = after.json()[0]["verdict"] if after.status_code == 200 else str(after.status_code)
        stop.set()
        reader.join()
        for thread in threads:  # the new code answered them all long ago; the old one may still be checking
            thread.join(max(0.1, started_at + seconds + 20 - time.perf_counter()))
        proc.kill()  # what still runs is cut off: counted below as a connection error ("still checking")
        for thread in threads:
            thread.join(30)
        return {"code": str(code), "idle": _stats(idle), "during": _stats(busy),
                "slow_answers": {a: answers.count(a) for a in sorted(set(answers))},
                "slowest_upload_s": round(max(took), 1) if took else None, f"genuine_pdf_after_{seconds:g}s": after_answer}
    finally:
        proc.kill()
        proc.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old", type=Path, help="another code tree to compare (e.g. a checkout of main)")
    parser.add_argument("--uploads", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=12.0, help="when the genuine PDF is sent after the slow ones")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    from benchmarks.bench_pdf_verify import issue
    from tests.hostile_pdfs import many_revisions

    with tempfile.TemporaryDirectory() as tmp:
        material = issue(Path(tmp), 2)
        from certgen.registry import Registry
        registry = Registry.open(material["registry"])
        number = material["files"][0].stem
        material["seal"] = registry.get(number).seal.rsplit("/v/", 1)[1]
        registry.close()
        material["good"] = material["files"][1].read_bytes()
        material["slow"] = many_revisions(material["files"][0].read_bytes())
        trees = [ROOT] + ([args.old] if args.old else [])
        results = []
        for round_ in range(args.rounds):
            for tree in (trees if round_ % 2 == 0 else trees[::-1]):
                result = measure(tree, material, 8700 + len(results), args.uploads, args.seconds)
                print(json.dumps(result), flush=True)
                results.append(result)
    print(f"load average: {os.getloadavg()}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
