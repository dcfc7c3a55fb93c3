"""Abuse load test: does the verification page keep its normal p99 while it is abused?

    python benchmarks/bench_abuse.py [--certificates 100000] [--seconds 10] [--connections 16]
                                     [--attempts 1000] [--slow 10]

Serves the registry of benchmarks/bench_web.py (cached) with `certverify serve --workers 2`,
the shared rate limit on (120 per client per minute) and 127.0.0.1 trusted as the proxy, so
wrk's requests come from 10,000 visitors (`X-Forwarded-For`). Three phases of --seconds each,
wrk loading `/v/<seal>` throughout:

1. normal: wrk alone;
2. abuse: at the same time, --attempts complaint forms sent as fast as one connection goes from
   one address, and --slow clients that send their headers a byte every half second (each is
   cut off by the header deadline and connects again);
3. normal again.

Prints the page's requests/s and latency percentiles per phase, what the complaint flood got
(statuses, reports stored) and how long the slow clients were kept. Needs Debian's wrk.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from benchmarks.bench_web import build, free_port, run_wrk, wait_up  # noqa: E402
from certgen.registry import Registry  # noqa: E402

#: One address per run (RFC 2544's benchmarking range), so earlier runs' complaints today do not count.
ATTACKER = f"198.18.{random.randrange(256)}.{random.randrange(1, 255)}"


def flood(base: str, attempts: int, result: dict) -> None:
    """`attempts` complaint forms from one address, one after the other on one connection."""
    statuses: Counter[int] = Counter()
    started = time.monotonic()
    with httpx.Client(base_url=base, timeout=30, headers={"X-Forwarded-For": ATTACKER}) as client:
        for i in range(attempts):
            statuses[client.post("/report", data={"message": f"spam {i}", "number": ""}).status_code] += 1
    result.update(statuses=dict(statuses), seconds=round(time.monotonic() - started, 2))


async def slow_client(port: int, until: float, kept: list[float], answers: Counter[str]) -> None:
    while time.monotonic() < until:
        started = time.monotonic()
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"GET /v/AAAA HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            while time.monotonic() < until:
                writer.write(b"a")
                await writer.drain()
                try:
                    data = await asyncio.wait_for(reader.read(100), 0.5)
                except asyncio.TimeoutError:
                    continue
                answers[data.split(b"\r\n", 1)[0].decode() if data else "closed"] += 1
                break
            writer.close()
        except (ConnectionError, OSError):
            answers["reset"] += 1
        kept.append(time.monotonic() - started)


def slow_clients(port: int, count: int, seconds: float, result: dict) -> None:
    kept: list[float] = []
    answers: Counter[str] = Counter()

    async def run() -> None:
        until = time.monotonic() + seconds
        await asyncio.gather(*(slow_client(port, until, kept, answers) for _ in range(count)))

    asyncio.run(run())
    cut = [k for k in kept if k < seconds]
    result.update(connections=len(kept), answers=dict(answers), longest_kept=round(max(cut, default=0), 2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--certificates", type=int, default=100_000)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--attempts", type=int, default=1000)
    parser.add_argument("--slow", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "certgen-bench-web")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    keys, url, _numbers, codes = build(args.cache, args.certificates)
    Registry.open(url).close()  # migrations to head (abuse_counters)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "CERTVERIFY_RATE_LIMIT": "120",
           "CERTVERIFY_TRUSTED_PROXIES": "127.0.0.1"}
    with Registry.open(url).engine.begin() as conn:
        before = conn.exec_driver_sql("select count(*) from reports").scalar_one()
    results: dict = {"workers": args.workers, "connections": args.connections, "seconds": args.seconds}
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        server = subprocess.Popen([sys.executable, "-m", "verify.cli", "--trust-list", str(keys.trustlist_path),
                                   "--root", str(keys.root_cert_path), "--registry", url, "serve", "--port", str(port),
                                   "--workers", str(args.workers)], env=env)
        try:
            base = f"http://127.0.0.1:{port}"
            wait_up(base + "/api/v1/health")
            paths = [f"/v/{c}" for c in codes[:2000]]
            run_wrk(base, paths, 3, args.connections, Path(tmp), 10_000)  # warm-up
            results["normal"] = run_wrk(base, paths, args.seconds, args.connections, Path(tmp), 10_000)
            flood_result: dict = {}
            slow_result: dict = {}
            attackers = [threading.Thread(target=flood, args=(base, args.attempts, flood_result)),
                         threading.Thread(target=slow_clients, args=(port, args.slow, args.seconds + 1, slow_result))]
            for thread in attackers:
                thread.start()
            results["abused"] = run_wrk(base, paths, args.seconds, args.connections, Path(tmp), 10_000)
            for thread in attackers:
                thread.join()
            results["normal_after"] = run_wrk(base, paths, args.seconds, args.connections, Path(tmp), 10_000)
            results["complaint_flood"] = flood_result
            results["slow_clients"] = slow_result
        finally:
            server.terminate()
            server.wait(timeout=20)
    with Registry.open(url).engine.begin() as conn:
        results["complaint_flood"]["stored"] = conn.exec_driver_sql("select count(*) from reports").scalar_one() - before
    for phase in ("normal", "abused", "normal_after"):
        r = results[phase]
        print(f"{phase:13} {r['requests_per_second']:7.0f} req/s  latency {r['latency']}  non-2xx {r['non_2xx']}")
    print(f"complaint flood: {results['complaint_flood']}")
    print(f"slow clients: {results['slow_clients']}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
