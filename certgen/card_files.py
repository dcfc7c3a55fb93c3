"""A certified-person card as a file: its own seal (certificate number plus edition) and its
PAdES signature, for the issuing workers and `certgen card reprint` alike.

The card's seal repeats its certificate's claims and adds the card edition (claim 8,
docs/seal.md): a verifier tells a card from its certificate, and an older edition from the
current one (verify: `card_superseded`). The card PDF is signed like a certificate (the same
`PdfSealer`, the same signer, drawn with its field and signed in place for B-B) but with an
invisible field: the card has no room for a visible stamp. The seal text goes into the
catalog under `SEAL_KEY`, as on a certificate, so `certverify pdf` reads it without rendering.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone

import cbor2

from .crypto import DocumentSigner
from .model import PersonRecord
from .render.card import CardData, render_card
from .render.fonts import FontSet
from .render.templates import TemplateSet
from .seal import CWT_IAT, HDR_KID, SealClaims, parse_seal_text, seal_text, sign_seal
from .sign import PdfSealer

#: An invisible signature field (ISO 32000-2 12.7.5.5: a zero rectangle on page 1).
INVISIBLE = (0.0, 0.0, 0.0, 0.0)


def card_claims(number: str, record: PersonRecord, issuer: str, signed_at: datetime, edition: int) -> SealClaims:
    """The claims of a card's seal: its certificate's, plus the edition."""
    return SealClaims(number=number, kind=record.kind, holder=record.holder, scheme=record.scheme,
                      granted=record.grant_date, expires=record.expires, issuer=issuer, signed_at=signed_at,
                      subject=record.subject, edition=edition)


def card_seal(signer: DocumentSigner, verify_url: str, number: str, record: PersonRecord, issuer: str,
              signed_at: datetime, edition: int) -> str:
    """The barcode text of a card of `edition`."""
    return seal_text(sign_seal(card_claims(number, record, issuer, signed_at, edition), signer), verify_url)


def signed_card(templates: TemplateSet, fonts: FontSet, sealer: PdfSealer, card: CardData, seal: str,
                signed_at: datetime) -> bytes:
    """The card PDF with an invisible PAdES signature at `signed_at` and `seal` in its catalog.
    Deterministic for the same inputs where the certificates' signatures are (RFC 6979): a
    lost card file is drawn again byte for byte."""
    reason = f"{templates.card.title.en} {card.number}" + (f", edition {card.edition}" if card.edition > 1 else "")
    location = templates.letterhead.city
    if sealer.signs_in_place:
        spec = replace(sealer.field(INVISIBLE, signed_at, reason=reason, location=location, seal=seal), appearance=())
        return sealer.complete(render_card(templates, fonts, card, spec))
    return sealer.sign(render_card(templates, fonts, card), INVISIBLE, reason=reason, location=location, seal=seal)


def seal_signer_and_time(seal: str) -> tuple[str, datetime] | None:
    """The key id (hex) and signing time a seal text names, its signature unchecked: what
    drawing a card again needs to know (the registry vouches for the seal). None if unreadable."""
    try:
        sign1 = cbor2.loads(parse_seal_text(seal))
        protected, _, payload, _ = sign1.value if isinstance(sign1, cbor2.CBORTag) else sign1
        kid = cbor2.loads(protected)[HDR_KID]
        iat = cbor2.loads(payload)[CWT_IAT]
        return kid.hex(), datetime.fromtimestamp(iat, timezone.utc)
    except Exception:  # a registry value that is not a seal: nothing to draw it from
        return None
