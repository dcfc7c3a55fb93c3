"""Make the seal golden vectors in tests/data/seal_vectors.json (docs/seal.md, section Vectors).

Each vector holds the signer certificate, the claims, the exact CWT payload, the COSE bytes and
the barcode text. The private keys are made for the run and thrown away: the vectors can be
checked, never extended with the same key. Run again only when the seal format changes.
"""

from __future__ import annotations

import base64
import json
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import cbor2
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import NameOID

from certgen.crypto import DocumentSigner
from certgen.model import DocumentKind
from certgen.seal import SealClaims, seal_text, sign_seal

OUT = Path(__file__).resolve().parent.parent / "tests" / "data" / "seal_vectors.json"
URL = "https://verifikasi.example.id/v/"
SIGNED = datetime(2026, 11, 24, 2, 30, tzinfo=timezone.utc)


def _cert(key, name: str) -> x509.Certificate:
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    algorithm = None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    return (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(1).not_valid_before(datetime(2026, 1, 1, tzinfo=timezone.utc))
            .not_valid_after(datetime(2036, 1, 1, tzinfo=timezone.utc)).sign(key, algorithm))


def main() -> None:
    keys = {"ES256": ec.generate_private_key(ec.SECP256R1()),
            "PS256": rsa.generate_private_key(public_exponent=65537, key_size=3072),
            "EdDSA": ed25519.Ed25519PrivateKey.generate()}
    claims = {
        "person-40-char-name": SealClaims("SK-2026-000123-6", DocumentKind.PERSON, "Ni Luh Putu Ayu Kusumawardhani Setiawati",
                                          "SKM-PTK-03/2024", date(2026, 11, 24), date(2029, 11, 23), "ID-BSKP", SIGNED),
        "product-type5": SealClaims("P5-2026-000042-S", DocumentKind.PRODUCT, "PT Sinar Baja Nusantara", "SNI 2052:2017",
                                    date(2026, 11, 24), date(2030, 11, 23), "ID-BSKP", SIGNED, subject="Baja tulangan beton BjTS 420B"),
        "training-no-expiry": SealClaims("BT-2026-000007-E", DocumentKind.TRAINING, "Gede Ngurah Ray Öğretmen-Sastrowardoyo",
                                         "BIMTEK-K3-2026", date(2026, 11, 20), None, "ID-BSKP", SIGNED),
    }
    vectors = []
    for alg, key in keys.items():
        cert = _cert(key, f"Seal vector signer {alg}")
        signer = DocumentSigner(key, cert)
        for name, claim in claims.items():
            if alg != "ES256" and name != "person-40-char-name":
                continue
            cose = sign_seal(claim, signer)
            vectors.append({
                "name": f"{name}-{alg}", "alg": alg, "verify_url": URL,
                "certificate": base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode(),
                "claims": {"number": claim.number, "kind": claim.kind.value, "holder": claim.holder, "scheme": claim.scheme,
                           "granted": claim.granted.isoformat(), "expires": claim.expires.isoformat() if claim.expires else None,
                           "issuer": claim.issuer, "signed_at": claim.signed_at.isoformat(), "subject": claim.subject},
                "cwt_hex": cbor2.dumps(claim.to_cwt()).hex(),
                "cose_hex": cose.hex(),
                "text": seal_text(cose, URL),
                "verify_at": (SIGNED + timedelta(days=1)).isoformat(),
            })
    OUT.write_text(json.dumps(vectors, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"{len(vectors)} vectors written to {OUT}")


if __name__ == "__main__":
    main()
