"""Small builders for registry tests (kept out of conftest so subprocesses can import them)."""

from __future__ import annotations

from datetime import date, datetime

from certgen.model import Series
from certgen.registry import Certificate, NewCertificate, Registry


def new_person(name: str, key: str | None = None, expires: date | None = date(2029, 11, 23)) -> NewCertificate:
    return NewCertificate(Series.PERSON, name, "SKM-PTK-03/2024", date(2026, 11, 24), expires,
                          {"holder": name, "scheme": "SKM-PTK-03/2024", "scope": "Pengawas mutu"}, key)


def issue_one(registry: Registry, name: str, now: datetime, *, expires: date | None = date(2029, 11, 23),
              key: str | None = None) -> Certificate:
    cert = registry.reserve([new_person(name, key, expires)], now=now)[0]
    return registry.mark_issued(cert.number, pdf_sha256="ab" * 32, dsc_kid="00" * 8, now=now, actor="tester")
