"""One ASGI middleware for the service's hardening: security headers on every response, an
upload size limit, a per-client rate limit and a request timeout. Pure ASGI (not Starlette's
BaseHTTPMiddleware), so it costs microseconds per request."""

from __future__ import annotations

import asyncio
import json
import time
from collections import OrderedDict
from typing import Any, Awaitable, Callable

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


class Guard:
    def __init__(self, app: Any, *, max_body: int, per_minute: int, timeout: float, trust_forwarded_for: bool,
                 clients: int = 100_000) -> None:
        self.app = app
        self.max_body = max_body
        self.per_minute = per_minute
        self.timeout = timeout
        self.trust_forwarded_for = trust_forwarded_for
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # client -> (tokens, last time)
        self._clients = clients

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_with_headers(message: dict[str, Any]) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message["headers"] = list(message.get("headers", [])) + SECURITY_HEADERS
            await send(message)

        if self.per_minute and not self._allow(self._client(scope)):
            await _plain(send_with_headers, scope, 429, "too many requests: wait a minute and try again",
                         [(b"retry-after", b"60")])
            return
        length = _header(scope, b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_body:
            await _plain(send_with_headers, scope, 413, f"the upload is larger than {self.max_body // 2**20} MiB")
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

    def _client(self, scope: Scope) -> str:
        if self.trust_forwarded_for:
            forwarded = _header(scope, b"x-forwarded-for")
            if forwarded:
                return forwarded.split(",")[0].strip()
        client = scope.get("client")
        return client[0] if client else "unknown"

    def _allow(self, client: str) -> bool:
        """Token bucket: `per_minute` tokens, refilled continuously."""
        now = time.monotonic()
        capacity = float(self.per_minute)
        tokens, last = self._buckets.pop(client, (capacity, now))
        tokens = min(capacity, tokens + (now - last) * capacity / 60.0)
        allowed = tokens >= 1.0
        self._buckets[client] = (tokens - 1.0 if allowed else tokens, now)
        if len(self._buckets) > self._clients:
            self._buckets.popitem(last=False)
        return allowed


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
