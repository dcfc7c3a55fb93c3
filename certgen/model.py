"""The vocabulary shared by issuing and verifying: document kinds, series, statuses.

Plain enums and frozen dataclasses with no behaviour beyond what their names promise;
the registry, the seal and the renderers all speak in these terms.
"""

from __future__ import annotations

import enum


class DocumentKind(str, enum.Enum):
    """What a registry record certifies. The certified-person card is printed from a
    PERSON record (same number, same seal), so it is not a record kind of its own."""

    PRODUCT = "product"
    PERSON = "person"
    TRAINING = "training"


class Series(str, enum.Enum):
    """Number series: the two-character code that opens every certificate number."""

    PRODUCT_TYPE1 = "P1"  # ISO/IEC 17065 scheme type 1: type testing
    PRODUCT_TYPE5 = "P5"  # ISO/IEC 17065 scheme type 5: testing, factory audit, surveillance
    PERSON = "SK"  # sertifikat kompetensi, ISO/IEC 17024
    TRAINING = "BT"  # bimbingan teknis: technical guidance course

    @property
    def kind(self) -> DocumentKind:
        """The record kind this series numbers."""
        return {
            Series.PRODUCT_TYPE1: DocumentKind.PRODUCT,
            Series.PRODUCT_TYPE5: DocumentKind.PRODUCT,
            Series.PERSON: DocumentKind.PERSON,
            Series.TRAINING: DocumentKind.TRAINING,
        }[self]


class Status(str, enum.Enum):
    """Stored status of a certificate. EXPIRED is never stored: it is derived from the
    expiry date at the moment of asking (see `certgen.registry.lifecycle`)."""

    PENDING = "pending"  # number allocated, document not yet written (issuing pipeline)
    ACTIVE = "active"
    SUSPENDED = "suspended"
    WITHDRAWN = "withdrawn"
    REPLACED = "replaced"


class EventType(str, enum.Enum):
    """Entries of the append-only registry log."""

    ISSUE = "issue"
    SUSPEND = "suspend"
    REINSTATE = "reinstate"
    WITHDRAW = "withdraw"
    REPLACE = "replace"
