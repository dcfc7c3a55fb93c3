"""Reports -> what the page shows: verdict wording, the fields printed on the paper, checks.

Only fields the document itself prints are shown (privacy: no more than the paper), and only
our own words: each check appears as its reason's translated label, never its detail (a detail
may quote a parser's message; the JSON report carries the details)."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from certgen.registry.lifecycle import EffectiveStatus

from ..report import Reason, VerificationReport
from .i18n import CLAIMS, FIELDS, MONTHS, VERDICT, reason_label, t

_SHOWN_WITH_DATE = (EffectiveStatus.SUSPENDED, EffectiveStatus.WITHDRAWN, EffectiveStatus.REPLACED,
                    EffectiveStatus.REDEEMED)


def _format(value: Any, lang: str) -> str:
    if isinstance(value, str) and len(value) == 10 and value[4] == "-" and value[7] == "-":
        try:
            value = date.fromisoformat(value)
        except ValueError:
            return value
    if isinstance(value, date):
        return f"{value.day} {MONTHS[lang][value.month - 1]} {value.year}"
    return str(value)


def view(report: VerificationReport, lang: str) -> dict[str, Any]:
    verdict = report.verdict.value
    headline, explanation = VERDICT[verdict][lang]
    idx = 0 if lang == "id" else 1
    fields: list[tuple[str, str]] = []
    cert, claims = report.certificate, report.claims
    kind = cert.kind if cert is not None else claims.kind if claims is not None else None
    number = cert.number if cert is not None else claims.number if claims is not None else None
    if cert is not None:
        for key, label_id, label_en in FIELDS.get(cert.kind.value, []):
            value = cert.record.get(key)
            if value not in (None, ""):
                fields.append(((label_id, label_en)[idx], _format(value, lang)))
    elif claims is not None:
        for key, label_id, label_en in CLAIMS:
            value = getattr(claims, key)
            if value not in (None, ""):
                fields.append(((label_id, label_en)[idx], _format(value, lang)))
    status_line = None
    if cert is not None and cert.status in _SHOWN_WITH_DATE and cert.status_changed_at:
        status_line = f"{t('status_since', lang)} {_format(cert.status_changed_at.date(), lang)}"
        if cert.status_reason:
            status_line += f" — {t('reason', lang)}: {cert.status_reason}"
    deciding = report.deciding
    return {
        "verdict": verdict, "css": verdict.lower(), "headline": headline, "explanation": explanation,
        "summary": reason_label(deciding.reason.value, deciding.outcome.value, lang) if deciding else None,
        "number": number, "kind": t(kind.value, lang) if kind is not None else None,
        "fields": fields, "status_line": status_line,
        "successor": cert.replaced_by if cert is not None and cert.status is EffectiveStatus.REPLACED else None,
        "predecessor": cert.replaces if cert is not None else None,
        "checks": [(c.outcome.value, c.reason.value, reason_label(c.reason.value, c.outcome.value, lang))
                   for c in report.checks],
        "seal": report.barcodes[0] if report.barcodes else None, "source": _source(report.source, lang),
        "warning": t("host_not_official", lang) if any(c.reason is Reason.SEAL_HOST_NOT_OFFICIAL for c in report.checks)
        else None,
    }


_PAGE = re.compile(r"(.*) page (\d+)")


def _source(source: str | None, lang: str) -> str | None:
    """The file name, and the page of a print sheet a card was read from, in the page's language."""
    match = _PAGE.fullmatch(source or "")
    return f"{match[1]} {t('page', lang)} {match[2]}" if match else source
