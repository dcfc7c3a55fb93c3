"""Running the service: uvicorn, one process per worker, each with its own SO_REUSEPORT socket.

With a single shared listening socket, keep-alive connections stay with whichever worker
accepted them first, and one worker can end up with most of them (seen here: half the
throughput in one run out of two). With a socket per worker, the kernel spreads connections
evenly by their address hash.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import socket
import sys


APP = "verify.web.app:app_from_env"


def _serve(host: str, port: int, proxy_headers: bool, environ: dict[str, str], app: str = APP,
           factory: bool = True) -> None:
    import uvicorn

    os.environ.update(environ)
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if hasattr(socket, "SO_REUSEPORT"):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(2048)
    config = uvicorn.Config(app, factory=factory, proxy_headers=proxy_headers,
                            server_header=False, log_level="warning", timeout_keep_alive=5)
    # the socket object, not its fd: uvicorn takes an fd for a Unix socket and would not set TCP_NODELAY
    uvicorn.Server(config).run(sockets=[sock])


def serve(host: str, port: int, workers: int, proxy_headers: bool, app: str = APP, factory: bool = True) -> None:
    """Run `workers` server processes of `app` until interrupted (SIGINT or SIGTERM)."""
    environ = {k: v for k, v in os.environ.items() if k.startswith(("CERTGEN_", "CERTVERIFY_", "BARE_"))}
    if workers == 1 or not hasattr(socket, "SO_REUSEPORT"):
        import uvicorn
        uvicorn.run(app, factory=factory, host=host, port=port, workers=workers,
                    proxy_headers=proxy_headers, server_header=False, log_level="warning", timeout_keep_alive=5)
        return
    ctx = multiprocessing.get_context("spawn")
    children = [ctx.Process(target=_serve, args=(host, port, proxy_headers, environ, app, factory), daemon=False)
                for _ in range(workers)]
    for child in children:
        child.start()

    def stop(signum: int, _frame: object) -> None:
        for child in children:
            if child.is_alive():
                child.terminate()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for child in children:
        child.join()
    sys.exit(0 if all(c.exitcode in (0, -signal.SIGTERM) for c in children) else 1)
