"""What a QR code costs: libzint choosing the mask, against qr_mask choosing it, old against new (issue 15).

    python benchmarks/bench_qr_mask.py [--codes 2000] [--rounds 3] [--old /tmp/base-d2f6718]

One process, `--codes` seal-like texts (the verification address and base32 of 170..260 bytes:
versions 11-13 at error correction M, as a certificate's and a card's seal), encoded in
alternated rounds each way; CPU time (process_time) and wall clock per code, best round.
* libzint: `zxingcpp.create_barcode(text, QRCode, ec_level="M")`, libzint scores the eight
  masks (the symbol only, no path text);
* old: `certgen.barcode.qr_matrix` of the tree at `--old` (imported beside this one under
  another name): symbol and path text, as a worker makes them;
* new: `certgen.barcode.qr_matrix` of this tree.
Then the parts on the same texts, old against new: the mask scoring (`penalties`) and the path
text (`_runs`). Every text's symbol and path text are checked to be the same in all three.
docs/benchmarks.md records the figures.
"""

from __future__ import annotations

import argparse
import base64
import importlib.util
import os
import random
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import zxingcpp  # noqa: E402

from certgen import barcode, qr_mask  # noqa: E402


def libzint(text: str) -> np.ndarray:
    code = zxingcpp.create_barcode(text, zxingcpp.BarcodeFormat.QRCode, ec_level="M")
    return np.asarray(code.to_image(scale=1, add_quiet_zones=False)) < 128


def load_old(tree: Path) -> ModuleType:
    """The package `certgen` of another checkout, imported as `oldcertgen` (its relative imports
    then resolve inside it)."""
    spec = importlib.util.spec_from_file_location("oldcertgen", tree / "certgen" / "__init__.py",
                                                  submodule_search_locations=[str(tree / "certgen")])
    assert spec is not None and spec.loader is not None
    package = importlib.util.module_from_spec(spec)
    sys.modules["oldcertgen"] = package
    spec.loader.exec_module(package)
    return importlib.import_module("oldcertgen.barcode")


def rounds(contenders: dict[str, Callable[[object], object]], items: list, count: int) -> dict[str, tuple[float, float]]:
    """Best (CPU, wall) ms an item of each contender over `count` alternated rounds."""
    best: dict[str, tuple[float, float]] = {}
    for _ in range(count):
        for name, fn in contenders.items():
            c0, w0 = time.process_time(), time.perf_counter()
            for item in items:
                fn(item)
            cpu = (time.process_time() - c0) / len(items) * 1000
            wall = (time.perf_counter() - w0) / len(items) * 1000
            prev = best.get(name, (1e9, 1e9))
            best[name] = (min(prev[0], cpu), min(prev[1], wall))
    return best


def report(title: str, best: dict[str, tuple[float, float]], old: str, new: str) -> None:
    print(title)
    for name, (cpu, wall) in best.items():
        print(f"  {name}: {cpu:.4f} ms CPU, {wall:.4f} ms wall")
    print(f"  ratio {old}/{new}: CPU {best[old][0] / best[new][0]:.2f}x, wall {best[old][1] / best[new][1]:.2f}x",
          flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--codes", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--old", type=Path, default=Path("/tmp/base-d2f6718"),
                        help="a checkout with the previous certgen/barcode.py (default %(default)s)")
    args = parser.parse_args()
    old = load_old(args.old)
    rng = random.Random(15)
    texts = ["https://verify.example.go.id/s/" + base64.b32encode(rng.randbytes(rng.randint(170, 260))).decode()
             for _ in range(args.codes)]
    for text in texts:
        a, b = old.qr_matrix(text), barcode.qr_matrix(text)
        assert np.array_equal(a.dark, b.dark) and np.array_equal(b.dark, libzint(text)) and a.runs == b.runs, text
    versions = sorted({barcode.qr_matrix(t).version for t in texts})
    print(f"{args.codes} codes, versions {versions}, best of {args.rounds} alternated rounds, "
          f"load {os.getloadavg()[0]:.2f}", flush=True)
    report("whole code (symbol and path text; libzint: symbol only)",
           rounds({"libzint": libzint, "old": old.qr_matrix, "new": barcode.qr_matrix}, texts, args.rounds),
           "old", "new")

    zeros = [barcode._encode(t, 0) for t in texts]
    layouts = [qr_mask.layout((d.shape[0] - 17) // 4) for d in zeros]
    old_mask = sys.modules["oldcertgen.qr_mask"]
    packed = [old_mask.candidates(d, old_mask.layout((d.shape[0] - 17) // 4)) for d in zeros]
    for d, lay, c in zip(zeros, layouts, packed):
        assert np.array_equal(qr_mask.penalties(d, lay), old_mask.penalties(c))
    pairs = list(zip(zeros, layouts, packed))
    report("mask scoring (old: from the packed candidates; new: from the mask-0 symbol)",
           rounds({"old": lambda x: old_mask.penalties(x[2]), "new": lambda x: qr_mask.penalties(x[0], x[1])},
                  pairs, args.rounds), "old", "new")
    darks = [barcode.qr_matrix(t).dark for t in texts]
    report("path text (_runs)", rounds({"old": old._runs, "new": barcode._runs}, darks, args.rounds), "old", "new")


if __name__ == "__main__":
    main()
