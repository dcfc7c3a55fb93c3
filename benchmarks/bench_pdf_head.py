"""`certverify pdf DIR --json | head -1`: what the command still does once its reader has left,
old code against new, alternating in one run on the same files:

    python benchmarks/bench_pdf_head.py --baseline DIR [--files 2000] [--rounds 5] [--workers 2]

DIR is a copy of older code (`git archive COMMIT | tar -x -C DIR`). The folder holds `--files`
hard links to three issued certificates. Each run goes through a real `head -n 1`; printed:
the files checked (PDFs opened in any process of the run, counted by an audit hook installed
from a sitecustomize.py on PYTHONPATH), the seconds from head's exit to the command's, and the
CPU time of the command and its workers. A full run (no head) is timed once for scale.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.test_certverify_pipe import _SITECUSTOMIZE as HOOK  # noqa: E402 - one line per PDF opened, per process


def setup(folder: Path, files: int) -> dict:
    from benchmarks.bench_pdf_verify import issue

    issued = issue(folder / "issued", 3)
    pdfs = folder / "pdfs"
    pdfs.mkdir()
    for i in range(files):
        os.link(issued["files"][i % len(issued["files"])], pdfs / f"{i:05d}.pdf")
    (folder / "hook").mkdir()
    (folder / "hook" / "sitecustomize.py").write_text(HOOK)
    return {**issued, "pdfs": pdfs, "hook": folder / "hook", "marker": folder / "opened"}


def run(bench: dict, code: Path, workers: int, *, head: bool) -> dict:
    """One `certverify pdf` run of `code`, through `head -n 1` or read to the end."""
    bench["marker"].unlink(missing_ok=True)
    env = {**os.environ, "PYTHONPATH": f"{bench['hook']}{os.pathsep}{code}",
           "PIPE_TEST_MARKER": str(bench["marker"]), "PIPE_TEST_FOLDER": str(bench["pdfs"])}
    command = ["certverify", "--trust-list", str(bench["trust_list"]), "--root", str(bench["root"]),
               "--registry", bench["registry"], "pdf", str(bench["pdfs"]), "--json", "--workers", str(workers)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
    if head:
        reader = subprocess.Popen(["head", "-n", "1"], stdin=process.stdout, stdout=subprocess.DEVNULL)
        process.stdout.close()
        reader.wait()
    else:
        process.stdout.read()
    left = time.perf_counter()
    code_ = process.wait()
    ended = time.perf_counter()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {"exit": code_, "checked": len(bench["marker"].read_text().split()) if bench["marker"].exists() else 0,
            "after_reader": ended - left, "seconds": ended - started,
            "cpu": after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline", type=Path, required=True, help="older code, run alternately with this one")
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-pdf-head-") as tmp:
        bench = setup(Path(tmp), args.files)
        codes = {"baseline": args.baseline.resolve(), "this code": ROOT}
        full = run(bench, ROOT, args.workers, head=False)
        print(f"full run (this code): {full['checked']} files checked, {full['seconds']:.2f} s, CPU {full['cpu']:.2f} s")
        results: dict[str, list[dict]] = {name: [] for name in codes}
        for round_number in range(args.rounds):
            for name in (list(codes) if round_number % 2 == 0 else list(codes)[::-1]):
                result = run(bench, codes[name], args.workers, head=True)
                results[name].append(result)
                print(f"round {round_number + 1}: {name:10s} exit {result['exit']}, {result['checked']:5d} files checked, "
                      f"ended {result['after_reader']:.2f} s after the reader, CPU {result['cpu']:.2f} s, "
                      f"load {os.getloadavg()[0]:.1f}", flush=True)
        for name, rows in results.items():
            print(f"{name:10s} median: {statistics.median(r['checked'] for r in rows):.0f} files checked "
                  f"(range {min(r['checked'] for r in rows)}-{max(r['checked'] for r in rows)}), "
                  f"{statistics.median(r['after_reader'] for r in rows):.2f} s after the reader, "
                  f"CPU {statistics.median(r['cpu'] for r in rows):.2f} s")


if __name__ == "__main__":
    main()
