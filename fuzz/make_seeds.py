"""Write the fuzz seeds: real files issued by the project's own code, plus their PKI.

    PYTHONPATH=$PWD python fuzz/make_seeds.py

seeds/pki/      root certificate and signed trust list (public parts only)
seeds/seal/     barcode texts of genuine seals (and the bare base32 form)
seeds/trustlist/ the signed trust list, a revoked-signer list
seeds/pdf/      an issued, signed certificate PDF and hostile variants (tests/hostile_pdfs.py)
seeds/scan/     a printed QR as PNG, JPEG and WebP, a phone-like photo, a corpus picture
"""

from __future__ import annotations

import base64
import json
import shutil
import sys
from datetime import date, timedelta
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from certgen.barcode import qr_matrix  # noqa: E402
from certgen.render.document import SIGNATURE_BOX, render_certificate  # noqa: E402
from certgen.seal import seal_text, sign_seal  # noqa: E402
from certgen.sign import PdfSealer  # noqa: E402
from fuzz.pki import NOW, PASSPHRASE, SEEDS, URL, fresh_keystore, person_claims  # noqa: E402
from tests.documents import person, templates_and_fonts  # noqa: E402


def qr_png(text: str, module: int = 6) -> np.ndarray:
    matrix = qr_matrix(text)
    dark = np.asarray(matrix.dark, dtype=bool)
    image = np.where(dark, 0, 255).astype(np.uint8)
    image = np.pad(image, 4, constant_values=255)
    return cv2.resize(image, None, fx=module, fy=module, interpolation=cv2.INTER_NEAREST)


def _payload_templates(signed: bytes) -> None:
    """Trust list payloads with placeholders that fuzz_trustlist.py fills with its own PKI."""
    envelope = json.loads(signed)
    payload = json.loads(base64.urlsafe_b64decode(envelope["payload"] + "=" * (-len(envelope["payload"]) % 4)))
    payload["root_sha256"] = "@ROOT_SHA256@"
    for entry in payload["signers"]:
        entry["kid"], entry["certificate"] = "@KID@", "@CERT@"
    (SEEDS / "trustlist" / "payload-template.json").write_text(json.dumps(payload, indent=1))
    payload["signers"][0]["revoked_at"] = "2026-11-25T03:00:00Z"
    payload["signers"][0]["revocation_reason"] = "key compromise"
    (SEEDS / "trustlist" / "payload-revoked.json").write_text(json.dumps(payload, indent=1))


def main() -> None:
    if SEEDS.exists():
        shutil.rmtree(SEEDS)
    for part in ("pki", "seal", "trustlist", "pdf", "scan"):
        (SEEDS / part).mkdir(parents=True)
    keys = fresh_keystore()
    signer = keys.current_signer(PASSPHRASE, now=NOW)
    root = keys.root_certificate()
    (SEEDS / "pki" / "root.cert.pem").write_bytes(keys.root_cert_path.read_bytes())
    signed = keys.signed_trust_list(PASSPHRASE, now=NOW)
    (SEEDS / "pki" / "trustlist.json").write_bytes(signed)
    (SEEDS / "trustlist" / "trustlist.json").write_bytes(signed)
    keys.revoke(signer.kid.hex(), at=NOW + timedelta(days=1), reason="key compromise")
    (SEEDS / "trustlist" / "revoked.json").write_bytes(keys.signed_trust_list(PASSPHRASE, now=NOW))

    _payload_templates(signed)

    text = seal_text(sign_seal(person_claims(), signer), URL)
    (SEEDS / "seal" / "seal.txt").write_text(text)
    (SEEDS / "seal" / "bare.txt").write_text(text.rsplit("/", 1)[1])

    templates, fonts = templates_and_fonts()
    unsigned = render_certificate(templates, fonts, person(), "P-2026-000001-X", qr_matrix(text), date(2026, 11, 24))
    pdf = PdfSealer(signer, [root]).sign(unsigned, SIGNATURE_BOX, seal=text)
    (SEEDS / "pdf" / "issued.pdf").write_bytes(pdf)
    from tests.hostile_pdfs import build_all, resigned_look_alike
    for name, data in build_all(pdf).items():
        (SEEDS / "pdf" / f"{name}.pdf").write_bytes(data)
    (SEEDS / "pdf" / "look_alike_ed25519.pdf").write_bytes(
        resigned_look_alike("ed25519", unsigned, root, signer.certificate, text))

    image = qr_png(text)
    for ext in (".png", ".jpg", ".webp"):
        ok, encoded = cv2.imencode(ext, image)
        assert ok
        (SEEDS / "scan" / f"qr{ext}").write_bytes(encoded.tobytes())
    photo = cv2.GaussianBlur(cv2.resize(image, None, fx=1.7, fy=1.7), (5, 5), 1.5)
    (SEEDS / "scan" / "photo.jpg").write_bytes(cv2.imencode(".jpg", photo, [cv2.IMWRITE_JPEG_QUALITY, 70])[1].tobytes())
    corpus = Path(__file__).resolve().parent.parent / "tests" / "data" / "zxing-qrcode-2" / "#128.png"
    shutil.copy(corpus, SEEDS / "scan" / "corpus-128.png")
    print(f"seeds written to {SEEDS}")


if __name__ == "__main__":
    main()
