"""Surveillance and expiry costs: `surveillance due` and `expiring` over a registry of type 5
certificates, recording a visit, the audit with visits, and rendering a reminder letter.
Results go into docs/benchmarks.md by hand.

    python benchmarks/bench_lifecycle.py --rows 10000
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from certgen.config import sqlite_url
from certgen.expiry import expiring, window
from certgen.keys import KeyStore
from certgen.model import Series
from certgen.registry import Issued, NewCertificate, Registry, verify_log
from certgen.registry.visits import VisitResult, record_visit, under_surveillance
from certgen.surveillance import SurveillanceRules, due_list, new_visit, store_report

NOW = datetime(2026, 11, 24, 3, 0, tzinfo=timezone.utc)


def product(i: int) -> NewCertificate:
    granted = date(2024, 1, 1) + timedelta(days=i % 900)
    expires = granted.replace(year=granted.year + 3) - timedelta(days=1) if (granted.month, granted.day) != (2, 29) \
        else date(granted.year + 3, 2, 28)
    record = {"client_name": f"PT Contoh {i}", "client_address": "Jl. Industri", "product": "Kipas", "brand": "B",
              "type_model": "T", "standard": "SNI 1", "scheme_type": 5, "grant_date": granted.isoformat(),
              "expiry_date": expires.isoformat(), "factory_name": "Pabrik", "factory_address": "Cikarang"}
    return NewCertificate(Series.PRODUCT_TYPE5, record["client_name"], "SNI 1", granted, expires, record, f"k{i}")


def timed(label: str, fn, repeat: int = 3):
    best = None
    for _ in range(repeat):
        start = time.perf_counter()
        value = fn()
        took = time.perf_counter() - start
        best = took if best is None else min(best, took)
    print(f"{label}: {best * 1000:.1f} ms (best of {repeat})")
    return value


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=10000)
    parser.add_argument("--visits", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        keys = KeyStore(folder / "keys")
        keys.init(b"bench-passphrase", now=NOW - timedelta(days=30))
        registry = Registry.open(sqlite_url(folder / "registry.sqlite3"))
        reserved = registry.reserve((product(i) for i in range(args.rows)), now=NOW - timedelta(days=1))
        for start in range(0, len(reserved), 500):
            registry.mark_issued_many([Issued(r.number, "ab" * 32) for r in reserved[start:start + 500]], dsc_kid="00" * 8,
                                      now=NOW - timedelta(days=1), actor="bench")
        rules = SurveillanceRules()
        report = folder / "report.pdf"
        report.write_bytes(b"%PDF-1.7\n" + b"x" * 200_000)
        stored = store_report(report, folder / "store", rules)
        start = time.perf_counter()
        for r in reserved[: args.visits]:
            record_visit(registry, r.number, new_visit(stored, VisitResult.MINOR, date(2026, 11, 20), rules), now=NOW,
                         actor="bench")
        print(f"record_visit: {(time.perf_counter() - start) / args.visits * 1000:.2f} ms per visit ({args.visits} visits)")
        items = timed(f"surveillance due --within 60d over {args.rows} type 5 certificates",
                      lambda: due_list(under_surveillance(registry), rules, within_days=60, now=NOW))
        print(f"  listed {len(items)}")
        items = timed(f"expiring --within 90d over {args.rows} certificates",
                      lambda: expiring(registry.iter_certificates(), within_days=90, now=NOW))
        print(f"  listed {len(items)}")
        items = timed(f"expiring --within 90d, filtered in SQL (active_expiring), {args.rows} certificates",
                      lambda: expiring(registry.active_expiring(*window(90, NOW)), within_days=90, now=NOW))
        print(f"  listed {len(items)}")
        report_ = timed("verify_log", lambda: verify_log(registry, keys.trust_list(), keys.root_certificate()), repeat=1)
        print(f"  ok={report_.ok}, events={report_.events}")
        from certgen.render.fonts import register
        from certgen.render.letter import Letter, render_letter
        from certgen.render.templates import Bilingual
        from certgen.render.templates import TemplateSet
        templates = TemplateSet.load()
        fonts = register(templates.letterhead.fonts, templates.letterhead.fallback_fonts)
        letter = Letter(Bilingual("PEMBERITAHUAN", "Notice"), "PERPANJANGAN/X", NOW.date(), ("PT Contoh", "Jl. Industri"),
                        (Bilingual("kalimat " * 25, "sentence " * 25),) * 3, (("Nomor", "Number", "P5-2026-000001-E"),) * 3)
        render_letter(templates, fonts, letter)
        timed("one reminder letter (unsigned)", lambda: render_letter(templates, fonts, letter), repeat=20)
        registry.close()


if __name__ == "__main__":
    main()
