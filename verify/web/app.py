"""The ASGI application (FastAPI + Jinja2). `create_app(config)` builds it; uvicorn runs it
through `app_from_env` (a factory) so that every worker process builds its own."""

from __future__ import annotations

import hashlib
from contextlib import asynccontextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, AsyncIterator, Callable

from cryptography import x509
from fastapi import FastAPI, File, Form, HTTPException, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from certgen.errors import RegistryError
from certgen.registry.cards import card_editions
from certgen.registry.counters import SharedCounters
from certgen.registry.reports import ReportCaps, ReportInputError, ReportLimitError, day_window
from certgen.trust import TrustList

from ..formats import report_json
from ..report import VerificationReport
from ..isolation import SandboxPool
from ..service import Verifier
from certgen.seal import is_print_sheet
from ..live import LiveRegistryStatus, LiveState
from .config import WebConfig, parse_proxies
from .fast import FastPages, PageCache
from .guard import Guard
from .i18n import LANGUAGES, TEXT
from .pool import PoolFull, UploadPool
from .log_routes import log_router
from .applicant_routes import applicant_router
from .present import view
from .ratelimit import RateLimiter

HERE = Path(__file__).parent
API = "/api/v1"


class ReportIn(BaseModel):
    message: str = Field(min_length=1, max_length=2000, description="what is suspicious")
    number: str | None = Field(default=None, max_length=40)
    seal: str | None = Field(default=None, max_length=4096)
    contact: str | None = Field(default=None, max_length=200)


class SealIn(BaseModel):
    text: str = Field(min_length=1, max_length=4096, description="barcode text: the seal address or its code")


class Service:
    """What the routes share: the verifier, the registry, the trust list bytes and their ETag."""

    def __init__(self, config: WebConfig, now: Callable[[], datetime]) -> None:
        self.config = config
        self.now = now
        root = x509.load_pem_x509_certificate(config.root.read_bytes())
        self.trust_bytes = config.trust_list.read_bytes()
        self.trust = TrustList.load_signed(self.trust_bytes, root)
        self.trust_etag = '"' + hashlib.sha256(self.trust_bytes).hexdigest()[:32] + '"'
        self.status = (LiveRegistryStatus.open(config.registry_url, now, max_age=config.cache_seconds)
                       if config.registry_url else None)
        self.verifier = Verifier(self.trust, self.status, root, now)
        #: Rendered public pages (verify.web.fast) and the registry's version check (verify.live).
        self.pages = PageCache(config.page_cache, config.cache_seconds) if config.page_cache else None
        self.live = None
        if self.status is not None:
            listeners = [self.status] + ([self.pages] if self.pages is not None else [])
            self.live = LiveState(self.status.registry, root, self.trust_bytes, self.trust, interval=config.live_interval,
                                  on_trust=self.use_trust, listeners=listeners, timeout=config.live_timeout,
                                  background=True)
            self.status.unanswered = lambda: self.live is not None and self.live.stalled
            self.live.poll(force=True)
            self.live.wait()  # the first check before the first request, at most `live_timeout` seconds
        self.uploads = UploadPool(config.upload_slots)
        #: One child process per upload slot, where the files are parsed within `check_seconds`.
        self.sandboxes = SandboxPool(config.upload_slots, config.check_seconds, config.fast_jpeg)
        self.verifier.isolation = self.sandboxes
        self.caps = ReportCaps(config.reports_per_address, config.reports_per_certificate, config.reports_per_day)
        #: Addresses that reached their complaint cap, by the day window: refused here without
        #: asking the database again until the day ends.
        self.complaints_refused: dict[str, int] = {}

    def use_trust(self, data: bytes, trust: TrustList, changed_kids: frozenset[bytes] | None) -> None:
        """A newer root-signed trust list from the registry (verify.live): verify and publish with it."""
        self.verifier.use_trust(trust, changed_kids)
        self.trust_bytes, self.trust = data, trust
        self.trust_etag = '"' + hashlib.sha256(data).hexdigest()[:32] + '"'

    @property
    def registry(self):
        return self.status.registry if self.status else None


def create_app(config: WebConfig, now: Callable[[], datetime] | None = None) -> Any:
    """The service, wrapped in the hardening middleware."""
    service = Service(config, now or (lambda: datetime.now(timezone.utc)))

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        service.sandboxes.close()  # the upload checks' child processes end with the server
        service.uploads.close()

    app = FastAPI(title="Certificate verification API", version="1", docs_url=None, redoc_url=None,
                  openapi_url=f"{API}/openapi.json", lifespan=lifespan)
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    # the templates ship with the package and never change while it runs: no file check per page
    templates.env.auto_reload = False
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    def lang_of(request: Request) -> str:
        lang = request.query_params.get("lang") or request.cookies.get("lang") or "id"
        return lang if lang in LANGUAGES else "id"

    def page(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
        lang = lang_of(request)
        other = "en" if lang == "id" else "id"
        text = {k: v[lang] for k, v in TEXT.items()}
        response = templates.TemplateResponse(request, name, {"t": text, "lang": lang, "other": other, **context},
                                              status_code=status)
        if request.query_params.get("lang") in LANGUAGES:
            response.set_cookie("lang", lang, max_age=31536000, samesite="lax", httponly=True)
        return response

    def result_page(request: Request, reports: list[VerificationReport]) -> HTMLResponse:
        lang = lang_of(request)
        return page(request, "result.html", results=[view(r, lang) for r in reports])

    # -- pages -----------------------------------------------------------------------------
    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def home(request: Request) -> HTMLResponse:
        return page(request, "home.html")

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> Response:
        return RedirectResponse("/static/favicon.svg", status_code=301)

    # The seal page and the look-ups are short CPU work (well under a millisecond): run them on
    # the event loop (async def) rather than paying a thread-pool hop per request.
    @app.get("/v/{code}", response_class=HTMLResponse, include_in_schema=False)
    @app.get("/V/{code}", response_class=HTMLResponse, include_in_schema=False)  # an all-upper-case seal address
    async def seal_page(request: Request, code: str) -> HTMLResponse:
        return result_page(request, [service.verifier.verify_seal(code)])

    @app.get("/n", response_class=HTMLResponse, include_in_schema=False)
    async def number_page(request: Request, number: str = "") -> HTMLResponse:
        if not number.strip():
            return RedirectResponse("/", status_code=303)
        return result_page(request, [service.verifier.verify_number(number[:60])])

    @app.post("/upload", response_class=HTMLResponse, include_in_schema=False)
    async def upload_page(request: Request, file: UploadFile = File(...)) -> HTMLResponse:
        return result_page(request, await _verify_upload(service, file))

    @app.get("/report", response_class=HTMLResponse, include_in_schema=False)
    def report_form(request: Request, number: str = "", seal: str = "") -> HTMLResponse:
        return page(request, "report.html", number=number[:40], seal=seal[:4096])

    @app.post("/report", response_class=HTMLResponse, include_in_schema=False)
    def report_send(request: Request, message: str = Form(..., max_length=2000), number: str = Form("", max_length=40),
                    seal: str = Form("", max_length=4096), contact: str = Form("", max_length=200)) -> HTMLResponse:
        stored = _store_report(service, ReportIn(message=message, number=number or None, seal=seal or None,
                                                 contact=contact or None), _client(request))
        return page(request, "thanks.html", report_id=stored["id"])

    # -- API -------------------------------------------------------------------------------
    @app.get(f"{API}/seal/{{code}}", tags=["verify"], summary="Verify a seal (the code after /v/ in the barcode)")
    async def api_seal(code: str) -> JSONResponse:
        return JSONResponse(report_json(service.verifier.verify_seal(code)))

    @app.post(f"{API}/seal", tags=["verify"], summary="Verify a seal given as barcode text")
    async def api_seal_text(body: SealIn) -> JSONResponse:
        return JSONResponse(report_json(service.verifier.verify_seal(body.text)))

    @app.get(f"{API}/number/{{number}}", tags=["verify"], summary="Look a certificate number up")
    async def api_number(number: str) -> JSONResponse:
        return JSONResponse(report_json(service.verifier.verify_number(number[:60])))

    @app.post(f"{API}/upload", tags=["verify"], summary="Verify a photo (PNG, JPEG, WebP) or a PDF")
    async def api_upload(file: UploadFile = File(...)) -> JSONResponse:
        return JSONResponse([report_json(r) for r in await _verify_upload(service, file)])

    @app.get(f"{API}/trustlist", tags=["trust"], summary="The signed trust list (docs/keys.md)")
    def api_trustlist(request: Request) -> Response:
        headers = {"ETag": service.trust_etag, "Cache-Control": "public, max-age=300"}
        if request.headers.get("if-none-match") == service.trust_etag:
            return Response(status_code=304, headers=headers)
        return Response(service.trust_bytes, media_type="application/json", headers=headers)

    @app.get(f"{API}/status-list", tags=["trust"], summary="Certificates that are suspended, withdrawn or replaced")
    def api_status_list(request: Request) -> Response:
        if service.registry is None:
            raise HTTPException(404, "no registry is configured")
        seq, head = service.registry.head()
        etag = f'"{head[:32]}"'
        headers = {"ETag": etag, "Cache-Control": "public, max-age=60"}
        if request.headers.get("if-none-match") == etag:
            return Response(status_code=304, headers=headers)
        items = [{"number": n, "status": s, "since": since.isoformat(), "reason": reason, "replaced_by": succ}
                 for n, s, since, reason, succ in service.registry.status_list()]
        cards = [{"number": n, "card_edition": edition, "card_seal_sha256": digest}
                 for n, edition, digest in card_editions(service.registry)]
        body = {"format": "certverify-status-list/1", "generated_at": service.now().isoformat(),
                "log": {"events": seq, "head": head}, "certificates": items, "cards": cards}
        return JSONResponse(body, headers=headers)

    @app.post(f"{API}/reports", status_code=201, tags=["reports"], summary="Report a suspicious certificate")
    def api_report(request: Request, body: ReportIn) -> dict[str, Any]:
        return _store_report(service, body, _client(request))

    @app.get(f"{API}/health", tags=["service"], summary="Liveness and readiness")
    def api_health() -> JSONResponse:
        registry = "none"
        if service.live is not None and service.live.stalled:
            registry = "unavailable"  # a version check is waiting for it: do not wait too
        elif service.registry is not None:
            try:
                service.registry.head()
                registry = "ok"
            except Exception:
                registry = "unavailable"
        outdated = service.live is not None and service.live.outdated
        code = 503 if registry == "unavailable" or outdated else 200
        body = {"status": "ok" if code == 200 else "degraded", "registry": registry,
                "trust_list_signers": len(service.trust.signers)}
        if service.live is not None:
            body["trust_list"] = service.live.health()  # the list in use, and the newest the log names
            if service.live.problem:
                body["trust_list_problem"] = service.live.problem
        return JSONResponse(body, status_code=code)

    app.include_router(log_router(service))  # the transparency log (verify/web/log_routes.py)
    app.include_router(applicant_router(service))  # the applicant's status page (docs/service.md)

    # -- errors: a clear page or JSON, never a stack trace ------------------------------------
    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        response = _error(request, exc.status_code, str(exc.detail))
        response.headers.update(exc.headers or {})
        return response

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path"))
        return _error(request, 422, f"{where}: {first.get('msg', 'invalid input')}" if where else "invalid input")

    @app.exception_handler(Exception)
    async def crash(request: Request, exc: Exception) -> Response:
        return _error(request, 500, "an internal error occurred; it has been logged")

    def _error(request: Request, status: int, message: str) -> Response:
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": message}, status_code=status)
        return page(request, "error.html", status=status, status_code=status, message=message)

    limiter = None
    if config.rate_limit_per_minute:
        store = SharedCounters(service.registry.engine) if service.registry is not None else None
        # the service's clock (frozen in tests: a run never straddles two windows)
        limiter = RateLimiter(config.rate_limit_per_minute, store=store, flush_every=config.rate_limit_flush_seconds,
                              clock=lambda: service.now().timestamp())
    fast = FastPages(service, render=result_page, lang_of=lang_of, cache=service.pages, live=service.live,
                     enabled=config.fast_pages)
    guarded: Any = Guard(app, max_body=config.max_upload_bytes, timeout=config.request_timeout_seconds,
                         limiter=limiter, uploads=service.uploads, fast=fast)
    if config.proxies:
        from .proxies import forwarded_client
        guarded = forwarded_client(guarded, parse_proxies(",".join(config.proxies)))
    return guarded


def _client(request: Request) -> str | None:
    """The sending address (the proxies' X-Forwarded-For already resolved, see create_app)."""
    return request.client.host if request.client else None


async def _verify_upload(service: Service, file: UploadFile) -> list[VerificationReport]:
    data = await file.read(service.config.max_upload_bytes + 1)
    if len(data) > service.config.max_upload_bytes:
        raise HTTPException(413, f"the upload is larger than {service.config.max_upload_bytes // 2**20} MiB")
    if not data:
        raise HTTPException(400, "the uploaded file is empty")
    name = Path(file.filename or "upload").name[:120]
    try:
        if is_print_sheet(data):  # unsigned, several cards: each card's seal, as `certverify pdf` does
            return await service.uploads.run(service.verifier.verify_print_pdf, data, name)
        if data.startswith(b"%PDF-"):
            return [await service.uploads.run(service.verifier.verify_pdf, data, name)]
        return await service.uploads.run(service.verifier.verify_image, data, name)
    except PoolFull:
        wait = service.uploads.retry_after
        raise HTTPException(503, f"the service is busy checking other files; please try again in {wait} seconds",
                            headers={"Retry-After": str(wait)}) from None


def _store_report(service: Service, body: ReportIn, client: str | None) -> dict[str, Any]:
    if service.registry is None:
        raise HTTPException(503, "reports cannot be stored: no registry is configured")
    window, left = day_window(service.now())
    if client is not None and service.complaints_refused.get(client) == window:
        raise HTTPException(429, "too many reports from your address today; please try again tomorrow",
                            headers={"Retry-After": str(left)})
    verdict, certificate = None, body.number
    if body.seal:
        report = service.verifier.verify_seal(body.seal)
        verdict = report.verdict.value
        certificate = (report.claims or {}).get("number") or certificate
    elif body.number:
        verdict = service.verifier.verify_number(body.number).verdict.value
    try:
        stored = service.registry.add_report(message=body.message, number=body.number, seal=body.seal,
                                             verdict=verdict, contact=body.contact, now=service.now(), client=client,
                                             certificate=certificate, caps=service.caps)
    except ReportInputError as exc:
        raise HTTPException(422, str(exc)) from None
    except ReportLimitError as exc:
        if exc.cap == "address" and client is not None:
            if len(service.complaints_refused) > 100_000:
                service.complaints_refused.clear()
            service.complaints_refused[client] = window
        raise HTTPException(429, str(exc), headers={"Retry-After": str(exc.retry_after)}) from None
    except RegistryError as exc:
        raise HTTPException(400, str(exc)) from None
    return {"id": stored.id, "status": stored.status, "verdict": verdict}


def app_from_env() -> Any:
    """Factory for uvicorn (`--factory`): settings from the environment (docs/deploy.md)."""
    return create_app(WebConfig.from_env())


__all__ = ["create_app", "app_from_env"]
