"""Issuing benchmark: person certificates with cards and print sheets, end to end.

    python benchmarks/bench_issue.py [--rows 1000] [--baseline-rows 200] [--memory 1000,10000] [--pkcs11 PAIRS]
    python benchmarks/bench_issue.py --compare /tmp/landed-issue [--rows 1000] [--pairs 4] [--dir DIR]

Measures, on this machine, in one run:
* our pipeline: `certgen.batch.run_batch` on N generated person rows (validation, registry,
  seal, signed certificate PDF, card PDF, print sheets, manifests), all cores;
* a straightforward baseline: ReportLab page with ReportLab's QR widget, pyHanko
  `SimpleSigner` with default settings (trial signature to size the container), card PDF,
  run in as many processes as cores, and the ratio;
* peak memory (max RSS of the batch process and of its workers) for each size in --memory,
  each in a fresh subprocess;
* with --pkcs11 N: N alternating pairs of the same batch signed with a key file and with a
  key in a PKCS#11 token (SoftHSM2, set up in a temporary folder by this script), and the
  cost of one ES256 signature each way.
Results go to stdout as text and, with --json FILE, as JSON. docs/benchmarks.md records them.

--compare TREE: old against new in one run. TREE is a checkout of the landed code (e.g.
`git worktree add --detach /tmp/landed-issue 8e3cfda`). One person CSV and its photos are made
once; then, alternating for --pairs pairs (old first in odd pairs, new first in even ones),
each tree issues it in a fresh process (`PYTHONPATH` = that tree, its own keys and registry,
the adapters installed as `certgen issue` does), and each pair's ratio new/old is printed:
the host's load changes within a run, a pair's two halves run a few seconds apart.

--dir DIR: where the runs write (default: a temporary folder). The filesystem is printed: on
an ext4 without a journal every new file costs the kernel a scan past each inode deleted in
the last 12 hours (`recently_deleted` in fs/ext4/ialloc.c, only without a journal), about
0.8 ms a file on a host that has run the test suite all day, the same for old and new code,
which hides most of the difference between them; each run's folder is therefore kept until the
comparison ends (deleting one run's files right before the next would make that next run pay
for them). benchmarks/journaled_ext4.sh mounts a journaled ext4 (the default of mkfs.ext4) on a
loop device to measure on instead.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import multiprocessing
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from certgen.batch import BatchOptions, IssueEnvironment, run_batch  # noqa: E402
from certgen.config import sqlite_url  # noqa: E402
from certgen.keys import KeyStore  # noqa: E402
from certgen.model import DocumentKind  # noqa: E402
from certgen.registry import Registry  # noqa: E402

PASS = b"benchmark-passphrase"
NOW = datetime(2026, 11, 24, 3, 0, tzinfo=timezone.utc)


def make_rows(folder: Path, rows: int) -> Path:
    """A person CSV of `rows` rows using the bundled sample photos in turn."""
    photos = sorted((ROOT / "samples" / "photos").glob("*.jpg"))
    (folder / "photos").mkdir(parents=True, exist_ok=True)
    for p in photos:
        shutil.copy(p, folder / "photos" / p.name)
    with open(ROOT / "samples" / "person.csv", encoding="utf-8") as handle:
        template = list(csv.DictReader(handle))
    path = folder / f"persons-{rows}.csv"
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(template[0]))
        writer.writeheader()
        for i in range(rows):
            row = dict(template[i % len(template)])
            row["name"] = f"{row['name']} {i + 1}"  # every row distinct
            writer.writerow(row)
    return path


def setup(folder: Path, token: object = None) -> tuple[KeyStore, Registry]:
    store = KeyStore(folder / "keys", token_pin=lambda: TOKEN_PIN)
    store.init(PASS, now=NOW, token=token)  # type: ignore[arg-type]
    return store, Registry.open(sqlite_url(folder / "registry.sqlite3"))


TOKEN_PIN = "bench-pin-1234"


def softhsm_token(folder: Path) -> object:
    """A SoftHSM2 token in `folder` (SOFTHSM2_CONF exported before the module is loaded)."""
    from certgen.token import TokenRef

    module = next((m for m in ("/usr/lib/softhsm/libsofthsm2.so", "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so")
                   if Path(m).is_file()), None)
    if module is None:
        sys.exit("SoftHSM2 is not installed (apt-get install softhsm2)")
    (folder / "tokens").mkdir(parents=True)
    conf = folder / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {folder / 'tokens'}\nobjectstore.backend = file\nlog.level = ERROR\n")
    os.environ["SOFTHSM2_CONF"] = str(conf)
    subprocess.run(["softhsm2-util", "--init-token", "--free", "--label", "bench", "--so-pin", "bench-so-pin",
                    "--pin", TOKEN_PIN], check=True, capture_output=True)
    return TokenRef(module, "bench")


def run_pkcs11(folder: Path, rows: int, pairs: int) -> dict:
    """`pairs` alternating runs of the same batch, key file then token, and the time of one
    ES256 signature each way (one process, 2,000 signatures)."""
    token = softhsm_token(folder / "softhsm")
    runs: dict[str, list[float]] = {"file": [], "token": []}
    for i in range(pairs):
        for kind in ("file", "token"):
            result = run_ours(folder / f"{kind}-{i}", rows, token=token if kind == "token" else None)
            runs[kind].append(result["per_second"])
            print(f"pkcs11:   pair {i + 1}, {kind:5}: {result['per_second']}/s; phases {result['phases']}")
    signature_us = {}
    for kind in ("file", "token"):
        store, _ = setup(folder / f"sig-{kind}", token if kind == "token" else None)
        signer = store.current_signer(PASS, now=NOW)
        started = time.perf_counter()
        for _ in range(2000):
            signer.sign(b"x" * 300)
        signature_us[kind] = round((time.perf_counter() - started) / 2000 * 1e6, 1)
    mean = {k: round(sum(v) / len(v), 1) for k, v in runs.items()}
    return {"rows": rows, "per_second": runs, "mean_per_second": mean, "es256_signature_us": signature_us}


def run_ours(folder: Path, rows: int, workers: int = 0, durable: bool = True, token: object = None) -> dict:
    if not os.environ.get("CERTGEN_BENCH_STOCK"):  # set it to measure the stock path (docs/adapters.md)
        from certgen.adapters.install import install_all
        install_all()  # as `certgen issue` does at start-up
    store, registry = setup(folder, token)
    data = make_rows(folder, rows)
    env = IssueEnvironment(registry=registry, signer=store.current_signer(PASS, now=NOW),
                           chain=[store.root_certificate()], now=lambda: NOW, actor="bench")
    started = time.perf_counter()
    summary = run_batch(BatchOptions(DocumentKind.PERSON, data, folder / "out", workers=workers, durable=durable), env)
    seconds = time.perf_counter() - started
    assert summary.issued == rows, summary
    return {"rows": rows, "seconds": round(seconds, 2), "per_second": round(rows / seconds, 1),
            "sheets": summary.sheets, "phases": summary.phases}


# -- the baseline --------------------------------------------------------------------------------

_baseline_state: dict = {}


def _baseline_init(keys_dir: str) -> None:
    from pyhanko.sign import signers

    store = KeyStore(Path(keys_dir))
    signer = store.signers()[0]
    _baseline_state["signer"] = signers.SimpleSigner.load(
        str(store.dsc_key_path(signer.kid)), str(store.dsc_cert_path(signer.kid)),
        ca_chain_files=[str(store.root_cert_path)], key_passphrase=PASS)


def _baseline_one(args: tuple[str, str, str]) -> int:
    """One person: ReportLab page + QR widget, pyHanko defaults; card PDF with the widget."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers
    from reportlab.graphics.barcode.qr import QrCodeWidget
    from reportlab.graphics.shapes import Drawing
    from reportlab.graphics import renderPDF
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.pdfgen.canvas import Canvas

    name, number, out = args
    seal = "https://verifikasi.example.id/v/" + "A" * 316

    def qr(canvas, x, y, size):
        widget = QrCodeWidget(seal, barLevel="M")
        b = widget.getBounds()
        d = Drawing(size, size, transform=[size / (b[2] - b[0]), 0, 0, size / (b[3] - b[1]), 0, 0])
        d.add(widget)
        renderPDF.draw(d, canvas, x, y)

    buf = io.BytesIO()
    c = Canvas(buf, pagesize=A4)
    c.setFont("Helvetica-Bold", 20)
    c.drawCentredString(A4[0] / 2, A4[1] - 60 * mm, "SERTIFIKAT KOMPETENSI")
    c.setFont("Helvetica", 12)
    for i, line in enumerate([name, number, "Skema: Pengawas Mutu Barang", "Berlaku 24-11-2026 s.d. 23-11-2029"]):
        c.drawString(30 * mm, A4[1] - (90 + 10 * i) * mm, line)
    qr(c, 25 * mm, 30 * mm, 40 * mm)
    c.showPage()
    c.save()
    writer = IncrementalPdfFileWriter(io.BytesIO(buf.getvalue()))
    meta = signers.PdfSignatureMetadata(field_name="Signature")
    signed = signers.PdfSigner(meta, _baseline_state["signer"],
                               new_field_spec=fields.SigFieldSpec("Signature", box=(330, 110, 530, 170))).sign_pdf(writer)
    Path(out, f"{number}.pdf").write_bytes(signed.getvalue())
    card = io.BytesIO()
    c = Canvas(card, pagesize=(85.6 * mm, 53.98 * mm))
    c.setFont("Helvetica-Bold", 8)
    c.drawString(5 * mm, 40 * mm, name)
    c.showPage()
    qr(c, 3 * mm, 8 * mm, 30 * mm)
    c.showPage()
    c.save()
    Path(out, f"{number}-card.pdf").write_bytes(card.getvalue())
    return 1


def run_baseline(folder: Path, rows: int) -> dict:
    store, _ = setup(folder)
    out = folder / "baseline"
    out.mkdir()
    jobs = [(f"Nama Peserta {i}", f"SK-2026-{i:06d}-X", str(out)) for i in range(rows)]
    ctx = multiprocessing.get_context("fork")
    started = time.perf_counter()
    with ctx.Pool(os.cpu_count(), initializer=_baseline_init, initargs=(str(store.folder),)) as pool:
        done = sum(pool.map(_baseline_one, jobs, chunksize=8))
    seconds = time.perf_counter() - started
    return {"rows": done, "seconds": round(seconds, 2), "per_second": round(done / seconds, 1)}


# -- memory --------------------------------------------------------------------------------------

def memory_child(rows: int) -> None:
    """Run in a fresh process: issue `rows` rows and print peak RSS (KiB) of self and workers."""
    with tempfile.TemporaryDirectory() as tmp:
        result = run_ours(Path(tmp), rows)
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    workers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(json.dumps({**result, "peak_rss_kib": own, "peak_worker_rss_kib": workers}))


def measure_memory(rows: int) -> dict:
    out = subprocess.run([sys.executable, __file__, "--memory-child", str(rows)], capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


# -- old against new ------------------------------------------------------------------------

# Run in a fresh process with PYTHONPATH = the tree under test: issue one CSV, print the rate.
# Uses only APIs the landed code has too.
_ISSUE_CHILD = """
import json, resource, sys, time
from datetime import datetime, timezone
from pathlib import Path
from certgen.adapters.install import install_all
install_all()
import certgen
from certgen.batch import BatchOptions, IssueEnvironment, run_batch
from certgen.config import sqlite_url
from certgen.keys import KeyStore
from certgen.model import DocumentKind
from certgen.registry import Registry
folder, data, rows = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
now = datetime(2026, 11, 24, 3, 0, tzinfo=timezone.utc)
store = KeyStore(folder / "keys")
store.init(b"benchmark-passphrase", now=now)
registry = Registry.open(sqlite_url(folder / "registry.sqlite3"))
env = IssueEnvironment(registry=registry, signer=store.current_signer(b"benchmark-passphrase", now=now),
                       chain=[store.root_certificate()], now=lambda: now, actor="bench")
def cpu(fields=("ru_utime", "ru_stime")):  # this process and its waited-for workers, user and system
    return sum(getattr(resource.getrusage(who), f) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
               for f in fields)
system_before = cpu(("ru_stime",))
cpu_before, started = cpu(), time.perf_counter()
summary = run_batch(BatchOptions(DocumentKind.PERSON, data, folder / "out", workers=0, durable=True), env)
seconds = time.perf_counter() - started
system = cpu(("ru_stime",)) - system_before
cpu = cpu() - cpu_before
assert summary.issued == rows, summary
print(json.dumps({"code": str(Path(certgen.__file__).parent.parent), "rows": rows, "seconds": round(seconds, 2),
                  "per_second": round(rows / seconds, 1), "cpu_ms_per_row": round(1000 * cpu / rows, 2),
                  "system_ms_per_row": round(1000 * system / rows, 2)}))
"""


def _issue_in(tree: Path, folder: Path, data: Path, rows: int) -> dict:
    folder.mkdir(parents=True)
    env = {**os.environ, "PYTHONPATH": str(tree)}
    out = subprocess.run([sys.executable, "-c", _ISSUE_CHILD, str(folder), str(data), str(rows)], cwd=str(tree),
                         env=env, capture_output=True, text=True, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    if Path(result["code"]).resolve() != tree.resolve():
        raise SystemExit(f"{tree}: the child imported certgen from {result['code']}")
    return result


def filesystem(path: Path) -> str:
    """The filesystem `path` is on, as `type device mount point`, and for ext4 whether it has a
    journal (see the docstring: it decides what creating a file costs)."""
    path = path.resolve()
    best = ("?", "?", "/")
    with open("/proc/mounts", encoding="utf-8") as mounts:
        for line in mounts:
            device, point, kind = line.split()[:3]
            if (path == Path(point) or Path(point) in path.parents) and len(point) >= len(best[2]):
                best = (kind, device, point)
    kind, device, point = best
    text = f"{kind} {device} on {point}"
    if kind == "ext4":
        task = Path("/sys/fs/ext4") / Path(device).name / "journal_task"
        try:
            journal = task.read_text().strip()
        except OSError:
            journal = "?"
        text += ", no journal" if journal == "<none>" else ", journaled" if journal != "?" else ""
    return text


def compare(old: Path, rows: int, pairs: int, folder: Path | None = None) -> dict:
    """Old and new tree issuing the same CSV and photos, alternating (see the docstring)."""
    new = ROOT
    results: dict = {"old": str(old), "new": str(new), "rows": rows, "pairs": []}
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        results["filesystem"] = filesystem(Path(tmp))
        print(f"writing to {tmp}: {results['filesystem']}", flush=True)
        data = make_rows(Path(tmp) / "input", rows)
        for pair in range(pairs):
            order = [("old", old), ("new", new)] if pair % 2 == 0 else [("new", new), ("old", old)]
            run: dict = {}
            for label, tree in order:
                got = _issue_in(tree, Path(tmp) / f"{pair}-{label}", data, rows)
                run[label], run[f"{label}_cpu_ms_per_row"] = got["per_second"], got["cpu_ms_per_row"]
                run[f"{label}_system_ms_per_row"] = got.get("system_ms_per_row")  # the kernel's part (files)
                # kept until the end: on an ext4 without a journal, a run creating files right after
                # 4,000 were deleted scans past each of them for every file (see the docstring)
            run["ratio"] = round(run["new"] / run["old"], 2)
            run["cpu_ratio"] = round(run["old_cpu_ms_per_row"] / run["new_cpu_ms_per_row"], 2)
            results["pairs"].append(run)
            print(f"pair {pair + 1} ({order[0][0]} first): old {run['old']}/s, new {run['new']}/s, "
                  f"ratio {run['ratio']}; CPU a row old {run['old_cpu_ms_per_row']} ms, new "
                  f"{run['new_cpu_ms_per_row']} ms, ratio {run['cpu_ratio']} (of which the kernel: old "
                  f"{run['old_system_ms_per_row']} ms, new {run['new_system_ms_per_row']} ms)", flush=True)
    for key, what in (("ratio", "throughput"), ("cpu_ratio", "CPU time a row")):
        ratios = sorted(p[key] for p in results["pairs"])
        middle = len(ratios) // 2
        results[f"{key}_median"] = ratios[middle] if len(ratios) % 2 else round((ratios[middle - 1] + ratios[middle]) / 2, 2)
        results[f"{key}_range"] = [ratios[0], ratios[-1]]
        print(f"{what}, new against old: median {results[f'{key}_median']}, range {ratios[0]} to {ratios[-1]} "
              f"({rows} person rows, {len(ratios)} pairs, {os.cpu_count()} cores)")
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--baseline-rows", type=int, default=200)
    parser.add_argument("--memory", default="1000,10000", help="batch sizes for the memory measurement ('' to skip)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--pkcs11", type=int, default=0, metavar="PAIRS",
                        help="also issue --rows with a key file and with a SoftHSM2 token key, PAIRS times alternately")
    parser.add_argument("--memory-child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--compare", type=Path, help="a checkout of the landed code: old against new")
    parser.add_argument("--pairs", type=int, default=4, help="old/new pairs with --compare")
    parser.add_argument("--dir", type=Path, help="where --compare's runs write (default: a temporary folder)")
    args = parser.parse_args()
    if args.memory_child:
        memory_child(args.memory_child)
        return
    if args.compare:
        results = compare(args.compare, args.rows, args.pairs, args.dir)
        if args.json:
            args.json.write_text(json.dumps(results, indent=2) + "\n")
        return
    results: dict = {"machine": {"cores": os.cpu_count(), "python": platform.python_version(),
                                 "platform": platform.platform()}}
    if args.pkcs11:
        with tempfile.TemporaryDirectory() as tmp:
            results["pkcs11"] = run_pkcs11(Path(tmp), args.rows, args.pkcs11)
        print(f"pkcs11:   mean {results['pkcs11']['mean_per_second']} per second; one ES256 signature "
              f"{results['pkcs11']['es256_signature_us']} µs")
        if args.json:
            args.json.write_text(json.dumps(results, indent=2) + "\n")
        return
    with tempfile.TemporaryDirectory() as tmp:
        results["ours"] = run_ours(Path(tmp) / "ours", args.rows)
    print(f"ours:     {results['ours']['rows']} person certificates + cards + {results['ours']['sheets']} sheets "
          f"in {results['ours']['seconds']} s = {results['ours']['per_second']}/s; phases {results['ours']['phases']}")
    if args.baseline_rows:
        with tempfile.TemporaryDirectory() as tmp:
            results["baseline"] = run_baseline(Path(tmp), args.baseline_rows)
        ratio = results["ours"]["per_second"] / results["baseline"]["per_second"]
        results["ratio"] = round(ratio, 1)
        print(f"baseline: {results['baseline']['rows']} in {results['baseline']['seconds']} s = "
              f"{results['baseline']['per_second']}/s; ratio {ratio:.1f}x")
    sizes = [int(s) for s in args.memory.split(",") if s.strip()]
    if sizes:
        results["memory"] = [measure_memory(n) for n in sizes]
        for m in results["memory"]:
            print(f"memory:   {m['rows']} rows: peak RSS {m['peak_rss_kib'] / 1024:.0f} MiB (batch process), "
                  f"{m['peak_worker_rss_kib'] / 1024:.0f} MiB (largest worker), {m['per_second']}/s")
        if len(sizes) > 1:
            first, last = results["memory"][0], results["memory"][-1]
            results["memory_ratio"] = round(last["peak_rss_kib"] / first["peak_rss_kib"], 2)
            print(f"memory:   peak {last['rows']} / peak {first['rows']} = {results['memory_ratio']}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
