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
