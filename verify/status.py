"""Where the current status of a certificate comes from: the registry database, or (later)
the verification web service. Both answer `lookup(number)` with a `StatusInfo` or None."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from datetime import date, datetime
from typing import Any, Callable, Protocol

from certgen.errors import NotFoundError, RegistryError
from certgen.model import DocumentKind
from certgen.registry import Registry
from certgen.registry.lifecycle import EffectiveStatus

from .report import StatusInfo


class StatusUnavailable(Exception):
    """The status source could not be asked (database down, service unreachable)."""


class StatusSource(Protocol):
    def lookup(self, number: str) -> StatusInfo | None:
        """The certificate's status now, None if the number is unknown; raises StatusUnavailable."""


class RegistryStatus:
    """Status straight from a registry database (SQLite file or PostgreSQL URL)."""

    def __init__(self, registry: Registry, now: Callable[[], datetime]) -> None:
        self.registry = registry
        self.now = now

    @classmethod
    def open(cls, url: str, now: Callable[[], datetime]) -> "RegistryStatus":
        try:
            return cls(Registry.open(url, migrate=False), now)
        except Exception as exc:
            raise StatusUnavailable(f"cannot open the registry: {exc}") from None

    def lookup(self, number: str) -> StatusInfo | None:
        try:
            cert = self.registry.get(number)
        except NotFoundError:
            return None
        except RegistryError as exc:
            raise StatusUnavailable(str(exc)) from None
        except Exception as exc:  # a database error: say so, do not guess
            raise StatusUnavailable(f"registry error: {type(exc).__name__}") from None
        return StatusInfo(
            number=cert.number, kind=cert.kind, holder=cert.holder, scheme=cert.scheme, granted=cert.granted,
            expires=cert.expires, status=cert.effective_status(self.now()), status_reason=cert.status_reason,
            status_changed_at=cert.status_changed_at, replaced_by=cert.replaced_by, seal=cert.seal,
            pdf_sha256=cert.pdf_sha256, record=dict(cert.record), issued_at=cert.issued_at, replaces=cert.replaces,
            card_edition=cert.card_edition, card_seal=cert.card_seal, card_sha256=cert.card_sha256,
        )


class HttpStatus:
    """Status from the verification web service (`GET /api/v1/number/<n>`), for verifiers that
    have no database access. The service's answer is taken as the registry's; the seal itself is
    always checked locally against the trust list."""

    def __init__(self, base_url: str, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    def lookup(self, number: str) -> StatusInfo | None:
        url = f"{self.base_url}/api/v1/number/{urllib.parse.quote(number, safe='')}"
        try:
            with urllib.request.urlopen(url, timeout=self.timeout) as response:
                report = json.loads(response.read())
        except urllib.error.HTTPError as exc:
            raise StatusUnavailable(f"{self.base_url} answered {exc.code}") from None
        except (OSError, ValueError) as exc:
            raise StatusUnavailable(f"{self.base_url} cannot be reached ({exc})") from None
        if not isinstance(report, dict):
            raise StatusUnavailable(f"{self.base_url} answered something that is not a report")
        cert = report.get("certificate")
        if cert is None:
            checks = report.get("checks")
            if isinstance(checks, list) and any(isinstance(c, dict) and c.get("reason") == "not_in_registry" for c in checks):
                return None
            raise StatusUnavailable(f"{self.base_url} could not check the status: {str(report.get('summary'))[:200]}")
        try:
            return _status_info(cert)
        except (KeyError, TypeError, ValueError) as exc:
            raise StatusUnavailable(f"{self.base_url} answered an unreadable certificate: {exc}") from None


def _status_info(cert: Any) -> StatusInfo:
    """The `certificate` object of a `certverify-report/1` (verify.formats) as typed data;
    an unknown status or kind is refused by name, never passed on as a string."""
    if not isinstance(cert, dict):
        raise TypeError("certificate is not an object")
    return StatusInfo(
        number=_text(cert, "number"), kind=_member(DocumentKind, cert, "kind"), holder=_text(cert, "holder"),
        scheme=_text(cert, "scheme"), granted=date.fromisoformat(_text(cert, "granted")),
        expires=date.fromisoformat(_text(cert, "expires")) if cert.get("expires") is not None else None,
        status=_member(EffectiveStatus, cert, "status"), status_reason=_optional_text(cert, "status_reason"),
        status_changed_at=_time(cert, "status_changed_at"), replaced_by=_optional_text(cert, "replaced_by"),
        pdf_sha256=_optional_text(cert, "pdf_sha256"), issued_at=_time(cert, "issued_at"),
        replaces=_optional_text(cert, "replaces"),
        card_edition=_edition(cert), card_sha256=_optional_text(cert, "card_sha256"),
    )


def _edition(data: dict) -> int | None:
    value = data.get("card_edition")
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"card_edition {str(value)[:20]!r} is not an edition number")
    return value


def _text(data: dict, key: str) -> str:
    value = data[key]
    if not isinstance(value, str):
        raise TypeError(f"{key} is not text")
    return value


def _optional_text(data: dict, key: str) -> str | None:
    return _text(data, key) if data.get(key) is not None else None


def _member(kind: Any, data: dict, key: str) -> Any:
    value = data[key]
    try:
        return kind(value)
    except ValueError:
        known = ", ".join(m.value for m in kind)
        raise ValueError(f"unknown {key} {str(value)[:40]!r} (known: {known})") from None


def _time(data: dict, key: str) -> datetime | None:
    value = _optional_text(data, key)
    if value is None:
        return None
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise ValueError(f"{key} {value!r} has no time zone")
    return moment
