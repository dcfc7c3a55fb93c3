"""The fuzz targets' world: a throwaway key store, a signed seal and PDF issued with it.

Shared by fuzz/make_seeds.py (writes the seeds) and the harnesses (load the same public
parts from fuzz/seeds/pki/, so that seeds signed by this PKI verify). No private key is
ever written into the repository: the harnesses that re-sign mutated payloads make their
own key store in a temporary folder at start-up.
"""

from __future__ import annotations

import tempfile
from datetime import date, datetime, timezone
from pathlib import Path

from cryptography import x509

from certgen.keys import KeyStore
from certgen.trust import TrustList

SEEDS = Path(__file__).parent / "seeds"
PASSPHRASE = b"fuzz-passphrase-0"
NOW = datetime(2026, 11, 24, 3, 0, tzinfo=timezone.utc)
URL = "https://verifikasi.example.id/v/"


def fresh_keystore() -> KeyStore:
    """A root and one P-256 DSC in a temporary folder (lives as long as the process)."""
    store = KeyStore(Path(tempfile.mkdtemp(prefix="certgen-fuzz-")) / "keys")
    store.init(PASSPHRASE, now=datetime(2026, 10, 24, tzinfo=timezone.utc))
    return store


def seeds_pki() -> tuple[TrustList, x509.Certificate, bytes]:
    """The trust list, root and signed trust list file the seeds were made with."""
    root = x509.load_pem_x509_certificate((SEEDS / "pki" / "root.cert.pem").read_bytes())
    signed = (SEEDS / "pki" / "trustlist.json").read_bytes()
    return TrustList.load_signed(signed, root), root, signed


def person_claims(number: str = "P-2026-000001-X"):
    from certgen.model import DocumentKind
    from certgen.seal import SealClaims

    return SealClaims(number, DocumentKind.PERSON, "Siti Aminah", "SKM-PTK-03", date(2026, 11, 24),
                      date(2029, 11, 23), "ID-BSKP", NOW)
