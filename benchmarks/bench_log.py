"""The registry log's costs: `mark_issued_many` (the issuing hot path) and `verify_log` on a big
registry, time and peak memory. Results go into docs/benchmarks.md by hand.

    python benchmarks/bench_log.py --rows 100000            # build, time the marking, verify
    python benchmarks/bench_log.py --verify-only URL        # (internal) verify in a fresh process

Run it with another checkout's code first on PYTHONPATH to compare (the API is the same).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from certgen.config import sqlite_url
from certgen.model import PersonRecord, Series, record_to_json
from certgen.registry import Issued, NewCertificate, Registry, verify_log
from certgen.trust import TrustList

NOW = datetime(2026, 11, 24, 3, 0, tzinfo=timezone.utc)
GROUP = 10  # the issuing pipeline marks a group of certificates at a time


def person(i: int) -> NewCertificate:
    record = PersonRecord(name=f"Peserta Nomor {i}", scheme_code="SKM-PTK-03/2024", scheme_name="Pengawas Mutu",
                          scope="Pengawas mutu hasil perikanan", grant_date=date(2026, 11, 24), expiry_date=date(2029, 11, 23))
    return NewCertificate(Series.PERSON, record.holder, record.scheme, record.grant_date, record.expires,
                          record_to_json(record), f"key-{i}")


def build(url: str, rows: int) -> dict[str, float]:
    registry = Registry.open(url)
    seal = "https://verify.example/v/" + "A" * 330
    reserved = registry.reserve((person(i) for i in range(rows)), now=NOW)
    marking = 0.0
    for start in range(0, rows, GROUP):
        group = [Issued(r.number, "ab" * 32, "cd" * 32, seal) for r in reserved[start:start + GROUP]]
        mark = time.perf_counter()
        registry.mark_issued_many(group, dsc_kid="0011223344556677", now=NOW, actor="bench")
        marking += time.perf_counter() - mark
    for r in reserved[::100]:
        registry.suspend(r.number, reason="audit", now=NOW + timedelta(hours=1), actor="bench")
    registry.close()
    return {"mark_issued_many_us_per_row": round(marking / rows * 1e6, 1)}


def verify_only(url: str) -> None:
    registry = Registry.open(url)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    mark = time.perf_counter()
    report = verify_log(registry, TrustList(signers={}, issued_at=NOW), None)
    seconds = time.perf_counter() - mark
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"ok": report.ok, "events": report.events, "certificates": report.certificates,
                      "verify_seconds": round(seconds, 2), "rss_before_mib": round(before / 1024, 1),
                      "rss_peak_mib": round(after / 1024, 1)}))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--verify-only")
    args = parser.parse_args()
    if args.verify_only:
        verify_only(args.verify_only)
        return
    with tempfile.TemporaryDirectory() as tmp:
        url = sqlite_url(Path(tmp) / "registry.sqlite3")
        result = build(url, args.rows)
        out = subprocess.run([sys.executable, __file__, "--verify-only", url], capture_output=True, text=True, check=True)
        result.update(json.loads(out.stdout.strip().splitlines()[-1]))
        result["rows"] = args.rows
        print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
