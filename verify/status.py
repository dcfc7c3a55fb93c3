"""Where the current status of a certificate comes from: the registry database, or (later)
the verification web service. Both answer `lookup(number)` with a `StatusInfo` or None."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from datetime import date, datetime
from typing import Callable, Protocol

from certgen.errors import NotFoundError, RegistryError
from certgen.registry import Registry

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
            number=cert.number, kind=cert.kind.value, holder=cert.holder, scheme=cert.scheme, granted=cert.granted,
            expires=cert.expires, status=cert.effective_status(self.now()).value, status_reason=cert.status_reason,
            status_changed_at=cert.status_changed_at, replaced_by=cert.replaced_by, seal=cert.seal,
            pdf_sha256=cert.pdf_sha256, record=dict(cert.record),
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
        cert = report.get("certificate")
        if cert is None:
            if any(c.get("reason") == "not_in_registry" for c in report.get("checks", [])):
                return None
            raise StatusUnavailable(f"{self.base_url} could not check the status: {report.get('summary')}")
        when = cert.get("status_changed_at")
        return StatusInfo(
            number=cert["number"], kind=cert["kind"], holder=cert["holder"], scheme=cert["scheme"],
            granted=date.fromisoformat(cert["granted"]),
            expires=date.fromisoformat(cert["expires"]) if cert.get("expires") else None,
            status=cert["status"], status_reason=cert.get("status_reason"),
            status_changed_at=datetime.fromisoformat(when) if when else None, replaced_by=cert.get("replaced_by"),
            pdf_sha256=cert.get("pdf_sha256"),
        )
