"""Where the current status of a certificate comes from: the registry database, or (later)
the verification web service. Both answer `lookup(number)` with a `StatusInfo` or None."""

from __future__ import annotations

from datetime import datetime
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
