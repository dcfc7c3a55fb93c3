"""A real `certverify serve` process on a free loopback port, for the tests that need a server
(a browser, the auditor over HTTP, the connection limits)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def live_server(trust_list: Path, root: Path, registry_url: str, *, env: dict[str, str] | None = None,
                wait_seconds: float = 15.0) -> Iterator[tuple[str, int]]:
    """Yield (base URL, port) once the server answers its health check; stop it afterwards.
    `env` adds settings (the rate limit is off unless it says otherwise)."""
    port = free_port()
    environ = {**os.environ, "PYTHONPATH": str(ROOT), "CERTVERIFY_RATE_LIMIT": "0", **(env or {})}
    proc = subprocess.Popen([sys.executable, "-m", "verify.cli", "--trust-list", str(trust_list), "--root", str(root),
                             "--registry", registry_url, "serve", "--port", str(port)],
                            env=environ, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            urllib.request.urlopen(base + "/api/v1/health", timeout=1)
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail("the server did not start: " + proc.stderr.read().decode())
            time.sleep(0.05)
    try:
        yield base, port
    finally:
        proc.terminate()
        proc.wait(timeout=10)
