"""The root's certificate revocation list (CRL, RFC 5280): revoked document signers, in X.509.

The trust list (certgen.trust) is what certgen's own verifiers read. PDF validators (pyHanko,
Adobe, poppler) read X.509 revocation information instead, and a PAdES B-LTA document must
carry it in its document security store so that it validates with no network years later.
So the root also signs a CRL listing every revoked DSC with its revocation time and reason
keyCompromise; `certgen keys crl` writes it to `keys/root.crl.pem`, and issuing with a
timestamp authority embeds it (certgen/sign.py). It must be current when documents are signed:
pyHanko refuses to embed revocation information whose nextUpdate has passed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterable

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from .crypto import PrivateKey
from .errors import CertgenError

CRL_FILE = "root.crl.pem"
#: Default time until the CRL's nextUpdate: re-issue it (`certgen keys crl`) before then.
DEFAULT_DAYS = 31


class RevocationListError(CertgenError):
    """The CRL is missing, unreadable, not signed by the root, or past its nextUpdate."""


@dataclass(frozen=True)
class Revoked:
    """One revoked DSC: its certificate, from when it is revoked."""

    certificate: x509.Certificate
    revoked_at: datetime


def build_crl(root_key: PrivateKey, root_cert: x509.Certificate, revoked: Iterable[Revoked], *, now: datetime,
              days: int = DEFAULT_DAYS) -> x509.CertificateRevocationList:
    """A CRL signed by the root: thisUpdate `now`, nextUpdate `days` later, CRL number from the time."""
    if days < 1:
        raise ValueError("a CRL must be valid for at least one day")
    now = now.astimezone(timezone.utc)
    root_ski = root_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    builder = (x509.CertificateRevocationListBuilder()
               .issuer_name(root_cert.subject)
               .last_update(now)
               .next_update(now + timedelta(days=days))
               .add_extension(x509.CRLNumber(int(now.timestamp())), critical=False)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(root_ski), critical=False))
    for entry in revoked:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder()
            .serial_number(entry.certificate.serial_number)
            .revocation_date(entry.revoked_at.astimezone(timezone.utc))
            .add_extension(x509.CRLReason(x509.ReasonFlags.key_compromise), critical=False)
            .build())
    return builder.sign(root_key, hashes.SHA256())  # type: ignore[arg-type]


def write_crl(folder: Path, crl: x509.CertificateRevocationList) -> Path:
    """Write the CRL as PEM to `folder/root.crl.pem` (temporary file, then rename)."""
    path = folder / CRL_FILE
    temporary = path.with_suffix(".tmp")
    temporary.write_bytes(crl.public_bytes(serialization.Encoding.PEM))
    temporary.replace(path)
    return path


def load_crl(folder: Path, root_cert: x509.Certificate, *, now: datetime) -> x509.CertificateRevocationList:
    """The root's CRL from `folder`, checked: signed by the root and current at `now`."""
    path = folder / CRL_FILE
    try:
        crl = x509.load_pem_x509_crl(path.read_bytes())
    except FileNotFoundError:
        raise RevocationListError(f"{path}: missing; run `certgen keys crl`") from None
    except ValueError as exc:
        raise RevocationListError(f"{path}: not a PEM CRL ({exc})") from None
    if crl.issuer != root_cert.subject or not crl.is_signature_valid(root_cert.public_key()):  # type: ignore[arg-type]
        raise RevocationListError(f"{path}: not signed by the root certificate")
    next_update = crl.next_update_utc
    if next_update is not None and now > next_update:
        raise RevocationListError(f"{path}: expired on {next_update:%Y-%m-%d %H:%M}Z; run `certgen keys crl`")
    return crl
