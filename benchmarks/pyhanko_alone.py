"""The comparison for PDF verification: pyHanko's own `validate_pdf_signature`, nothing else.

    python benchmarks/pyhanko_alone.py ROOT_PEM FOLDER [--workers 2]

Each file: `PdfFileReader`, its one embedded signature, `validate_pdf_signature` with a
`ValidationContext` trusting only the root, no fetching (one context per process, as pyHanko's
documentation shows it); valid means intact, valid and trusted. pyHanko is imported before the
worker processes fork. Prints "VALID FILES".
"""

from __future__ import annotations

import argparse
import io
import logging
import multiprocessing
from pathlib import Path

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext

_context: dict[str, ValidationContext] = {}


def _init(root_der: bytes) -> None:
    logging.getLogger("pyhanko").setLevel(logging.CRITICAL)
    _context["vc"] = ValidationContext(trust_roots=[asn1_x509.Certificate.load(root_der)], allow_fetching=False)


def _validate(path: str) -> bool:
    with open(path, "rb") as handle:
        signatures = PdfFileReader(io.BytesIO(handle.read())).embedded_signatures
    status = validate_pdf_signature(signatures[0], _context["vc"])
    return bool(status.intact and status.valid and status.trusted)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("root", type=Path)
    parser.add_argument("folder", type=Path)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    root_der = x509.load_pem_x509_certificate(args.root.read_bytes()).public_bytes(serialization.Encoding.DER)
    files = sorted(str(p) for p in args.folder.glob("*.pdf"))
    with multiprocessing.get_context("fork").Pool(args.workers, initializer=_init, initargs=(root_der,)) as pool:
        valid = sum(pool.imap(_validate, files, chunksize=8))
    print(valid, len(files))


if __name__ == "__main__":
    main()
