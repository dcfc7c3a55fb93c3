"""Running the service: uvicorn, one process per worker, each with its own SO_REUSEPORT socket,
and an HTTP protocol that cuts slow and oversized requests off.

With a single shared listening socket, keep-alive connections stay with whichever worker
accepted them first, and one worker can end up with most of them (seen here: half the
throughput in one run out of two). With a socket per worker, the kernel spreads connections
evenly by their address hash.

Limits (verify.web.config.ServerLimits, docs/deploy.md). uvicorn 0.54 with httptools has a
keep-alive timeout but nothing else: no deadline for a request's headers (a client sending a
byte a second keeps its connection, and a worker's file descriptors, forever; so does one that
connects and sends nothing), no limit on header size (an 8 MB header was accepted) and no body
deadline. h11 has `h11_max_incomplete_event_size`, but no timeouts either. So
`limited_http_protocol` subclasses uvicorn's httptools protocol, the one reach into uvicorn's
internals, fenced here (tests/test_server_limits.py runs it against a real server):

* header deadline: from the connection, or from the first byte of a later request on a
  keep-alive connection, to the end of the headers -> 408 and the connection closed;
* body deadline: from the end of the headers to the end of the body -> 408 (or, once the app
  has answered, the connection closed);
* request line over `max_request_line` bytes -> 414; headers over `max_header_bytes` bytes or
  `max_headers` fields -> 431. What httptools buffers of an unfinished header stays within the
  limit plus one read.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
import socket
import sys
from typing import Any

from .config import ServerLimits

APP = "verify.web.app:app_from_env"

#: Seconds a refused connection is kept half-open to read and drop what the client still sends.
LINGER = 2.0
_REASONS = {408: b"Request Timeout", 414: b"URI Too Long", 431: b"Request Header Fields Too Large"}


def _response(status: int, message: str) -> bytes:
    body = message.encode("utf-8")
    return (b"HTTP/1.1 %d %s\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: %d\r\n"
            b"connection: close\r\n\r\n" % (status, _REASONS[status], len(body))) + body


def limited_http_protocol(limits: ServerLimits) -> type:
    """uvicorn's httptools protocol with the limits above."""
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    class LimitedHttpToolsProtocol(HttpToolsProtocol):  # type: ignore[misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._deadline: asyncio.TimerHandle | None = None
            self._in_head = True
            self._began = False
            self._head_bytes = self._line_bytes = self._fields = 0
            self._refusal: tuple[int, str] | None = None
            self._draining = False

        # -- connection ---------------------------------------------------------------
        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm(limits.header_timeout, "headers")

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def data_received(self, data: bytes) -> None:
            if self._draining:
                return  # the refusal is sent; what the client still sends is read and dropped
            self._began = False
            super().data_received(data)
            if self._in_head and not self._began and self.transport is not None and not self.transport.is_closing():
                # a whole read spent inside one request's head: bounds what httptools buffers of
                # an unfinished header line, which on_header only sees once it is complete
                self._head_bytes += len(data)
                if self._head_bytes > limits.max_header_bytes:
                    self._refuse_now(431, f"request headers larger than {limits.max_header_bytes} bytes")

        # -- parser callbacks -----------------------------------------------------------
        def on_message_begin(self) -> None:
            super().on_message_begin()
            self._in_head, self._began = True, True
            self._head_bytes = self._line_bytes = self._fields = 0
            if self._deadline is None:  # a later request on a kept-alive connection
                self._arm(limits.header_timeout, "headers")

        def on_url(self, url: bytes) -> None:
            self._line_bytes += len(url)
            if self._line_bytes > limits.max_request_line:
                self._stop(414, f"request line longer than {limits.max_request_line} bytes")
            super().on_url(url)

        def on_header(self, name: bytes, value: bytes) -> None:
            self._fields += 1
            self._line_bytes += len(name) + len(value) + 4
            if self._line_bytes > limits.max_header_bytes:
                self._stop(431, f"request headers larger than {limits.max_header_bytes} bytes")
            if self._fields > limits.max_headers:
                self._stop(431, f"more than {limits.max_headers} request header fields")
            super().on_header(name, value)

        def on_headers_complete(self) -> None:
            self._in_head = False
            self._disarm()
            super().on_headers_complete()
            if self.cycle is None or self.cycle.response_complete or self.transport.is_closing():
                return
            length = next((v for k, v in self.headers if k == b"content-length"), None)
            chunked = any(k == b"transfer-encoding" for k, _ in self.headers)
            if chunked or (length is not None and length.strip() not in (b"", b"0")):
                self._arm(limits.body_timeout, "body")

        def on_message_complete(self) -> None:
            self._disarm()
            super().on_message_complete()

        def send_400_response(self, msg: str) -> None:
            if self._refusal is not None:  # our own limit stopped the parser: say which
                status, message = self._refusal
                self._refusal = None
                self._write_and_close(status, message)
                return
            super().send_400_response(msg)

        # -- limits ---------------------------------------------------------------------
        def _stop(self, status: int, message: str) -> None:
            """Refuse from inside the parser: raising stops it, uvicorn calls send_400_response."""
            self._refusal = (status, message)
            raise ValueError(message)

        def _refuse_now(self, status: int, message: str) -> None:
            self._write_and_close(status, message)

        def _write_and_close(self, status: int, message: str) -> None:
            self._disarm()
            cycle = self.cycle
            if cycle is not None and not cycle.response_complete:
                if cycle.response_started or self._in_head:
                    # the app is answering (this request, or a pipelined earlier one): a status
                    # line cannot be added, only the connection ended
                    self.transport.close()
                    return
                cycle.disconnected = True  # the app's receive() now says the client left
                cycle.message_event.set()
            self.transport.write(_response(status, message))
            if self.transport.can_write_eof():
                # lingering close, as nginx does: closing with unread input would send a reset,
                # and the client could lose the answer; so half-close, drop what still arrives,
                # and close when the client does or after LINGER seconds
                self.transport.write_eof()
                self._draining = True
                self.loop.call_later(LINGER, self.transport.close)
            else:
                self.transport.close()

        def eof_received(self) -> bool | None:
            if self._draining:
                self.transport.close()
            return super().eof_received()

        def _arm(self, seconds: float, phase: str) -> None:
            self._disarm()
            self._deadline = self.loop.call_later(seconds, self._expired, phase)

        def _disarm(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None

        def _expired(self, phase: str) -> None:
            self._deadline = None
            if self.transport.is_closing():
                return
            if phase == "headers" and self.cycle is not None and not self.cycle.response_complete:
                self.transport.close()  # an earlier (pipelined) response is still being written
                return
            what = "request headers" if phase == "headers" else "request body"
            seconds = limits.header_timeout if phase == "headers" else limits.body_timeout
            self._write_and_close(408, f"the {what} did not arrive within {seconds:g} seconds")

    return LimitedHttpToolsProtocol


def _config(app: str, factory: bool, limits: ServerLimits, **kwargs: Any) -> Any:
    import uvicorn

    # proxy headers are the app's business (verify.web.proxies: only from configured proxies)
    return uvicorn.Config(app, factory=factory, proxy_headers=False, server_header=False, log_level="warning",
                          timeout_keep_alive=limits.keep_alive, http=limited_http_protocol(limits), **kwargs)


def _serve(host: str, port: int, environ: dict[str, str], app: str = APP, factory: bool = True) -> None:
    import uvicorn

    os.environ.update(environ)
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if hasattr(socket, "SO_REUSEPORT"):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(2048)
    config = _config(app, factory, ServerLimits.from_env())
    # the socket object, not its fd: uvicorn takes an fd for a Unix socket and would not set TCP_NODELAY
    uvicorn.Server(config).run(sockets=[sock])


def serve(host: str, port: int, workers: int, proxy_headers: bool = False, app: str = APP, factory: bool = True) -> None:
    """Run `workers` server processes of `app` until interrupted (SIGINT or SIGTERM).
    `proxy_headers` is accepted for compatibility; the app resolves forwarded addresses itself."""
    environ = {k: v for k, v in os.environ.items() if k.startswith(("CERTGEN_", "CERTVERIFY_", "BARE_"))}
    limits = ServerLimits.from_env()  # a bad setting fails here, once, with its name
    if workers == 1 or not hasattr(socket, "SO_REUSEPORT"):
        import uvicorn

        config = _config(app, factory, limits, host=host, port=port, workers=workers)
        if workers == 1:
            uvicorn.Server(config).run()
        else:  # pragma: no cover - only where SO_REUSEPORT is missing
            from uvicorn.supervisors import Multiprocess
            sock = config.bind_socket()
            Multiprocess(config, target=uvicorn.Server(config).run, sockets=[sock]).run()
        return
    ctx = multiprocessing.get_context("spawn")
    children = [ctx.Process(target=_serve, args=(host, port, environ, app, factory), daemon=False)
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
