"""The public pages `/v/<seal>` and `/n?number=` below the framework's per-request costs, and
their rendered pages cached per certificate and version (docs/deploy.md, "Changes live").

`FastPages` is the hook `Guard` calls after its limits (rate limit, body size) and inside its
security headers and HEAD handling, so those stay the guard's own. For a plain GET of those two
paths it answers itself: the same language negotiation (`lang_of`), the same verification and
the same page function (`render`, the framework route's own) as the FastAPI route, without the
framework's routing, dependency solving and middleware. Anything else, or anything unexpected
while building the page, is left to the framework, which answers as it always did.
tests/test_fast_pages.py proves the responses byte-identical (status, headers, body).

A page is kept when it can only change through a registry event or a trust list: the seal
opened with a known signer (or the number was well formed) and the registry answered. It is
dropped when its certificate has a new event, when its signer's trust list entry changes, on a
new local day (expiry is judged by the day) or after `max_age` seconds. Every request first
lets `LiveState` check the versions (throttled), also the framework's.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import date
from typing import Any, Awaitable, Callable

from starlette.requests import Request

from certgen.registry.lifecycle import local_day

from ..live import Invalidation, LiveState
from ..report import Outcome, VerificationReport
from .i18n import LANGUAGES

log = logging.getLogger("certverify.fast")
Send = Callable[[dict[str, Any]], Awaitable[None]]
#: Rendered pages a worker keeps (about 4 KB each).
PAGE_CACHE_SIZE = 4096
_BODY_HEADERS = (b"content-length", b"transfer-encoding")


@dataclass(frozen=True)
class Page:
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes
    #: What invalidates it: the certificate number, the seal's signer, the local day it was made.
    number: str
    kid: bytes | None
    day: date
    made: float


class PageCache:
    """Rendered pages by (path kind, text, language, cookie set), least recently used out."""

    def __init__(self, size: int = PAGE_CACHE_SIZE, max_age: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.size = size
        self.max_age = max_age
        self.clock = clock
        self._pages: "OrderedDict[tuple, Page]" = OrderedDict()
        self._by_number: dict[str, set[tuple]] = {}

    def get(self, key: tuple, day: date) -> Page | None:
        page = self._pages.get(key)
        if page is None:
            return None
        if page.day != day or self.clock() - page.made >= self.max_age:
            self._remove(key)
            return None
        self._pages.move_to_end(key)
        return page

    def put(self, key: tuple, page: Page) -> None:
        if not self.size:
            return
        self._remove(key)
        self._pages[key] = page
        self._by_number.setdefault(page.number, set()).add(key)
        while len(self._pages) > self.size:
            self._remove(next(iter(self._pages)))

    def drop(self, change: Invalidation) -> None:
        if change.all_numbers or change.all_seals:
            self._pages.clear()
            self._by_number.clear()
            return
        for number in change.numbers:
            for key in self._by_number.pop(number, ()):
                self._pages.pop(key, None)
        if change.kids:
            for key in [k for k, p in self._pages.items() if p.kid is not None and p.kid in change.kids]:
                self._remove(key)

    def _remove(self, key: tuple) -> None:
        page = self._pages.pop(key, None)
        if page is not None:
            keys = self._by_number.get(page.number)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self._by_number[page.number]

    @property
    def count(self) -> int:
        """Pages kept now."""
        return len(self._pages)


class FastPages:
    """The hook (see the module docstring). `render(request, reports)` is the framework route's
    page function; `lang_of(request)` its language negotiation."""

    def __init__(self, service: Any, *, render: Callable[[Request, list[VerificationReport]], Any],
                 lang_of: Callable[[Request], str], cache: PageCache | None, live: LiveState | None,
                 enabled: bool = True) -> None:
        self.service = service
        self.render = render
        self.lang_of = lang_of
        self.cache = cache
        self.live = live
        self.enabled = enabled
        #: Requests answered here (the rest went to the framework).
        self.answered = 0

    async def __call__(self, scope: dict[str, Any], send: Send) -> bool:
        """True when the request was answered here."""
        if self.live is not None:
            self.live.poll()
        if not self.enabled or scope["method"] != "GET" or scope.get("root_path"):
            return False
        path = scope["path"]
        if path[:3] in ("/v/", "/V/"):
            code = path[3:]
            if not code or "/" in code:
                return False  # the framework's 404 or slash redirect
        elif path == "/n":
            code = None
        else:
            return False
        if any(name in _BODY_HEADERS for name, _ in scope["headers"]):
            return False  # a GET with a body: left to the framework
        try:
            page = self._page(scope, code)
        except Exception:  # the framework path answers, as it would have (the same page or its error page)
            log.exception("fast page failed; answered by the framework")
            return False
        if page is None:
            return False
        self.answered += 1
        await send({"type": "http.response.start", "status": page[0], "headers": page[1]})
        await send({"type": "http.response.body", "body": page[2]})
        return True

    def _page(self, scope: dict[str, Any], code: str | None) -> tuple[int, list, bytes] | None:
        request = None
        if not scope["query_string"] and not any(name == b"cookie" for name, _ in scope["headers"]):
            lang, cookie = "id", False  # what lang_of answers without a query or a cookie
        else:
            request = Request(scope)
            lang, cookie = self.lang_of(request), request.query_params.get("lang") in LANGUAGES
        if code is None:
            request = request or Request(scope)
            number = request.query_params.get("number", "")
            if not number.strip():
                return None  # the framework's redirect home
            key: tuple = ("n", number[:60], lang, cookie)
        else:
            key = ("v", code, lang, cookie)
        service = self.service
        day = local_day(service.now())
        cache = self.cache
        if cache is not None:
            cached = cache.get(key, day)
            if cached is not None:
                return cached.status, cached.headers, cached.body
        verifier = service.verifier
        report = verifier.verify_seal(code) if code is not None else verifier.verify_number(number[:60])
        response = self.render(request or Request(scope), [report])
        page = (response.status_code, response.raw_headers, response.body)
        if cache is not None and _keepable(report, verifier):
            kid = None
            if code is not None:
                opened = verifier.cached_seal(code)
                if opened is None:
                    return page  # its signer is not known here: not kept
                kid = opened.kid
            number = report.certificate.number
            age = getattr(service.status, "age", None)  # a page is as old as the kept record it shows
            made = cache.clock() - (age(number) if age is not None else 0.0)
            cache.put(key, Page(page[0], page[1], page[2], number, kid, day, made))
        return page


def _keepable(report: VerificationReport, verifier: Any) -> bool:
    """A page that only a registry event or a trust list can change: the registry answered about a
    known certificate and no check was left undecided."""
    return (report.certificate is not None and verifier.log is None
            and all(c.outcome is not Outcome.INDETERMINATE for c in report.checks))
