"""The certificate profiles of the trust chain: the root (self-signed CA) and the document
signer certificates it issues (docs/keys.md, "Certificates"). One definition for `keys init`,
`keys rotate` and the offline ceremony's `keys certify` (certgen.ceremony), so a DSC whose key
is in a token or arrived as a request is the same certificate as one made on the spot."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

from .crypto import PrivateKey, PublicKey

#: id-kp-documentSigning (RFC 9336): the purpose of a DSC.
OID_DOCUMENT_SIGNING = ObjectIdentifier("1.3.6.1.5.5.7.3.36")


@dataclass(frozen=True)
class Organisation:
    """Names written into certificates."""

    name: str = "Balai Sertifikasi, Kementerian Perdagangan"
    country: str = "ID"

    def subject(self, common_name: str) -> x509.Name:
        return x509.Name([
            x509.NameAttribute(NameOID.COUNTRY_NAME, self.country),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, self.name),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ])


def dsc_common_name(now: datetime, number: int) -> str:
    """The common name of the `number`-th document signer, made in `now`'s year."""
    return f"Balai Sertifikasi Document Signer {now.year}-{number}"


def root_certificate(key: PrivateKey, org: Organisation, now: datetime, years: int) -> x509.Certificate:
    subject = org.subject("Balai Sertifikasi Root CA")
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    return (
        x509.CertificateBuilder()
        .subject_name(subject).issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=365 * years))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                     crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(ski, critical=False)
        .sign(key, hashes.SHA256())  # type: ignore[arg-type]
    )


def dsc_certificate(public_key: PublicKey, root_key: PrivateKey, root_cert: x509.Certificate, org: Organisation,
                    now: datetime, years: int, number: int) -> x509.Certificate:
    """A document signer certificate for `public_key`, issued by the root."""
    root_ski = root_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    return (
        x509.CertificateBuilder()
        .subject_name(org.subject(dsc_common_name(now, number)))
        .issuer_name(root_cert.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(min(now + timedelta(days=365 * years), root_cert.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=True, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                     crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
        # documentSigning says what the key is for; emailProtection is what NSS (poppler's
        # pdfsig) requires of a signer it is asked to trust for signed documents.
        .add_extension(x509.ExtendedKeyUsage([OID_DOCUMENT_SIGNING, ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(root_ski), critical=False)
        .sign(root_key, hashes.SHA256())  # type: ignore[arg-type]
    )
