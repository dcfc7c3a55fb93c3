"""PDF verification throughput, measured from outside, alternating in one run on the same files:

    python benchmarks/bench_pdf_verify.py [--files 2000] [--rounds 3] [--workers 2] [--json out.json]
                                          [--baseline DIR]

* `certverify pdf DIR --json` (signature, seal, registry status, file digest), as shipped:
  the fast path for the issued layout;
* `certverify pdf DIR --json --full-validation`: the same with pyHanko's full validation for
  every file (the landed code's path);
* pyHanko alone: `validate_pdf_signature` on each file's one signature (PdfFileReader,
  one `ValidationContext` per process trusting the root, no fetching), in as many processes
  as `--workers`, pyHanko imported before they fork (benchmarks/pyhanko_alone.py);
* poppler's `pdfsig` with an NSS database trusting the root, `--workers` at once;
* with `--baseline DIR` (a copy of older code, e.g. `git archive COMMIT | tar -x -C DIR`):
  `certverify pdf` as that code runs it, the same command, for old against new in one run.

Each is a whole command timed from outside (its start-up included); every one must call every
file valid. The order rotates each round; the ratios are taken within a round, and the median
and the spread over the rounds are printed (the host is shared: see docs/benchmarks.md). The
CPU time each command and its processes used is printed too: on a shared host it moves less
than the wall time.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def issue(folder: Path, count: int) -> dict:
    from benchmarks.bench_issue import NOW, PASS, make_rows
    from certgen.batch import BatchOptions, IssueEnvironment, run_batch
    from certgen.config import sqlite_url
    from certgen.keys import KeyStore
    from certgen.model import DocumentKind
    from certgen.registry import Registry

    keys = KeyStore(folder / "keys")
    keys.init(PASS, now=NOW)
    registry_url = sqlite_url(folder / "registry.sqlite3")
    env = IssueEnvironment(registry=Registry.open(registry_url), signer=keys.current_signer(PASS, now=NOW),
                           chain=[keys.root_certificate()], now=lambda: NOW)
    run_batch(BatchOptions(DocumentKind.PERSON, make_rows(folder, count), folder / "out"), env)
    pdfs = folder / "out" / "certificates"
    return {"pdfs": pdfs, "trust_list": keys.trustlist_path, "root": keys.root_cert_path, "registry": registry_url,
            "files": sorted(pdfs.glob("*.pdf"))}


def _env(code: Path = ROOT) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(code) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def certverify(setup: dict, workers: int, full: bool, code: Path = ROOT) -> int:
    command = ["certverify", "--trust-list", str(setup["trust_list"]), "--root", str(setup["root"]),
               "--registry", setup["registry"], "pdf", str(setup["pdfs"]), "--json", "--workers", str(workers)]
    if full:
        command.append("--full-validation")
    done = subprocess.run(command, capture_output=True, text=True, env=_env(code))
    summary = json.loads(done.stdout.strip().splitlines()[-1])["summary"]
    assert done.returncode == 0 and summary["verdicts"] == {"VALID": len(setup["files"])}, summary
    return summary["files"]


def pyhanko_alone(setup: dict, workers: int) -> int:
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "pyhanko_alone.py"), str(setup["root"]),
                           str(setup["pdfs"]), "--workers", str(workers)], capture_output=True, text=True, env=_env())
    assert done.returncode == 0, done.stderr[-2000:]
    valid = int(done.stdout.split()[0])
    assert valid == len(setup["files"]), done.stdout
    return valid


def pdfsig(setup: dict, workers: int, nssdir: str) -> int:
    def one(path: Path) -> bool:
        out = subprocess.run(["pdfsig", "-nssdir", nssdir, str(path)], capture_output=True, text=True).stdout
        return "Signature is Valid." in out and "Certificate is Trusted." in out

    with ThreadPoolExecutor(workers) as pool:
        valid = sum(pool.map(one, setup["files"]))
    assert valid == len(setup["files"]), valid
    return valid


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--baseline", type=Path, help="older code to run `certverify pdf` from, alternating")
    args = parser.parse_args()
    from tests.signatures import make_nss_db

    with tempfile.TemporaryDirectory(prefix="bench-pdf-verify-") as tmp:
        folder = Path(tmp)
        started = time.perf_counter()
        setup = issue(folder, args.files)
        print(f"issued {len(setup['files'])} certificates in {time.perf_counter() - started:.1f} s")
        nssdir = make_nss_db(folder / "nss", setup["root"])
        runs = {"certverify": lambda: certverify(setup, args.workers, False),
                "certverify --full-validation": lambda: certverify(setup, args.workers, True),
                "pyHanko validate_pdf_signature": lambda: pyhanko_alone(setup, args.workers),
                "poppler pdfsig": lambda: pdfsig(setup, args.workers, nssdir)}
        if args.baseline:
            runs["certverify (baseline)"] = lambda: certverify(setup, args.workers, False, args.baseline.resolve())
        names = list(runs)
        rates: dict[str, list[float]] = {name: [] for name in names}
        cpu: dict[str, list[float]] = {name: [] for name in names}
        loads: list[float] = []
        for round_number in range(args.rounds):
            order = names[round_number % len(names):] + names[:round_number % len(names)]
            for name in order:
                before = resource.getrusage(resource.RUSAGE_CHILDREN)
                started = time.perf_counter()
                files = runs[name]()
                seconds = time.perf_counter() - started
                after = resource.getrusage(resource.RUSAGE_CHILDREN)
                used = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
                rates[name].append(files / seconds)
                cpu[name].append(used)
                loads.append(os.getloadavg()[0])
                print(f"round {round_number + 1}: {name:32s} {files} files in {seconds:6.2f} s = {files / seconds:6.1f}/s"
                      f" (CPU {used:6.2f} s, load {loads[-1]:.1f})", flush=True)
        results: dict = {"files": len(setup["files"]), "workers": args.workers, "rounds": args.rounds, "per_second": {},
                         "ratios": {}, "load_average_1min": [round(min(loads), 1), round(max(loads), 1)]}
        for name in names:
            results["per_second"][name] = {"median": round(statistics.median(rates[name]), 1),
                                           "min": round(min(rates[name]), 1), "max": round(max(rates[name]), 1),
                                           "cpu_seconds_median": round(statistics.median(cpu[name]), 2)}
        ours = rates["certverify"]
        for name in names[1:]:
            ratio = [a / b for a, b in zip(ours, rates[name])]
            cpu_ratio = [b / a for a, b in zip(cpu["certverify"], cpu[name])]
            results["ratios"][f"certverify / {name}"] = {"median": round(statistics.median(ratio), 2),
                                                          "min": round(min(ratio), 2), "max": round(max(ratio), 2),
                                                          "cpu_median": round(statistics.median(cpu_ratio), 2)}
        print(json.dumps(results, indent=2))
        if args.json:
            args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
