"""Renewal and correction through the issuing pipeline: a spreadsheet of N successors against the
same N rows issued as new certificates (the cost of the successor checks and of replacing the
old certificates in the issue transactions). Results go into docs/benchmarks.md by hand.

    python benchmarks/bench_replace.py --rows 1000
"""

from __future__ import annotations

import argparse
import csv
import json
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from certgen.batch import IssueEnvironment, run_batch
from certgen.batch_plan import BatchOptions
from certgen.config import sqlite_url
from certgen.keys import KeyStore
from certgen.model import DocumentKind
from certgen.registry import Registry, verify_log
from certgen.replacing import check_successors

NOW = datetime(2026, 11, 24, 3, 0, tzinfo=timezone.utc)
SAMPLE = Path(__file__).resolve().parent.parent / "samples" / "product-type1.csv"
PASS = b"bench-passphrase"


def rows(count: int) -> list[dict[str, str]]:
    with open(SAMPLE, encoding="utf-8") as handle:
        sample = list(csv.DictReader(handle))
    out = []
    for i in range(count):
        row = dict(sample[i % len(sample)])
        row["type_model"] = f"M-{i}"
        out.append(row)
    return out


def write(path: Path, data: list[dict[str, str]]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(data[0]))
        writer.writeheader()
        writer.writerows(data)
    return path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        keys = KeyStore(folder / "keys")
        keys.init(PASS, now=NOW - timedelta(days=30))
        signer = keys.current_signer(PASS, now=NOW)
        registry = Registry.open(sqlite_url(folder / "registry.sqlite3"))
        env = IssueEnvironment(registry=registry, signer=signer, chain=[keys.root_certificate()], now=lambda: NOW)
        first = rows(args.rows)
        new = run_batch(BatchOptions(DocumentKind.PRODUCT, write(folder / "new.csv", first), folder / "new",
                                     workers=args.workers), env)
        print(f"new: {new.issued} in {new.seconds:.2f} s = {new.rate:.0f}/s; phases {new.phases}")
        manifest = json.loads((folder / "new" / "manifest.json").read_text())
        successors = [{**row, "client_name": row["client_name"] + " Tbk", "old": m["number"]}
                      for row, m in zip(first, manifest)]
        sheet = write(folder / "successors.csv", successors)
        options = BatchOptions(DocumentKind.PRODUCT, sheet, folder / "succ", workers=args.workers, replaces_column="old",
                               replace_reason="benchmark")
        from certgen.batch_plan import prepare_batch

        plan = prepare_batch(options, None)
        start = time.perf_counter()
        checked = check_successors(plan.intake, registry, DocumentKind.PRODUCT, "successors.csv", "old", "x", NOW)
        took = time.perf_counter() - start
        assert not checked.intake.errors and len(checked.replacements) == args.rows
        print(f"successor checks alone: {took * 1000:.0f} ms for {args.rows} rows ({took / args.rows * 1e6:.0f} us/row)")
        succ = run_batch(options, env)
        print(f"successors: {succ.issued} in {succ.seconds:.2f} s = {succ.rate:.0f}/s; phases {succ.phases}")
        assert succ.issued == args.rows and not succ.problems
        start = time.perf_counter()
        report = verify_log(registry, keys.trust_list(), keys.root_certificate())
        print(f"log --verify over {report.events} events: {time.perf_counter() - start:.2f} s, ok={report.ok}")
        registry.close()


if __name__ == "__main__":
    main()
