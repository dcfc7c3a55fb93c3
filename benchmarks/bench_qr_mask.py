"""What a QR code costs with libzint choosing the mask against qr_mask choosing it (issue 15).

    python benchmarks/bench_qr_mask.py [--codes 2000] [--rounds 3]

One process, `--codes` seal-like texts (the verification address and base32 of 200..260 bytes:
version 10-12 at error correction M, as a certificate's and a card's seal), encoded in
alternated rounds each way; CPU time (process_time) and wall clock per code, best round.
* old: `zxingcpp.create_barcode(text, QRCode, ec_level="M")`, libzint scores the eight masks;
* new: `certgen.barcode.qr_matrix` (one encoding with mask 0, the choice in numpy, a second
  encoding with the chosen mask unless it is 0), the run list left out to compare like with like.
docs/benchmarks.md records the figures.
"""

from __future__ import annotations

import argparse
import base64
import os
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import zxingcpp  # noqa: E402

from certgen import barcode  # noqa: E402


def old(text: str) -> np.ndarray:
    code = zxingcpp.create_barcode(text, zxingcpp.BarcodeFormat.QRCode, ec_level="M")
    return np.asarray(code.to_image(scale=1, add_quiet_zones=False)) < 128


def new(text: str) -> np.ndarray:
    dark = barcode._fast_matrix(text)
    assert dark is not None
    return dark


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--codes", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    rng = random.Random(15)
    texts = ["https://verify.example.go.id/s/" + base64.b32encode(rng.randbytes(rng.randint(200, 260))).decode()
             for _ in range(args.codes)]
    for text in texts[:200]:
        assert np.array_equal(old(text), new(text))
    best: dict[str, tuple[float, float]] = {}
    for _ in range(args.rounds):
        for name, fn in (("old", old), ("new", new)):
            c0, w0 = time.process_time(), time.perf_counter()
            for text in texts:
                fn(text)
            cpu = (time.process_time() - c0) / len(texts) * 1000
            wall = (time.perf_counter() - w0) / len(texts) * 1000
            prev = best.get(name, (1e9, 1e9))
            best[name] = (min(prev[0], cpu), min(prev[1], wall))
            print(f"{name}: {cpu:.3f} ms CPU, {wall:.3f} ms wall a code", flush=True)
    versions = sorted({barcode.qr_matrix(t).version for t in texts[:200]})
    print(f"best of {args.rounds}, {args.codes} codes, versions {versions}, load {os.getloadavg()[0]:.2f}")
    for name in ("old", "new"):
        print(f"  {name}: {best[name][0]:.3f} ms CPU, {best[name][1]:.3f} ms wall")
    print(f"  ratio old/new: CPU {best['old'][0] / best['new'][0]:.2f}x, wall {best['old'][1] / best['new'][1]:.2f}x")


if __name__ == "__main__":
    main()
