"""Web benchmark: `/v/<seal>` under load on loopback, against a registry of 100,000 certificates.

    python benchmarks/bench_web.py [--certificates 100000] [--seconds 15] [--connections 32]
                                   [--rate-limit 120 --clients 10000]

Builds (once, cached in --cache) a registry with N issued certificates and their seals, starts
`certverify serve` with as many workers as cores, and loads it with wrk (one thread, on the
same machine: the load generator's CPU counts against the server's, as it would on a 2-core
box): first "cold", every request a seal the server has not seen yet (58,000 different
certificates), then "warm", the seal pages of 2,000 certificates requested again and again.
Then a bare FastAPI endpoint (one SQLite look-up by number, a small Jinja2 page), served the
same way, and the ratio. Needs Debian's wrk.

With `--rate-limit N` the shared rate limit is on (N per client per minute, counted in the
registry) and with `--clients K` every request carries `X-Forwarded-For` with one of K client
addresses (the server trusting 127.0.0.1 as its proxy), so the limiter sees K visitors instead
of one: its batches to the database are then as large as they get.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import date, datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from certgen.config import sqlite_url  # noqa: E402
from certgen.keys import KeyStore  # noqa: E402
from certgen.model import DocumentKind, Series  # noqa: E402
from certgen.registry import Issued, NewCertificate, Registry  # noqa: E402
from certgen.seal import SealClaims, seal_text, sign_seal  # noqa: E402

PASS = b"benchmark-passphrase"
NOW = datetime(2026, 11, 24, 3, 0, tzinfo=timezone.utc)
URL = "https://verifikasi.example.id/v/"

BARE_APP = '''
import sqlite3, threading, os
from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from jinja2 import Template
app = FastAPI()
PAGE = Template("<!doctype html><html><body><h1>{{ status }}</h1><p>{{ number }}</p><p>{{ holder }}</p></body></html>")
local = threading.local()
def db():
    if not hasattr(local, "c"):
        local.c = sqlite3.connect(os.environ["BARE_DB"], check_same_thread=False)
    return local.c
@app.get("/n/{number}", response_class=HTMLResponse)
def page(number: str):
    row = db().execute("select status, holder from certificates where number = ?", (number,)).fetchone()
    return PAGE.render(status=row[0] if row else "unknown", number=number, holder=row[1] if row else "")
'''


def build(cache: Path, count: int) -> tuple[KeyStore, str, list[str], list[str]]:
    """Keys and a registry of `count` issued certificates with seals (cached between runs)."""
    keys = KeyStore(cache / "keys")
    url = sqlite_url(cache / "registry.sqlite3")
    marker = cache / f"built-{count}"
    if not marker.exists():
        shutil.rmtree(cache, ignore_errors=True)
        cache.mkdir(parents=True)
        keys.init(PASS, now=datetime(2026, 10, 1, tzinfo=timezone.utc), verify_urls=[URL])
        signer = keys.current_signer(PASS, now=NOW)
        registry = Registry.open(url)
        rng = random.Random(1)
        chunk = 5000
        for start in range(0, count, chunk):
            items = [NewCertificate(Series.PERSON, f"Peserta Nomor {i}", "SKM-PTK-03", date(2026, 11, 1), date(2029, 10, 31),
                                    {"name": f"Peserta Nomor {i}", "scheme_code": "SKM-PTK-03", "scheme_name": "Pengawas Mutu Barang",
                                     "scope": "Pengawasan mutu barang", "grant_date": "2026-11-01", "expiry_date": "2029-10-31"},
                                    f"bench-{i}") for i in range(start, min(start + chunk, count))]
            reserved = registry.reserve(items, now=NOW)
            issued = []
            for r, item in zip(reserved, items):
                claims = SealClaims(r.number, DocumentKind.PERSON, item.holder, item.scheme, item.granted, item.expires,
                                    "ID-BSKP", NOW)
                issued.append(Issued(r.number, f"{rng.getrandbits(256):064x}", None, seal_text(sign_seal(claims, signer), URL)))
            registry.mark_issued_many(issued, dsc_kid=signer.kid.hex(), now=NOW, actor="bench")
        registry.close()
        marker.touch()
    registry = Registry.open(url)
    sample = random.Random(2).sample(range(1, count + 1), min(60_000, count))
    numbers, codes = [], []
    with registry.engine.connect() as conn:
        for number, seal in conn.exec_driver_sql(
                f"select number, seal from certificates where serial in ({','.join(map(str, sample))})"):
            numbers.append(number)
            codes.append(seal.rsplit("/v/", 1)[1])
    registry.close()
    return keys, url, numbers, codes


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_up(url: str) -> None:
    for _ in range(400):
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{url} did not come up")


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of process `pid` and all its descendants, from /proc: on a
    shared machine the server's CPU per request moves far less than its requests per second."""
    ticks = os.sysconf("SC_CLK_TCK")
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / ticks
            for task in Path(f"/proc/{current}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, ValueError):
            continue
    return total


def run_wrk(base: str, paths: list[str], seconds: int, connections: int, folder: Path, clients: int = 0,
            server_pid: int | None = None) -> dict:
    script = folder / "paths.lua"
    if clients:  # one of `clients` addresses per request, as a proxy would forward them
        request = ("  j = j % " + str(clients) + " + 1\n"
                   "  local a = '10.' .. math.floor(j / 65536) .. '.' .. (math.floor(j / 256) % 256) .. '.' .. (j % 256)\n"
                   "  return wrk.format('GET', paths[i], {['X-Forwarded-For'] = a})\n")
    else:
        request = "  return wrk.format('GET', paths[i])\n"
    script.write_text("paths = {" + ",".join(json.dumps(p) for p in paths) + "}\n"
                      "i = 0\nj = 0\nrequest = function()\n  i = i % #paths + 1\n" + request + "end\n")
    cpu_before = cpu_seconds(server_pid) if server_pid else 0.0
    out = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script), base],
                         capture_output=True, text=True, check=True).stdout
    cpu = cpu_seconds(server_pid) - cpu_before if server_pid else None
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    latency = dict(re.findall(r"^\s+(50|75|90|99)%\s+([\d.]+\w+)", out, re.M))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    socket_errors = re.search(r"Socket errors: (.*)", out)
    result = {"requests_per_second": rps, "latency": latency, "non_2xx": int(errors.group(1)) if errors else 0,
              "socket_errors": socket_errors.group(1) if socket_errors else None}
    if cpu is not None and requests:
        result["server_cpu_ms_per_request"] = round(cpu * 1000 / requests, 3)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--certificates", type=int, default=100_000)
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "certgen-bench-web")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--rate-limit", type=int, default=0, help="requests per client per minute (0: off)")
    parser.add_argument("--clients", type=int, default=0, help="distinct client addresses (X-Forwarded-For)")
    parser.add_argument("--skip-bare", action="store_true", help="do not measure the bare FastAPI endpoint")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed (apt-get install wrk; scripts/bootstrap.sh does it)")
    keys, url, numbers, codes = build(args.cache, args.certificates)
    results: dict = {"certificates": args.certificates, "workers": args.workers, "connections": args.connections,
                     "rate_limit": args.rate_limit, "clients": args.clients}
    env = {**os.environ, "PYTHONPATH": str(ROOT), "CERTVERIFY_RATE_LIMIT": str(args.rate_limit)}
    if args.clients:
        env["CERTVERIFY_TRUSTED_PROXIES"] = "127.0.0.1"
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        server = subprocess.Popen([sys.executable, "-m", "verify.cli", "--trust-list", str(keys.trustlist_path),
                                   "--root", str(keys.root_cert_path), "--registry", url, "serve", "--port", str(port),
                                   "--workers", str(args.workers)], env=env)
        try:
            base = f"http://127.0.0.1:{port}"
            wait_up(base + "/api/v1/health")
            # cold: every request a seal this server has not seen (first scans)
            results["seal_page_cold"] = run_wrk(base, [f"/v/{c}" for c in codes[2000:]], args.seconds,
                                                args.connections, Path(tmp), args.clients, server.pid)
            # warm: 2,000 certificates scanned again and again (a product certificate on packaging)
            run_wrk(base, [f"/v/{c}" for c in codes[:2000]], 3, args.connections, Path(tmp), args.clients)
            results["seal_page"] = run_wrk(base, [f"/v/{c}" for c in codes[:2000]], args.seconds, args.connections,
                                           Path(tmp), args.clients, server.pid)
        finally:
            server.terminate()
            server.wait(timeout=20)
        if args.skip_bare:
            print_results(results, args)
            return
        bare_dir = Path(tmp) / "bare"
        bare_dir.mkdir()
        (bare_dir / "bare_app.py").write_text(BARE_APP)
        port = free_port()
        launch = (f"import sys; sys.path.insert(0, {str(bare_dir)!r}); from verify.web.server import serve; "
                  f"serve('127.0.0.1', {port}, {args.workers}, False, app='bare_app:app', factory=False)")
        bare = subprocess.Popen([sys.executable, "-c", launch], cwd=bare_dir,
                                env={**env, "BARE_DB": url.replace("sqlite:///", ""), "PYTHONPATH": f"{ROOT}:{bare_dir}"})
        try:
            base = f"http://127.0.0.1:{port}"
            wait_up(base + f"/n/{numbers[0]}")
            run_wrk(base, [f"/n/{n}" for n in numbers[:200]], 3, args.connections, Path(tmp))
            results["bare_endpoint"] = run_wrk(base, [f"/n/{n}" for n in numbers[:2000]], args.seconds,
                                               args.connections, Path(tmp))
        finally:
            bare.terminate()
            bare.wait(timeout=20)
    print_results(results, args)


def print_results(results: dict, args: argparse.Namespace) -> None:
    ours, cold = results["seal_page"], results["seal_page_cold"]
    print(f"/v/<seal> cold (each seal new): {cold['requests_per_second']:.0f} req/s, latency {cold['latency']}, "
          f"non-2xx {cold['non_2xx']}, server CPU {cold.get('server_cpu_ms_per_request')} ms/request")
    print(f"/v/<seal> warm (2,000 seals again): {ours['requests_per_second']:.0f} req/s, latency {ours['latency']}, "
          f"non-2xx {ours['non_2xx']}, server CPU {ours.get('server_cpu_ms_per_request')} ms/request")
    if "bare_endpoint" in results:
        bare_rps = results["bare_endpoint"]["requests_per_second"]
        results["ratio"] = round(ours["requests_per_second"] / bare_rps, 2)
        print(f"bare FastAPI + SQLite + Jinja2: {bare_rps:.0f} req/s, latency {results['bare_endpoint']['latency']}")
        print(f"ratio ours / bare: {results['ratio']}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
