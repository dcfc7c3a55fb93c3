"""The applicant's status page: number and access code in, where the application stands out.

Indonesian first, English with ?lang=en, like the verification pages. The code is posted,
never put in an address. Wrong codes are rate-limited per client address and per application
number (`AttemptLimiter`), and an unknown number and a wrong code get the same answer. Reads go
through `certgen.service.public` (the service's read API); nothing here writes.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from datetime import date
from pathlib import Path
from typing import Any, Callable

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, Field

from certgen.service.applications import Applications
from certgen.service.calendar import WorkingCalendar
from certgen.service.public import PublicStatus, lookup
from certgen.service.rules import ServiceRules

from .i18n import LANGUAGES, MONTHS, TEXT

HERE = Path(__file__).parent

APPLICANT_TEXT: dict[str, dict[str, str]] = {
    "app_title": {"id": "Status permohonan", "en": "Application status"},
    "app_intro": {"id": "Masukkan nomor permohonan dan kode akses yang Anda terima dari Balai Sertifikasi.",
                  "en": "Enter the application number and the access code the Certification Centre gave you."},
    "app_number": {"id": "Nomor permohonan", "en": "Application number"},
    "app_code": {"id": "Kode akses", "en": "Access code"},
    "app_show": {"id": "Lihat status", "en": "Show status"},
    "app_wrong": {"id": "Nomor permohonan atau kode akses salah.", "en": "The application number or access code is wrong."},
    "app_limited": {"id": "Terlalu banyak percobaan yang salah. Coba lagi nanti.",
                    "en": "Too many wrong attempts. Try again later."},
    "app_kind": {"id": "Jenis layanan", "en": "Service"},
    "app_stage": {"id": "Tahap", "en": "Stage"},
    "app_decision": {"id": "Keputusan", "en": "Decision"},
    "granted": {"id": "Diberikan", "en": "Granted"},
    "refused": {"id": "Ditolak", "en": "Refused"},
    "app_clock": {"id": "Waktu layanan (hari kerja)", "en": "Service time (working days)"},
    "app_not_started": {"id": "Belum dimulai: waktu layanan dihitung sejak permohonan lengkap.",
                        "en": "Not started: the service time counts from a complete application."},
    "app_used": {"id": "terpakai", "en": "used"},
    "app_left": {"id": "tersisa", "en": "left"},
    "app_of": {"id": "dari", "en": "of"},
    "app_deadline": {"id": "Batas waktu", "en": "Deadline"},
    "app_paused_now": {"id": "Waktu layanan sedang dihentikan sementara.", "en": "The service clock is paused."},
    "app_pauses": {"id": "Penghentian sementara", "en": "Pauses"},
    "app_until_now": {"id": "sekarang", "en": "now"},
    "app_certificates": {"id": "Sertifikat yang diterbitkan", "en": "Certificates issued"},
    "app_reported": {"id": "Hasil dilaporkan", "en": "Result reported"},
    "app_late": {"id": "Terlambat", "en": "Late by"},
    "app_days": {"id": "hari kerja", "en": "working days"},
    "app_letter": {"id": "Surat permohonan maaf", "en": "Apology letter"},
    "app_credit": {"id": "Surat permohonan maaf yang digunakan (waktu layanan satu hari lebih singkat)",
                   "en": "Apology letter redeemed (one working day less)"},
}

#: Wrong attempts allowed per client address (per window) and per application number.
PER_CLIENT, PER_NUMBER, WINDOW_SECONDS = 5, 20, 15 * 60


class AttemptLimiter:
    """Failed attempts in a sliding window, per key; bounded memory (oldest keys dropped)."""

    def __init__(self, limit: int, window: float, clock: Callable[[], float] = time.monotonic, keys: int = 100_000) -> None:
        self.limit, self.window, self.clock, self.keys = limit, window, clock, keys
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def blocked(self, key: str) -> bool:
        times = self._failures.get(key)
        if not times:
            return False
        cutoff = self.clock() - self.window
        while times and times[0] <= cutoff:
            times.popleft()
        return len(times) >= self.limit

    def failed(self, key: str) -> None:
        times = self._failures.setdefault(key, deque())
        self._failures.move_to_end(key)
        times.append(self.clock())
        if len(self._failures) > self.keys:
            self._failures.popitem(last=False)


class StatusIn(BaseModel):
    number: str = Field(min_length=1, max_length=40)
    code: str = Field(min_length=1, max_length=40)


def applicant_router(service: Any, clock: Callable[[], float] = time.monotonic,
                     rules: ServiceRules | None = None, calendar: WorkingCalendar | None = None) -> APIRouter:
    """Routes /permohonan (form and page) and /api/v1/application (JSON), over `service.registry`."""
    router = APIRouter()
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    templates.env.auto_reload = False  # packaged templates: no file check per page
    per_client = AttemptLimiter(PER_CLIENT, WINDOW_SECONDS, clock)
    per_number = AttemptLimiter(PER_NUMBER, WINDOW_SECONDS, clock)
    state: dict[str, Applications] = {}

    def apps() -> Applications:
        if service.registry is None:
            raise HTTPException(503, "application status is not available: no registry is configured")
        if "apps" not in state:
            state["apps"] = Applications(service.registry, rules or ServiceRules.load(), calendar or WorkingCalendar())
        return state["apps"]

    def lang_of(request: Request) -> str:
        lang = request.query_params.get("lang") or request.cookies.get("lang") or "id"
        return lang if lang in LANGUAGES else "id"

    def page(request: Request, status: int = 200, **context: Any) -> HTMLResponse:
        lang = lang_of(request)
        text = {k: v[lang] for k, v in {**TEXT, **APPLICANT_TEXT}.items()}
        return templates.TemplateResponse(request, "applicant.html", {"t": text, "lang": lang, "other": "en" if lang == "id" else "id",
                                                                      **context}, status_code=status)

    def client_of(request: Request) -> str:
        """The client address as the hardening middleware sees it (X-Forwarded-For behind a trusted proxy)."""
        config = getattr(service, "config", None)
        if config is not None and getattr(config, "trust_forwarded_for", False):
            forwarded = request.headers.get("x-forwarded-for")
            if forwarded:
                return forwarded.split(",")[0].strip()
        return request.client.host if request.client else "-"

    def check(request: Request, number: str, code: str) -> PublicStatus | str:
        client = client_of(request)
        key = "".join(number.split()).upper()[:40]
        if per_client.blocked(client) or per_number.blocked(key):
            return "limited"
        found = lookup(apps(), number, code, service.now())
        if found is None:
            per_client.failed(client)
            per_number.failed(key)
            return "wrong"
        return found

    @router.get("/permohonan", response_class=HTMLResponse, include_in_schema=False)
    def form(request: Request) -> HTMLResponse:
        return page(request)

    @router.post("/permohonan", response_class=HTMLResponse, include_in_schema=False)
    def status_page(request: Request, number: str = Form(..., max_length=40), code: str = Form(..., max_length=40)) -> HTMLResponse:
        lang = lang_of(request)
        found = check(request, number, code)
        if found == "limited":
            return page(request, 429, error=APPLICANT_TEXT["app_limited"][lang], number=number[:40])
        if found == "wrong":
            return page(request, 403, error=APPLICANT_TEXT["app_wrong"][lang], number=number[:40])
        return page(request, status=200, app=_view(found, lang))  # type: ignore[arg-type]

    @router.post("/api/v1/application", tags=["applications"], summary="An application's status (number and access code)")
    def status_api(request: Request, body: StatusIn) -> JSONResponse:
        found = check(request, body.number, body.code)
        if found == "limited":
            return JSONResponse({"error": "too many wrong attempts; try again later"}, status_code=429)
        if found == "wrong":
            return JSONResponse({"error": "the application number or access code is wrong"}, status_code=403)
        return JSONResponse(status_json(found))  # type: ignore[arg-type]

    return router


def _day(value: date | None, lang: str) -> str | None:
    return None if value is None else f"{value.day} {MONTHS[lang][value.month - 1]} {value.year}"


def _view(s: PublicStatus, lang: str) -> dict[str, Any]:
    return {
        "number": s.number, "kind": s.kind(lang), "stage": s.stage_label(lang),
        "decision": APPLICANT_TEXT[s.decision][lang] if s.decision in ("granted", "refused") else None,
        "started": s.started is not None, "allowed": s.allowed, "used": s.used, "left": max(s.left, 0),
        "deadline": _day(s.deadline, lang), "paused": s.paused,
        "pauses": [(p.reason(lang), _day(p.start, lang), _day(p.end, lang)) for p in s.pauses],
        "certificates": list(s.certificates), "reported": _day(s.reported, lang), "days_late": s.days_late,
        "apology_letter": s.apology_letter, "credit_letter": s.credit_letter,
    }


def status_json(s: PublicStatus) -> dict[str, Any]:
    iso = lambda d: d.isoformat() if d else None  # noqa: E731
    return {
        "number": s.number, "kind": {"id": s.kind.id, "en": s.kind.en}, "stage": s.stage,
        "stage_label": {"id": s.stage_label.id, "en": s.stage_label.en}, "decision": s.decision,
        "clock": {"allowed": s.allowed, "started": iso(s.started), "used": s.used, "left": s.left,
                  "deadline": iso(s.deadline), "paused": s.paused, "late": s.late, "days_late": s.days_late},
        "pauses": [{"reason": {"id": p.reason.id, "en": p.reason.en}, "from": iso(p.start), "to": iso(p.end)} for p in s.pauses],
        "certificates": list(s.certificates), "reported": iso(s.reported), "apology_letter": s.apology_letter,
        "credit_letter": s.credit_letter,
    }
