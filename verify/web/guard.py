"""One ASGI middleware for the service's hardening: security headers on every response, HEAD
answered wherever GET is, an upload size limit, the shared rate limit (verify.web.ratelimit),
the bounded upload pool (refused at once when full) and a request timeout. Pure ASGI (not
Starlette's BaseHTTPMiddleware), so it costs microseconds per request.

The client address is `scope["client"]`: behind a trusted proxy, uvicorn's
ProxyHeadersMiddleware (applied by `create_app` for the configured proxies only) has already
put the right-most address that is not one of those proxies there."""

from __future__ import annotations

import asyncio
import json
from typing import Any, Awaitable, Callable

from .pool import UploadPool
from .ratelimit import RateLimiter

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

SECURITY_HEADERS = [
    (b"content-security-policy", b"default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
                                 b"form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"strict-transport-security", b"max-age=31536000"),
]


class _TooLarge(Exception):
    pass


#: Paths not counted by the rate limit: static files a page view pulls in.
UNCOUNTED = ("/static/", "/favicon.ico")
#: Requests that run in the bounded upload pool.
UPLOADS = {"/upload", "/api/v1/upload"}


class Guard:
    def __init__(self, app: Any, *, max_body: int, timeout: float, limiter: RateLimiter | None = None,
                 uploads: UploadPool | None = None,
                 fast: Callable[[Scope, Send], Awaitable[bool]] | None = None) -> None:
        self.app = app
        #: Answers some requests itself, after the limits and inside the headers (verify.web.fast).
        self.fast = fast
        self.max_body = max_body
        self.timeout = timeout
        self.limiter = limiter
        self.uploads = uploads

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False
        head = scope.get("method") == "HEAD"
        if head:  # answered as GET without the body: HEAD works wherever GET does (RFC 9110 9.3.2)
            scope = dict(scope, method="GET")

        async def send_with_headers(message: dict[str, Any]) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message["headers"] = list(message.get("headers", [])) + SECURITY_HEADERS
            elif head and message["type"] == "http.response.body":
                message = dict(message, body=b"")
            await send(message)

        path = scope.get("path", "")
        if self.limiter is not None and not path.startswith(UNCOUNTED):
            client = scope.get("client")
            key = client[0] if client else "unknown"
            decision = self.limiter.hit(key)
            if decision == RateLimiter.SYNC:
                decision = await self.limiter.sync(key)
            if decision == RateLimiter.DENY:
                wait = self.limiter.retry_after()
                await _plain(send_with_headers, scope, 429, f"too many requests: try again in {wait} seconds",
                             [(b"retry-after", str(wait).encode())])
                return
        if self.uploads is not None and path in UPLOADS and scope.get("method") == "POST" and self.uploads.full:
            # refused before the body is read: no one waits 20 s for a slot
            await _plain(send_with_headers, scope, 503, "the service is busy checking other files; please try again "
                         f"in {self.uploads.retry_after} seconds", [(b"retry-after", str(self.uploads.retry_after).encode())])
            return
        length = _header(scope, b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_body:
            await _plain(send_with_headers, scope, 413, f"the upload is larger than {self.max_body // 2**20} MiB")
            return
        if self.fast is not None and await self.fast(scope, send_with_headers):
            return
        received = 0

        async def limited_receive() -> dict[str, Any]:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body:
                    raise _TooLarge()
            return message

        try:
            await asyncio.wait_for(self.app(scope, limited_receive, send_with_headers), self.timeout)
        except _TooLarge:
            if not started:
                await _plain(send_with_headers, scope, 413, f"the upload is larger than {self.max_body // 2**20} MiB")
        except asyncio.TimeoutError:
            if not started:
                await _plain(send_with_headers, scope, 503, "the check took too long; please try again")


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1")
    return None


async def _plain(send: Send, scope: Scope, status: int, message: str, extra: list[tuple[bytes, bytes]] | None = None) -> None:
    if scope.get("path", "").startswith("/api/"):
        body = json.dumps({"error": message}).encode()
        kind = b"application/json"
    else:
        body = (f"<!doctype html><html lang=\"id\"><head><meta charset=\"utf-8\"><title>{status}</title>"
                f"<link rel=\"stylesheet\" href=\"/static/style.css\"></head><body><main class=\"page\">"
                f"<h1>{status}</h1><p>{message}</p><p><a href=\"/\">Verifikasi Sertifikat</a></p></main></body></html>").encode()
        kind = b"text/html; charset=utf-8"
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", kind), (b"content-length", str(len(body)).encode())] + (extra or [])})
    await send({"type": "http.response.body", "body": body})
