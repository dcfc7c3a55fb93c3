"""What a card costs per person certificate, before and after cards were signed (issue 12).

    python benchmarks/bench_card.py [--cards 300]

One process, the fast paths installed (as `certgen issue`), the same person record drawn
`--cards` times each way, in alternated rounds, best round of each:
* unsigned: the card drawn with its certificate's seal (what a batch did before card editions);
* signed: the card's own seal signed (ES256) and QR-encoded, the card drawn with its invisible
  signature field and signed in place (certgen.card_files.signed_card: what a batch does now).
The difference is the cost signing adds to each person certificate. docs/benchmarks.md records it.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from certgen.adapters.install import install_all  # noqa: E402
from certgen.barcode import qr_matrix  # noqa: E402
from certgen.card_files import card_seal, signed_card  # noqa: E402
from certgen.keys import KeyStore  # noqa: E402
from certgen.render.card import CardData, render_card  # noqa: E402
from certgen.sign import PdfSealer  # noqa: E402
from tests.documents import person, templates_and_fonts  # noqa: E402

PASS = b"benchmark-passphrase"
NOW = datetime(2026, 11, 24, 3, 0, tzinfo=timezone.utc)
URL = "https://verifikasi.example.id/v/"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cards", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    install_all()
    templates, fonts = templates_and_fonts()
    record = person()
    with tempfile.TemporaryDirectory() as tmp:
        store = KeyStore(Path(tmp) / "keys", kdf_iterations=1000)
        store.init(PASS, now=datetime(2026, 10, 24, tzinfo=timezone.utc))
        signer = store.current_signer(PASS, now=NOW)
        sealer = PdfSealer(signer, [store.root_certificate()])
    number = "SK-2026-000001-E"
    cert_seal = card_seal(signer, URL, number, record, "BSN", NOW, 1)  # stands for the certificate's seal
    cert_matrix = qr_matrix(cert_seal)

    def unsigned() -> None:
        render_card(templates, fonts, CardData(number, record, cert_matrix, record.photo, NOW.date()))

    def signed() -> None:
        text = card_seal(signer, URL, number, record, "BSN", NOW, 1)
        card = CardData(number, record, qr_matrix(text), record.photo, NOW.date())
        signed_card(templates, fonts, sealer, card, text, NOW)

    steps = {"unsigned": unsigned, "signed": signed}
    for step in steps.values():
        step()  # warm: fonts, images
    times: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(args.rounds):  # alternated, so a busy moment of a shared machine hits both
        for name, step in steps.items():
            times[name].append(_run(step, args.cards))
    results = {name: min(t) / args.cards * 1000 for name, t in times.items()}
    for name, value in results.items():
        print(f"{name:9} {value:.2f} ms per card ({args.cards} cards, best of {args.rounds} alternated rounds, "
              f"signing {'in place' if sealer.signs_in_place else 'by incremental update'})")
    print(f"signing adds {results['signed'] - results['unsigned']:.2f} ms per person certificate")


def _run(step, count: int) -> float:
    started = time.perf_counter()
    for _ in range(count):
        step()
    return time.perf_counter() - started


if __name__ == "__main__":
    main()
