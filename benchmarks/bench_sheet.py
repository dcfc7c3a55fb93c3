"""Print sheet benchmark: what a worker spends on a group's cards and their print sheet.

    python benchmarks/bench_sheet.py --compare /tmp/base-d2f6718 [--rounds 5] [--groups 30]

A group of 10 persons (ASCII names, sample photos, each its own seal) is drawn as a worker
draws it: each card PDF (`render_card`), then the group's sheet (`render_sheet`); and the
sheet alone drawn again from the records, as a rerun repairing it does. Each tree runs in a
fresh process (`PYTHONPATH` = that tree, the adapters installed as `certgen issue` does),
alternating old and new for --rounds rounds; CPU time (process time) per person is printed
with each round's ratio. Nothing is written to disk: the figures are the drawing alone.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

_CHILD = r"""
import json, sys, time
from datetime import date
from pathlib import Path
from certgen.adapters.install import install_all
install_all()
import certgen
from certgen.barcode import qr_matrix
from certgen.render.card import CardData, render_card, render_sheet
from tests.documents import person, templates_and_fonts
groups = int(sys.argv[1])
templates, fonts = templates_and_fonts()
photos = sorted((Path(certgen.__file__).parent.parent / "samples" / "photos").glob("*.jpg"))
url = "https://verifikasi.example.id/v/"
def group(g):
    return [CardData(f"SK-2026-{g:04d}{i:02d}-6", person(f"Peserta {g} {i}", str(photos[i % len(photos)])),
                     qr_matrix(url + "A" * 300 + f"{g:06d}{i:02d}"), str(photos[i % len(photos)]), date(2026, 11, 24))
            for i in range(10)]
sets = [group(g) for g in range(groups)]
for cards in sets[:2]:  # warm the caches
    for card in cards:
        render_card(templates, fonts, card)
    render_sheet(templates, fonts, cards, "cards-0001")
started = time.process_time()
for cards in sets:
    for card in cards:
        render_card(templates, fonts, card)
    render_sheet(templates, fonts, cards, "cards-0001")
both = time.process_time() - started
started = time.process_time()
for cards in sets:
    for card in cards:
        render_card(templates, fonts, card)
cards_only = time.process_time() - started
started = time.process_time()
for cards in sets:
    render_sheet(templates, fonts, [CardData(*(getattr(c, f) for f in c.__dataclass_fields__)) for c in cards],
                 "cards-0001")
again = time.process_time() - started
n = 10 * len(sets)
print(json.dumps({"code": str(Path(certgen.__file__).parent.parent), "cards_and_sheet_ms": 1000 * both / n,
                  "sheet_share_ms": 1000 * (both - cards_only) / n, "sheet_redrawn_ms": 1000 * again / n}))
"""


def _run(tree: Path, groups: int) -> dict:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    out = subprocess.run([sys.executable, "-c", _CHILD, str(groups)], cwd=str(tree), env=env, capture_output=True,
                         text=True, timeout=600)
    if out.returncode != 0:
        raise SystemExit(f"{tree}: {out.stderr[-2000:]}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    if Path(result["code"]).resolve() != tree.resolve():
        raise SystemExit(f"{tree}: the child imported certgen from {result['code']}")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--compare", type=Path, required=True, help="a checkout of the old code")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--groups", type=int, default=30)
    args = parser.parse_args()
    ratios = []
    for round_ in range(args.rounds):
        order = [("old", args.compare), ("new", ROOT)]
        if round_ % 2:
            order.reverse()
        got = {label: _run(tree, args.groups) for label, tree in order}
        old, new = got["old"], got["new"]
        ratio = old["cards_and_sheet_ms"] / new["cards_and_sheet_ms"]
        ratios.append(ratio)
        print(f"round {round_ + 1}: cards + sheet a person old {old['cards_and_sheet_ms']:.3f} ms, new "
              f"{new['cards_and_sheet_ms']:.3f} ms (ratio {ratio:.2f}); sheet share old {old['sheet_share_ms']:.3f} ms,"
              f" new {new['sheet_share_ms']:.3f} ms; sheet drawn again (rerun) old {old['sheet_redrawn_ms']:.3f} ms,"
              f" new {new['sheet_redrawn_ms']:.3f} ms")
    print(f"cards + sheet, CPU old/new: median {statistics.median(ratios):.2f}, range {min(ratios):.2f} to "
          f"{max(ratios):.2f}")


if __name__ == "__main__":
    main()
