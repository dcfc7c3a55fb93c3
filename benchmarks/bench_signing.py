"""What a worker's per-document signing costs, old against new (issue 15): the seal text and the
in-place PAdES completion with the file's SHA-256.

    python benchmarks/bench_signing.py [--documents 2000] [--rounds 3] [--old /tmp/base-d2f6718]

One process, a fresh P-256 document signer (as `certgen keys init` makes), the tree at `--old`
imported beside this one under another name (see bench_qr_mask.py); alternated rounds, best
round, CPU time (process_time) and wall clock per document:
* seal text: `seal_text(sign_seal(claims, signer), url)` for a person certificate's claims;
* completion + digest: `PdfSealer.complete` of a drawn certificate, then the file's SHA-256 as
  `write_atomic` takes it (old: hashed again; new: carried by the signed bytes).
Before timing, the outputs are checked to be the same: the completed files byte for byte
(RFC 6979 ECDSA) and their digests; the seal texts with an Ed25519 signer (deterministic
signatures; ECDSA seals use random nonces). docs/benchmarks.md records the figures.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import os
import sys
import tempfile
import time
from datetime import date, datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cryptography.hazmat.primitives.asymmetric import ed25519  # noqa: E402

from benchmarks.bench_qr_mask import load_old, report, rounds  # noqa: E402
from certgen import output  # noqa: E402
from certgen.barcode import qr_matrix  # noqa: E402
from certgen.crypto import DocumentSigner  # noqa: E402
from certgen.issue_worker import make_claims  # noqa: E402
from certgen.keys import KeyStore  # noqa: E402
from certgen.render.document import SIGNATURE_BOX, render_certificate  # noqa: E402
from certgen.seal import seal_text, sign_seal  # noqa: E402
from certgen.sign import PdfSealer  # noqa: E402
from tests.documents import person, templates_and_fonts  # noqa: E402

PASS = b"benchmark-passphrase"
AT = datetime(2026, 11, 24, 3, 0, tzinfo=timezone.utc)
URL = "https://verify.example.go.id/v/"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--documents", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--old", type=Path, default=Path("/tmp/base-d2f6718"))
    args = parser.parse_args()
    load_old(args.old)
    old_seal, old_sign, old_crypto = (importlib.import_module(f"oldcertgen.{m}") for m in ("seal", "sign", "crypto"))
    with tempfile.TemporaryDirectory() as keys:
        store = KeyStore(Path(keys), kdf_iterations=1000)
        store.init(PASS, now=datetime(2026, 11, 1, tzinfo=timezone.utc))
        signer = store.current_signer(PASS)
        chain = [store.root_certificate()]
    old_signer = old_crypto.DocumentSigner(signer.private_key, signer.certificate)
    new_sealer, old_sealer = PdfSealer(signer, chain), old_sign.PdfSealer(old_signer, chain)

    holders = [f"Holder {i} " + "Wijaya" * (i % 5) for i in range(args.documents)]
    claims = [make_claims(f"SK-2026-{i:06d}-6", person(h), "ID-LSP-001", AT) for i, h in enumerate(holders)]
    old_claims = [old_seal.SealClaims(**c.__dict__) for c in claims]
    edward = ed25519.Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
    for c, o in zip(claims[:200], old_claims[:200]):
        new_text = seal_text(sign_seal(c, DocumentSigner(edward, signer.certificate)), URL)
        old_text = old_seal.seal_text(old_seal.sign_seal(o, old_crypto.DocumentSigner(edward, signer.certificate)), URL)
        assert new_text == old_text

    templates, fonts = templates_and_fonts()
    drawn = []
    for i, (c, h) in enumerate(zip(claims[:50], holders)):
        text = seal_text(sign_seal(c, signer), URL)
        field = new_sealer.field(SIGNATURE_BOX, AT, reason=f"Certificate {c.number}", location="Jakarta", seal=text)
        drawn.append(render_certificate(templates, fonts, person(h), c.number, qr_matrix(text), date(2026, 11, 24),
                                        signature=field))
    for pdf in drawn:
        new, old = new_sealer.complete(pdf), old_sealer.complete(pdf)
        assert bytes(new) == old and output.sha256_hex(new) == hashlib.sha256(old).hexdigest()
    print(f"{args.documents} documents, best of {args.rounds} alternated rounds, load {os.getloadavg()[0]:.2f}; "
          f"certificates {min(map(len, drawn))}..{max(map(len, drawn))} bytes", flush=True)
    report("seal text (sign_seal + seal_text)",
           rounds({"old": lambda c: old_seal.seal_text(old_seal.sign_seal(c[1], old_signer), URL),
                   "new": lambda c: seal_text(sign_seal(c[0], signer), URL)},
                  list(zip(claims, old_claims)), args.rounds), "old", "new")
    pdfs = [drawn[i % len(drawn)] for i in range(args.documents)]
    report("in-place completion + the file's SHA-256",
           rounds({"old": lambda p: hashlib.sha256(old_sealer.complete(p)).hexdigest(),
                   "new": lambda p: output.sha256_hex(new_sealer.complete(p))}, pdfs, args.rounds), "old", "new")


if __name__ == "__main__":
    main()
