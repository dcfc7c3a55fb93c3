"""Reports as JSON (for machines) and text (for people): one module for the CLI and the web API.

The report objects are data only; this is the one place that turns them into the stable JSON
form `certverify-report/1` (docs/verification.md) and into the lines `certverify` prints.
Fields are only ever added to the JSON form, never renamed or removed.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from certgen.seal import SealClaims
from certgen.terminal import safe

from .report import StatusInfo, VerificationReport

REPORT_FORMAT = "certverify-report/1"


def _plain(value: Any) -> Any:
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    return value


def claims_json(claims: SealClaims) -> dict[str, Any]:
    """What the seal asserts, in the report's field order."""
    return {"number": claims.number, "kind": claims.kind.value, "holder": claims.holder, "scheme": claims.scheme,
            "granted": _plain(claims.granted), "expires": _plain(claims.expires), "subject": claims.subject,
            "issuer": claims.issuer, "signed_at": _plain(claims.signed_at),
            **({"card_edition": claims.edition} if claims.edition is not None else {})}


def certificate_json(cert: StatusInfo) -> dict[str, Any]:
    """What the registry says, without the seal text and the full record (the page's business)."""
    return {"number": cert.number, "kind": cert.kind.value, "holder": cert.holder, "scheme": cert.scheme,
            "granted": _plain(cert.granted), "expires": _plain(cert.expires), "status": cert.status.value,
            "status_reason": cert.status_reason, "status_changed_at": _plain(cert.status_changed_at),
            "replaced_by": cert.replaced_by, "pdf_sha256": cert.pdf_sha256, "issued_at": _plain(cert.issued_at),
            "replaces": cert.replaces,
            **({"card_edition": cert.card_edition, "card_sha256": cert.card_sha256}
               if cert.card_edition is not None else {})}


def report_json(report: VerificationReport) -> dict[str, Any]:
    """The `certverify-report/1` object (docs/verification.md)."""
    return {
        "format": REPORT_FORMAT, "subject": report.subject, "source": report.source, "verdict": report.verdict.value,
        "summary": report.summary, "checked_at": _plain(report.checked_at),
        "checks": [{"name": c.name, "outcome": c.outcome.value, "reason": c.reason.value, "detail": c.detail,
                    **({"technical": c.technical} if c.technical else {})} for c in report.checks],
        "barcodes": list(report.barcodes),
        "claims": claims_json(report.claims) if report.claims is not None else None,
        "certificate": certificate_json(report.certificate) if report.certificate is not None else None,
        "signing_time": ({"at": _plain(report.signing_time.at), "source": report.signing_time.source.value}
                         if report.signing_time is not None else None),
    }


def _safe(text: object) -> str:
    """Text for a terminal: control characters (escape sequences, bells, line breaks inside a
    file name or a quoted parser message), bidirectional overrides and line separators shown
    escaped, never acted on (certgen.terminal.safe, the helper every command uses)."""
    return safe(text)


def report_text(report: VerificationReport) -> str:
    """The report as `certverify` prints it: verdict and summary, one line per check, the claims."""
    head = f"{_safe(report.source)}: " if report.source else ""
    lines = [f"{head}{report.verdict.value} — {_safe(report.summary)}"]
    lines += [f"  [{c.outcome.value:>13}] {c.name}: {c.reason.value}: {_safe(c.detail)}" for c in report.checks]
    if report.claims is not None:
        c = report.claims
        edition = f", card edition {c.edition}" if c.edition is not None else ""
        lines.append(f"  number {_safe(c.number)}, holder {_safe(c.holder)}, scheme {_safe(c.scheme)}{edition}")
    cert = report.certificate
    if cert is not None and cert.replaced_by:
        lines.append(f"  replaced by {_safe(cert.replaced_by)}: check that one instead")
    if cert is not None and cert.replaces:
        lines.append(f"  replaces {_safe(cert.replaces)} (renewal or correction)")
    return "\n".join(lines)


def summary_line(item: dict[str, Any]) -> str:
    """One line per file of `certverify pdf` on a folder, from the JSON form (what workers send)."""
    head = f"{_safe(item['source'])}: " if item.get("source") else ""
    return f"{head}{item['verdict']} — {_safe(item['summary'])}"


__all__ = ["REPORT_FORMAT", "certificate_json", "claims_json", "report_json", "report_text", "summary_line"]
