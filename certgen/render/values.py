"""What each field of a record prints as: dates in Indonesian, bilingual scheme types, periods.

Shared by the renderers and by the intake's "too long for the layout" check, so that both
see exactly the same text.
"""

from __future__ import annotations

from datetime import date
from typing import Union

from ..model import PersonRecord, Record, TrainingRecord
from .templates import Bilingual, DocumentTemplate, FieldSpec

MONTHS_ID = ("Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus", "September", "Oktober",
             "November", "Desember")

Printable = Union[str, Bilingual]


def date_id(day: date) -> str:
    """`24 November 2026`: Indonesian month names, readable in both languages."""
    return f"{day.day} {MONTHS_ID[day.month - 1]} {day.year}"


def period_id(start: date, end: date) -> str:
    if start == end:
        return date_id(start)
    if (start.year, start.month) == (end.year, end.month):
        return f"{start.day}–{date_id(end)}"
    if start.year == end.year:
        return f"{start.day} {MONTHS_ID[start.month - 1]} – {date_id(end)}"
    return f"{date_id(start)} – {date_id(end)}"


def field_value(record: Record, spec: FieldSpec, template: DocumentTemplate | None = None) -> Printable | None:
    """The printed value of `spec` for `record`, or None when empty."""
    if spec.field == "period" and isinstance(record, TrainingRecord):
        return period_id(record.start_date, record.end_date)
    if spec.field == "validity" and isinstance(record, PersonRecord):
        return f"{record.grant_date:%d-%m-%Y} s.d. {record.expiry_date:%d-%m-%Y}"
    value = getattr(record, spec.field, None)
    if value is None or value == "":
        return None
    if spec.format == "date" and isinstance(value, date):
        return date_id(value)
    if spec.format == "hours":
        return Bilingual(f"{value} jam pelajaran", f"{value} hours")
    if spec.format == "scheme_type" and template is not None:
        return template.scheme_types.get(int(value), Bilingual(f"Tipe {value}", f"Type {value}"))
    return str(value)


def record_fields(record: Record, template: DocumentTemplate) -> list[tuple[FieldSpec, Printable]]:
    """The labelled lines of a document, optional empty ones left out."""
    out = []
    for spec in template.fields:
        value = field_value(record, spec, template)
        if value is None:
            if spec.optional:
                continue
            value = "–"
        out.append((spec, value))
    return out


