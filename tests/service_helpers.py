"""Shared helpers of the service-standard tests: a register over a fresh registry, times in WIB."""

from __future__ import annotations

import hashlib
from datetime import date, datetime, time

from certgen.registry.lifecycle import WIB
from certgen.service.applications import Applications, Document
from certgen.service.calendar import WorkingCalendar
from certgen.service.rules import ServiceRules

PDF = b"%PDF-1.4\n% test document\n"


def at(day: date | str, hour: int = 10, minute: int = 0) -> datetime:
    """A moment in Jakarta on `day`."""
    if isinstance(day, str):
        day = date.fromisoformat(day)
    return datetime.combine(day, time(hour, minute), WIB)


def document(name: str = "letter.pdf", body: bytes = PDF) -> Document:
    return Document(name, hashlib.sha256(body + name.encode()).hexdigest(), len(body), "application/pdf")


def register(registry, on_change=None) -> Applications:
    return Applications(registry, ServiceRules.load(), WorkingCalendar(), on_change)


def closed_application(apps, client: str, start: str, reported: str, *, kind: str = "product-type1",
                       client_id: str | None = None, decider: str = "kepala"):
    """An application taken through every stage by the library, its result reported on `reported`."""
    from certgen.service.applications import NewApplication

    a, code = apps.new(NewApplication(kind, client, "website", client_id=client_id), now=at(start, 8), actor="ana")
    apps.attach(a.number, document(f"{a.number}.pdf"), now=at(start, 8), actor="ana")
    for condition in apps.rules.kind(kind).starts_when:
        apps.condition(a.number, condition, now=at(start, 9), actor="ana")
    apps.payment(a.number, now=at(start, 10), actor="ana")
    apps.paid(a.number, now=at(start, 11), actor="ana")
    apps.execution(a.number, now=at(start, 12), actor="budi")
    apps.evaluate(a.number, "evaluation", now=at(start, 13), actor="budi")
    apps.decide(a.number, True, now=at(reported, 8), actor=decider)
    return apps.link_certificates(a.number, ["P1-2026-000001-X"], now=at(reported, 9), actor="ana"), code
