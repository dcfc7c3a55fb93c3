"""Fixed parts of pages (certgen/render/fixed_parts.py): drawing a person's documents with and
without them, in one process.

    python benchmarks/bench_fixed_parts.py [--persons 200] [--rounds 5]

Draws, for `--persons` rows made from samples/person.csv (as bench_issue.py makes them), each
person's certificate, card and a tenth of a print sheet on the page writer, in three modes
alternating for `--rounds` rounds: `plain` (every part drawn, each page compressed whole, as
before the parts), `draw-once` (parts replayed, pages compressed whole: `fixed_parts.SPLICE`
off) and `spliced` (parts replayed and compressed once). Prints the CPU time a person of each
(the best round and the median), how many parts were recorded and replayed, and how much of
each page's content the parts are. No signatures, QR encoding or files: this is the drawing and
writing a worker does, not its whole time (bench_issue.py --compare measures that).
"""

from __future__ import annotations

import argparse
import csv
import statistics
import sys
import time
from datetime import date, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from certgen.barcode import qr_matrix  # noqa: E402
from certgen.model import PersonRecord  # noqa: E402
from certgen.render import fixed_parts, page_writer  # noqa: E402
from certgen.render.card import CardData, render_card, render_sheet  # noqa: E402
from certgen.render.document import render_certificate  # noqa: E402
from tests.documents import templates_and_fonts  # noqa: E402

ISSUED = date(2026, 11, 24)
SEAL = "https://verifikasi.example.id/v/" + "A" * 316
MODES = {"plain": (False, False), "draw-once": (True, False), "spliced": (True, True)}


def people(count: int) -> list[CardData]:
    templates, _ = templates_and_fonts()
    with open(ROOT / "samples" / "person.csv", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    day = lambda text: datetime.strptime(text, "%d/%m/%Y").date()  # noqa: E731
    cards = []
    for i in range(count):
        row = rows[i % len(rows)]
        record = PersonRecord(f"{row['name']} {i + 1}", row["scheme_code"], templates.schemes[row["scheme_code"]],
                              row["scope"], day(row["grant_date"]), day(row["expiry_date"]),
                              str(ROOT / "samples" / row["photo"]))
        cards.append(CardData(f"SK-2026-{i + 1:06d}-6", record, qr_matrix(f"{SEAL[:-6]}{i:06d}"), record.photo, ISSUED))
    return cards


def draw_all(cards: list[CardData]) -> None:
    templates, fonts = templates_and_fonts()
    for i, card in enumerate(cards):
        render_certificate(templates, fonts, card.record, card.number, card.seal, ISSUED, card.photo)
        render_card(templates, fonts, card)
        if i % 10 == 0:
            render_sheet(templates, fonts, cards[i:i + 10], f"cards-{i // 10:04d}")


def part_shares(cards: list[CardData]) -> list[tuple[str, int, int, int]]:
    """(page, content bytes, parts, bytes in parts) of one person's certificate and card."""
    pages: list[list[str]] = []
    write = page_writer.PageCanvas._write

    def spy(canvas: page_writer.PageCanvas) -> bytes:
        pages.extend(canvas._done)
        return write(canvas)

    page_writer.PageCanvas._write = spy  # type: ignore[method-assign]
    try:
        templates, fonts = templates_and_fonts()
        render_certificate(templates, fonts, cards[0].record, cards[0].number, cards[0].seal, ISSUED, cards[0].photo)
        render_card(templates, fonts, cards[0])
    finally:
        page_writer.PageCanvas._write = write  # type: ignore[method-assign]
    names = ["certificate", "card front", "card back"]
    out = []
    for label, code in zip(names, pages):
        parts = getattr(code, "parts", [])
        out.append((label, len("\n".join(code)), len(parts), sum(len(code[at]) for at in parts)))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    cards = people(args.persons)
    calls = {"recorded": 0, "replayed": 0}
    record, replay = fixed_parts._record, fixed_parts._replay

    def counted_record(*a):  # type: ignore[no-untyped-def]
        calls["recorded"] += 1
        return record(*a)

    def counted_replay(*a):  # type: ignore[no-untyped-def]
        calls["replayed"] += 1
        return replay(*a)

    fixed_parts._record, fixed_parts._replay = counted_record, counted_replay
    draw_all(cards)  # warm: fonts, subsets, parts
    print(f"first pass: parts recorded {calls['recorded']}, replayed {calls['replayed']}, "
          f"refused {dict(fixed_parts.refusals) or 'none'}")
    fixed_parts._record, fixed_parts._replay = record, replay
    times: dict[str, list[float]] = {mode: [] for mode in MODES}
    try:
        for _ in range(args.rounds):
            for mode, (enabled, splice) in MODES.items():
                fixed_parts.ENABLED, fixed_parts.SPLICE = enabled, splice
                started = time.process_time()
                draw_all(cards)
                times[mode].append((time.process_time() - started) / len(cards) * 1e3)
    finally:
        fixed_parts.ENABLED, fixed_parts.SPLICE = True, False  # the defaults
    plain = min(times["plain"])
    for mode, values in times.items():
        print(f"{mode:10} {min(values):.3f} ms a person (median {statistics.median(values):.3f}); "
              f"plain/this {plain / min(values):.2f}")
    for label, size, count, in_parts in part_shares(cards):
        print(f"{label:12} {size} bytes of operators, {count} parts holding {in_parts} ({100 * in_parts / size:.0f}%)")


if __name__ == "__main__":
    main()
