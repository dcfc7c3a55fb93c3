"""The vocabulary shared by issuing and verifying: document kinds, series, statuses.

Plain enums and frozen dataclasses with no behaviour beyond what their names promise;
the registry, the seal and the renderers all speak in these terms.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date
from typing import Any


class DocumentKind(str, enum.Enum):
    """What a registry record certifies. The certified-person card is printed from a
    PERSON record (same number, same seal), so it is not a record kind of its own."""

    PRODUCT = "product"
    PERSON = "person"
    TRAINING = "training"
    #: An apology letter of the service standard (certgen/service/letters.py): sealed, signed
    #: and registered like a certificate, so that it verifies the same way; not a certificate.
    LETTER = "letter"


class Series(str, enum.Enum):
    """Number series: the two-character code that opens every certificate number."""

    PRODUCT_TYPE1 = "P1"  # ISO/IEC 17065 scheme type 1: type testing
    PRODUCT_TYPE5 = "P5"  # ISO/IEC 17065 scheme type 5: testing, factory audit, surveillance
    PERSON = "SK"  # sertifikat kompetensi, ISO/IEC 17024
    TRAINING = "BT"  # bimbingan teknis: technical guidance course
    APOLOGY = "SM"  # surat permohonan maaf: apology letter for a late service (not a certificate)

    @property
    def kind(self) -> DocumentKind:
        """The record kind this series numbers."""
        return {
            Series.PRODUCT_TYPE1: DocumentKind.PRODUCT,
            Series.PRODUCT_TYPE5: DocumentKind.PRODUCT,
            Series.PERSON: DocumentKind.PERSON,
            Series.TRAINING: DocumentKind.TRAINING,
            Series.APOLOGY: DocumentKind.LETTER,
        }[self]


class Status(str, enum.Enum):
    """Stored status of a certificate. EXPIRED is never stored: it is derived from the
    expiry date at the moment of asking (see `certgen.registry.lifecycle`)."""

    PENDING = "pending"  # number allocated, document not yet written (issuing pipeline)
    ACTIVE = "active"
    SUSPENDED = "suspended"
    WITHDRAWN = "withdrawn"
    REPLACED = "replaced"
    REDEEMED = "redeemed"  # an apology letter whose credit was used (final)


class EventType(str, enum.Enum):
    """Entries of the append-only registry log."""

    ISSUE = "issue"
    SUSPEND = "suspend"
    REINSTATE = "reinstate"
    WITHDRAW = "withdraw"
    REPLACE = "replace"
    #: The full state of a certificate issued before events carried it (migration 0003_record_state).
    ATTEST = "attest"
    # the service standard (certgen/service): events of applications and complaints, which
    # carry the full state of their record after the event (see certgen/service/log.py)
    APPLICATION = "application"
    COMPLAINT = "complaint"
    REDEEM = "redeem"  # an apology letter's credit is used on an application (a status change)
    #: A surveillance visit of a type 5 product certificate (certgen/registry/visits.py).
    SURVEILLANCE = "surveillance"
    #: A new edition of a certified-person card (certgen/card_reprint.py; carries the full state).
    REPRINT = "reprint"
    #: The file of a reprinted card's edition is written (certgen/registry/cards.py; no state change).
    CARD_WRITTEN = "card_written"
    #: A pending successor that can no longer be issued is discarded (certgen/registry/discard.py).
    DISCARD = "discard"
    #: A root-signed trust list published to the registry (certgen/registry/trust_log.py; carries the list).
    TRUST_LIST = "trustlist"


# -- the documents' records --------------------------------------------------------------------

@dataclass(frozen=True)
class ProductRecord:
    """A product certificate (ISO/IEC 17065 §7.7): everything it prints."""

    client_name: str
    client_address: str
    product: str
    brand: str
    type_model: str
    standard: str
    scheme_type: int  # 1 or 5
    grant_date: date
    expiry_date: date
    factory_name: str | None = None  # required for scheme type 5
    factory_address: str | None = None

    kind = DocumentKind.PRODUCT

    @property
    def series(self) -> Series:
        return Series.PRODUCT_TYPE5 if self.scheme_type == 5 else Series.PRODUCT_TYPE1

    holder = property(lambda self: self.client_name)
    scheme = property(lambda self: self.standard)
    expires = property(lambda self: self.expiry_date)
    #: Short subject for the seal: what the paper says the product is.
    subject = property(lambda self: f"{self.product} {self.brand} {self.type_model}"[:80])


@dataclass(frozen=True)
class PersonRecord:
    """A person certificate (ISO/IEC 17024 §9.4.6); the card prints from it too."""

    name: str
    scheme_code: str
    scheme_name: str
    scope: str
    grant_date: date
    expiry_date: date
    #: Photo file (absolute path at issuing time) and its SHA-256; optional on the certificate.
    photo: str | None = None
    photo_sha256: str | None = None

    kind = DocumentKind.PERSON
    series = Series.PERSON
    holder = property(lambda self: self.name)
    scheme = property(lambda self: self.scheme_code)
    expires = property(lambda self: self.expiry_date)
    subject = None


@dataclass(frozen=True)
class TrainingRecord:
    """A training certificate for a technical guidance course: no expiry."""

    name: str
    course: str
    course_code: str
    start_date: date
    end_date: date
    hours: int
    organiser: str
    place: str | None = None

    kind = DocumentKind.TRAINING
    series = Series.TRAINING
    holder = property(lambda self: self.name)
    scheme = property(lambda self: self.course_code)
    expires = None
    subject = property(lambda self: self.course[:80])

    @property
    def grant_date(self) -> date:
        """A training certificate is granted on the course's last day."""
        return self.end_date


Record = ProductRecord | PersonRecord | TrainingRecord


def record_to_json(record: Record) -> dict[str, Any]:
    """The record as stored in the registry (dates as ISO strings). Records are flat (strings,
    numbers, dates), so their fields are read directly rather than deep-copied by `asdict`
    (a deep copy of every value; three calls a row in the batch process)."""
    return {k: (v.isoformat() if isinstance(v, date) else v)
            for k, v in ((name, getattr(record, name)) for name in record.__dataclass_fields__)}


def record_from_json(kind: DocumentKind, data: dict[str, Any]) -> Record:
    """The inverse of `record_to_json`."""
    cls = {DocumentKind.PRODUCT: ProductRecord, DocumentKind.PERSON: PersonRecord, DocumentKind.TRAINING: TrainingRecord}[kind]
    values = {}
    for f in cls.__dataclass_fields__.values():
        value = data.get(f.name)
        if isinstance(value, str) and f.type in ("date", date):
            value = date.fromisoformat(value)
        values[f.name] = value
    return cls(**values)  # type: ignore[arg-type]
