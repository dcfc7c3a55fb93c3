"""National-scale benchmark: the public flows through nginx, two web instances, one PostgreSQL
registry of a million certificates (deploy/stack.py), against a bare endpoint served the same way.

    python benchmarks/bench_stack.py [--certificates 1000000] [--seconds 15] [--connections 32]

The registry is filled through the registry's own API (numbers, seals signed by the document
signer, issue events in the log, a signed checkpoint), so every seal and the whole log verify;
seal signing runs on every core. Then wrk (one thread, same 2 cores) loads, through nginx:
`/v/<seal>` (2,000 certificates scanned again and again, after a warm-up), `/n?number=` and
`/api/v1/number/<n>`; then a bare FastAPI endpoint (one PostgreSQL look-up by number, a small
Jinja2 page), two instances behind the same nginx settings. Prints requests per second, latency
percentiles and the ratios. Needs Debian's postgresql, nginx and wrk.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from certgen.model import DocumentKind, Series  # noqa: E402
from certgen.registry import Issued, NewCertificate, Registry  # noqa: E402
from certgen.seal import SealClaims, seal_text, sign_seal  # noqa: E402
from benchmarks.bench_web import run_wrk  # noqa: E402 - the same wrk runner and parsing
from deploy.stack import PASSPHRASE, Stack, free_port  # noqa: E402

NOW = datetime.now(timezone.utc)
URL = "https://verifikasi.example.id/v/"
CHUNK = 5000

BARE_APP = '''
import os, threading
import psycopg
from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from jinja2 import Template
app = FastAPI()
PAGE = Template("<!doctype html><html><body><h1>{{ status }}</h1><p>{{ number }}</p><p>{{ holder }}</p></body></html>")
local = threading.local()
def db():
    if not hasattr(local, "c"):
        local.c = psycopg.connect(os.environ["BARE_DSN"], autocommit=True)
    return local.c
@app.get("/n/{number}", response_class=HTMLResponse)
def page(number: str):
    row = db().execute("select status, holder from certificates where number = %s", (number,)).fetchone()
    return PAGE.render(status=row[0] if row else "unknown", number=number, holder=row[1] if row else "")
'''

_signer = None


def _init_signer(keys: str) -> None:
    global _signer
    from certgen.keys import KeyStore
    _signer = KeyStore(Path(keys)).current_signer(PASSPHRASE.encode(), now=NOW)


def _seal(args: tuple[str, str, str, str, str | None]) -> str:
    number, holder, scheme, granted, expires = args
    kind = DocumentKind.PERSON if number.startswith("SK") else DocumentKind.TRAINING
    claims = SealClaims(number, kind, holder, scheme, date.fromisoformat(granted),
                        date.fromisoformat(expires) if expires else None, "ID-BSKP", NOW)
    return seal_text(sign_seal(claims, _signer), URL)


def fill(stack: Stack, count: int) -> None:
    """`count` issued certificates in the stack's registry, through the registry API: person
    and training certificates in turns (a series holds at most 999,999 numbers a year)."""
    from certgen.keys import KeyStore

    registry = Registry.open(stack.owner_url)
    signer = KeyStore(stack.keys).current_signer(PASSPHRASE.encode(), now=NOW)
    rng = random.Random(1)
    started = time.perf_counter()
    with multiprocessing.get_context("fork").Pool(os.cpu_count() or 1, _init_signer, (str(stack.keys),)) as pool:
        for start in range(0, count, CHUNK):
            person = (start // CHUNK) % 2 == 0
            items = [NewCertificate(Series.PERSON, f"Peserta Nomor {i}", "SKM-PTK-03", date(2026, 11, 1), date(2029, 10, 31),
                                    {"name": f"Peserta Nomor {i}", "scheme_code": "SKM-PTK-03",
                                     "scheme_name": "Pengawas Mutu Barang", "scope": "Pengawasan mutu barang",
                                     "grant_date": "2026-11-01", "expiry_date": "2029-10-31"}, f"bench-{i}")
                     if person else
                     NewCertificate(Series.TRAINING, f"Peserta Nomor {i}", "Bimtek Pengawasan Mutu", date(2026, 11, 1), None,
                                    {"name": f"Peserta Nomor {i}", "course": "Bimtek Pengawasan Mutu",
                                     "start_date": "2026-10-27", "end_date": "2026-10-30", "hours": 32}, f"bench-{i}")
                     for i in range(start, min(start + CHUNK, count))]
            reserved = registry.reserve(items, now=NOW)
            seals = pool.map(_seal, [(r.number, i.holder, i.scheme, i.granted.isoformat(),
                                      i.expires.isoformat() if i.expires else None)
                                     for r, i in zip(reserved, items)], chunksize=250)
            registry.mark_issued_many([Issued(r.number, f"{rng.getrandbits(256):064x}", None, s)
                                       for r, s in zip(reserved, seals)], dsc_kid=signer.kid.hex(), now=NOW, actor="bench")
            done = start + len(items)
            if done % 100_000 == 0 or done == count:
                print(f"  {done:,} certificates in {time.perf_counter() - started:.0f} s", flush=True)
    registry.checkpoint(signer, now=NOW)
    registry.close()


def sample(stack: Stack, count: int, size: int) -> tuple[list[str], list[str]]:
    registry = Registry.open(stack.owner_url, migrate=False)
    persons = sum(min(CHUNK, count - start) for start in range(0, count, 2 * CHUNK))
    serials = random.Random(2).sample(range(1, persons + 1), min(size, persons))
    numbers, codes = [], []
    with registry.engine.connect() as conn:
        for number, seal in conn.exec_driver_sql(
                f"select number, seal from certificates where series = 'SK' and serial in ({','.join(map(str, serials))})"):
            numbers.append(number)
            codes.append(seal.rsplit("/v/", 1)[1])
    registry.close()
    return numbers, codes


def to_ms(text: str) -> float:
    value, unit = re.match(r"([\d.]+)(\w+)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--certificates", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    # SIGTERM ends the run like Ctrl-C: the stack's processes are stopped on the way out
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    results: dict = {"certificates": args.certificates, "connections": args.connections}
    with tempfile.TemporaryDirectory(prefix="certgen-bench-stack-") as tmp:
        stack = Stack(Path(tmp) / "stack", instances=2, page_rate="1000000r/s", form_rate="1000000r/m")
        with stack:
            stack.up()
            started = time.perf_counter()
            fill(stack, args.certificates)
            results["fill_seconds"] = round(time.perf_counter() - started, 1)
            numbers, codes = sample(stack, args.certificates, 2000)
            base = stack.url
            # warm-up: each instance keeps its own page cache, so every page is asked for several times
            run_wrk(base, [f"/v/{c}" for c in codes], 10, args.connections, Path(tmp))
            run_wrk(base, [f"/n?number={n}" for n in numbers], 5, args.connections, Path(tmp))
            results["seal_page"] = run_wrk(base, [f"/v/{c}" for c in codes], args.seconds, args.connections, Path(tmp))
            results["number_page"] = run_wrk(base, [f"/n?number={n}" for n in numbers], args.seconds, args.connections, Path(tmp))
            results["number_api"] = run_wrk(base, [f"/api/v1/number/{n}" for n in numbers], args.seconds,
                                            args.connections, Path(tmp))
            # the bare endpoint, the same way: two instances behind nginx, the web role's database access
            bare_dir = Path(tmp) / "bare"
            bare_dir.mkdir()
            (bare_dir / "bare_app.py").write_text(BARE_APP)
            ports = [free_port(), free_port()]
            dsn = stack.web_url.replace("postgresql+psycopg://", "postgresql://")
            env = {**os.environ, "BARE_DSN": dsn, "PYTHONPATH": f"{ROOT}:{bare_dir}"}
            bares = [subprocess.Popen([sys.executable, "-m", "uvicorn", "bare_app:app", "--host", "127.0.0.1",
                                       "--port", str(port), "--log-level", "warning", "--no-server-header"],
                                      cwd=bare_dir, env=env) for port in ports]
            proxy_port = free_port()
            proxy = None
            try:
                for port in ports:
                    from deploy.stack import _healthy, _wait
                    _wait("bare endpoint", lambda p=port: _healthy(f"http://127.0.0.1:{p}/n/{numbers[0]}"), 30)
                proxy = stack.proxy(ports, proxy_port, "bare-nginx")
                bare_base = f"http://127.0.0.1:{proxy_port}"
                run_wrk(bare_base, [f"/n/{n}" for n in numbers], 3, args.connections, Path(tmp))
                results["bare_endpoint"] = run_wrk(bare_base, [f"/n/{n}" for n in numbers], args.seconds,
                                                   args.connections, Path(tmp))
            finally:
                if proxy is not None:
                    proxy.terminate()
                    proxy.wait(10)
                for bare in bares:
                    bare.terminate()
                    bare.wait(20)
    bare_rps = results["bare_endpoint"]["requests_per_second"]
    print(f"registry of {args.certificates:,} certificates filled in {results['fill_seconds']} s")
    for name in ("seal_page", "number_page", "number_api", "bare_endpoint"):
        r = results[name]
        r["ratio_to_bare"] = round(r["requests_per_second"] / bare_rps, 2)
        print(f"{name:14} {r['requests_per_second']:8.0f} req/s  p50 {r['latency'].get('50')}  p99 {r['latency'].get('99')}"
              f"  ratio {r['ratio_to_bare']}  non-2xx {r['non_2xx']}  socket errors {r['socket_errors']}")
    seal = results["seal_page"]
    print(f"target: /v/<seal> >= 0.6 x bare: {seal['ratio_to_bare']} ; p99 < 50 ms: {to_ms(seal['latency']['99']):.1f} ms")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
