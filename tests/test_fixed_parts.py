"""Fixed parts of pages (certgen/render/fixed_parts.py, `page_writer.fixed`): recorded once,
replayed for every person, compressed once and spliced into the page's content stream.

Every layout's pages decompress to the same bytes with and without the parts, so text, pixels
and the page writer's comparisons with ReportLab (tests/test_page_writer.py) are unchanged;
each reason a part is not replayed is checked, and that the page drawn then is the same too.
"""

from __future__ import annotations

import io
import zlib
from dataclasses import dataclass, replace
from datetime import date

import pikepdf
import pytest

from certgen.barcode import qr_matrix
from certgen.render import fixed_parts, page_writer
from certgen.render.card import CardData, render_card, render_sheet
from certgen.render.document import render_certificate
from certgen.render.pdf_settings import new_canvas
from tests.documents import PHOTO, page_texts, person, product, templates_and_fonts, training

SEAL = "https://verifikasi.example.id/v/" + "A" * 316
ISSUED = date(2026, 11, 24)


def _contents(pdf: bytes) -> list[bytes]:
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        assert doc.check_pdf_syntax() == []
        return [page.Contents.read_bytes() for page in doc.pages]


def _without_parts(draw):
    fixed_parts.ENABLED = False
    try:
        return draw()
    finally:
        fixed_parts.ENABLED = True


@pytest.fixture(params=[False, True], ids=["whole", "spliced"])
def splice(request, monkeypatch):
    monkeypatch.setattr(fixed_parts, "SPLICE", request.param)
    return request.param


def _same_pages(draw) -> bytes:
    """Draw twice with parts (recording, then replaying) and once without: the same content;
    with pages compressed whole (`SPLICE` off, the default) the same file, byte for byte."""
    first, second, plain = draw(), draw(), _without_parts(draw)
    assert b"/Producer (certgen page writer)" in second
    assert _contents(first) == _contents(second) == _contents(plain)
    assert first == second
    if not fixed_parts.SPLICE:
        assert first == plain
    return second


@pytest.mark.parametrize("record", [person(), person("Ñuñez Nguyễn Thị · Ångström"), person(photo=None), product(),
                                    product(1), training()], ids=["person", "latin", "no-photo", "product", "type-1",
                                                                  "training"])
def test_certificate_pages_are_the_same_with_and_without_parts(record, splice):
    templates, fonts = templates_and_fonts()
    for replaces in (None, "SK-2026-000001-E"):
        pdf = _same_pages(lambda: render_certificate(templates, fonts, record, "SK-2026-000123-6", qr_matrix(SEAL),
                                                     ISSUED, getattr(record, "photo", None), replaces=replaces))
        assert _spliced(pdf) is splice


def test_card_and_sheet_pages_are_the_same_with_and_without_parts(splice):
    templates, fonts = templates_and_fonts()
    names = ["Siti Aminah", "Ñuñez · Çelik", "Budi", "Nguyễn Thị", "A" * 60]
    for name in names:
        card = CardData("SK-2026-000123-6", person(name), qr_matrix(SEAL + name), PHOTO, ISSUED)
        assert _spliced(_same_pages(lambda: render_card(templates, fonts, card))) is splice
        _same_pages(lambda: render_card(templates, fonts, replace(card, edition=2, replaces="SK-2026-000001-E",
                                                                  photo=None)))
    cards = [CardData(f"SK-2026-00012{i}-6", person(n), qr_matrix(SEAL + n), PHOTO, ISSUED) for i, n in enumerate(names)]
    _same_pages(lambda: render_sheet(templates, fonts, cards, "cards-0001"))
    _same_pages(lambda: render_sheet(templates, fonts, cards[::-1] * 2, "cards-0002"))


def _spliced(pdf: bytes) -> bool:
    """Whether some page's stream holds a part's once-compressed bytes."""
    parts = [r.part for entry in fixed_parts._entries.values() if isinstance(entry, list) for r in entry
             if r.part is not None]
    return any(part.compressed().deflate in pdf for part in parts)


# -- on a canvas ----------------------------------------------------------------------------

def _canvas() -> page_writer.PageCanvas:
    return page_writer.PageCanvas(io.BytesIO(), (200, 200), templates_and_fonts()[1].regular)


def _page(draw, enabled: bool = True) -> tuple[str, page_writer.PageCanvas]:
    """The first page's operators joined (what its content stream holds) and the canvas."""
    fixed_parts.ENABLED = enabled
    try:
        c = _canvas()
        draw(c)
        if c._code or not c._done:
            c.showPage()
        return "\n".join(c._done[0]), c
    finally:
        fixed_parts.ENABLED = True


class _Counted:
    """A part's drawing that counts its calls."""

    def __init__(self, body):
        self.body, self.calls = body, 0

    def __call__(self, c):
        self.calls += 1
        return self.body(c)


def _key(name: str) -> tuple[str, int]:
    _key.n += 1  # type: ignore[attr-defined]
    return (name, _key.n)  # type: ignore[attr-defined]


_key.n = 0  # type: ignore[attr-defined]


def test_a_part_is_drawn_once_and_replayed_with_its_result_and_canvas_state():
    fonts = templates_and_fonts()[1]
    key = _key("label")

    def label(c):
        c.setFillColorRGB(0.2, 0.3, 0.4)
        c.setFont(fonts.bold, 9, 11)
        c.drawString(10, 150, "Nomor / Number")
        return 42

    part = _Counted(label)

    def draw(c):
        c.drawString(10, 180, "before")
        assert page_writer.fixed(c, key, part) == 42
        c.drawString(10, 100, "after, in the part's font")  # no setFont: font, size, leading from the part

    pages = [_page(draw)[0] for _ in range(3)]
    assert part.calls == 1
    assert pages[0] == pages[1] == pages[2] == _page(draw, enabled=False)[0]
    assert "/F2+0 9 Tf 11 TL (after, in the part's font) Tj" in pages[2]


def test_on_a_reportlab_canvas_a_part_is_simply_drawn():
    part = _Counted(lambda c: c.drawString(10, 10, "x") or "drawn")
    for _ in range(2):
        c = new_canvas(io.BytesIO(), (100, 100), templates_and_fonts()[1].regular)
        assert page_writer.fixed(c, ("rl",), part) == "drawn"
    assert part.calls == 2


def test_font_numbers_follow_the_document_not_the_recording():
    """`/F{n}` numbers go by first use in the document: a part recorded where its font was
    the first is not replayed where another font came first."""
    fonts = templates_and_fonts()[1]
    key = _key("numbering")
    part = _Counted(lambda c: (c.setFont(fonts.bold, 8), c.drawString(5, 5, "Bold label")))
    alone, _ = _page(lambda c: page_writer.fixed(c, key, part))
    assert "/F1+0 8 Tf" in alone

    def after_regular(c):
        c.drawString(5, 50, "regular first")
        page_writer.fixed(c, key, part)

    second, _ = _page(after_regular)
    assert part.calls == 2 and "/F2+0 8 Tf" in second
    assert _page(after_regular)[0] == second and part.calls == 2  # that recording is replayed in turn
    assert second == _page(after_regular, enabled=False)[0]


def test_text_beyond_ascii_is_replayed_only_from_the_same_font_state():
    """Such text takes codes from the document's font state: the part is replayed where the
    state is the one it was recorded from, and leaves the state drawing it would."""
    key = _key("middle dot")
    part = _Counted(lambda c: c.drawString(5, 5, "a · b · é"))

    def drawn_after(first):
        def draw(c):
            c.drawString(5, 50, first)  # the font numbered the same either way
            page_writer.fixed(c, key, part)
            c.drawString(5, 20, "é · ü after")  # codes given after the part's
        return draw

    fresh, other_state = drawn_after("ASCII first"), drawn_after("Ñ é first")

    first = _page(fresh)[0]
    assert _page(fresh)[0] == first and part.calls == 1
    other = _page(other_state)[0]
    assert part.calls == 2  # not replayed from the fresh state's recording
    assert _page(other_state)[0] == other and _page(fresh)[0] == first and part.calls == 2  # both kept
    assert first == _page(fresh, enabled=False)[0] and other == _page(other_state, enabled=False)[0]


def test_the_font_state_after_a_replayed_part_is_as_drawn():
    from certgen.adapters import reportlab as adapter

    fonts = templates_and_fonts()[1]
    key = _key("state")
    draw = lambda c: page_writer.fixed(c, key, lambda c: c.drawString(5, 5, "Ωmega · ẞ"))  # noqa: E731
    _page(draw)
    replayed, plain = _page(draw)[1], _page(draw, enabled=False)[1]
    assert adapter.font_subsets(fonts.regular, replayed._text) == adapter.font_subsets(fonts.regular, plain._text)
    assert ord("Ω") in adapter.font_subsets(fonts.regular, plain._text)[0]


# -- refusals: drawn normally, and the page is the same -------------------------------------

@dataclass
class _Refusal:
    body: object
    reason: str


def _image(c):
    c.drawImage(PHOTO, 10, 10, 20, 20)


def _form(c):
    c.beginForm("f")
    c.rect(0, 0, 1, 1)
    c.endForm()
    c.doForm("f")


def _info(c):
    c.setTitle("Title")
    c.drawString(5, 5, "x")


def _restores_outer(c):
    c.restoreState()
    c.drawString(5, 5, "x")


def _leaves_saved(c):
    c.saveState()
    c.drawString(5, 5, "x")


def _ends_page(c):
    c.drawString(5, 5, "x")
    c.showPage()


REFUSALS = {
    "image": _Refusal(_image, "it draws an image"),
    "form": _Refusal(_form, "it defines a form"),
    "information": _Refusal(_info, "it sets document information"),
    "restores": _Refusal(_restores_outer, "it restores a graphics state saved before it"),
    "leaves saved": _Refusal(_leaves_saved, "it leaves a graphics state saved"),
    "ends page": _Refusal(_ends_page, "it ends the page or leaves a form open"),
}
OUTER_STATE = {"restores"}  # a graphics state saved before the part


@pytest.mark.parametrize("what", sorted(REFUSALS))
def test_a_part_replay_could_change_is_drawn_normally(what):
    refusal = REFUSALS[what]
    key = _key(what)
    part = _Counted(refusal.body)

    def draw(c):
        if what in OUTER_STATE:
            c.saveState()
        c.drawString(5, 190, "before")
        page_writer.fixed(c, key, part)
        while c._stack:
            c.restoreState()

    pages = [_page(draw)[0] for _ in range(2)]
    assert fixed_parts.refusals[key] == refusal.reason
    assert part.calls == 2  # drawn each time
    assert pages[0] == pages[1] == _page(draw, enabled=False)[0]
    assert not fixed_parts._entries.get(key)


def test_parts_inside_parts_and_forms_are_drawn_as_they_are():
    inner = _Counted(lambda c: c.rect(1, 1, 2, 2))
    outer_key, inner_key = _key("outer"), _key("inner")

    def draw(c):
        page_writer.fixed(c, outer_key, lambda c: (c.line(0, 0, 5, 5), page_writer.fixed(c, inner_key, inner)))
        c.beginForm("form")
        page_writer.fixed(c, inner_key, inner)
        c.endForm()

    first, canvas = _page(draw)
    assert inner.calls == 2  # in the outer part's recording and in the form
    assert _page(draw)[0] == first and inner.calls == 3  # the outer part replayed, the form's drawn
    assert first == _page(draw, enabled=False)[0]
    assert "n 1 1 2 2 re S" in "\n".join(canvas._forms["form"].code)


def test_pages_with_a_part_twice_are_compressed_whole(monkeypatch):
    monkeypatch.setattr(fixed_parts, "SPLICE", True)
    key = _key("twice")
    lines = lambda c: [c.drawString(5, y, "the same text on every card") for y in range(0, 200, 10)]  # noqa: E731

    def draw(c):
        c.drawString(5, 5, "the font numbered before the parts")
        for x in (0, 100):
            c.saveState()
            c.translate(x, 0)
            page_writer.fixed(c, key, lines)
            c.restoreState()

    c = _canvas()
    draw(c)
    c.showPage()
    code = c._done[0]
    assert len(code.parts) == 2
    assert fixed_parts.page_content(code) == fixed_parts.flate("\n".join(code).encode("latin-1"))


def test_tokens_stand_for_the_whole_content():
    templates, fonts = templates_and_fonts()
    token = fixed_parts.token
    assert token(templates) == token(templates)
    assert token(templates.letterhead) == token(replace(templates.letterhead))  # equal content, another object
    changed = replace(templates.letterhead, colours={**templates.letterhead.colours, "primary": "#000000"})
    assert token(changed) != token(templates.letterhead)
    assert token(replace(templates, letterhead=changed)) != token(templates)
    assert token(fonts) == token(replace(fonts))
    with pytest.raises(TypeError, match="no fixed-part key for a object"):
        token(object())


def test_a_page_whose_part_positions_are_stale_is_compressed_whole(monkeypatch):
    """Code that edits a page's operators after the parts (e.g. a list copied or cut) loses
    nothing: the page is compressed whole, the same content."""
    monkeypatch.setattr(fixed_parts, "SPLICE", True)
    key = _key("stale")

    def draw(c):
        c.drawString(5, 5, "the font numbered before the parts")
        page_writer.fixed(c, key, lambda c: c.rect(1, 2, 3, 4))
        c.line(0, 0, 1, 1)

    c = _canvas()
    draw(c)
    c.showPage()
    code = c._done[0]
    assert code.parts == [1] and zlib.decompress(fixed_parts.page_content(code)) == "\n".join(code).encode()
    assert fixed_parts.page_content(code) != fixed_parts.flate("\n".join(code).encode("latin-1"))  # spliced
    for parts in ([2], [5], [1, 1]):
        code.parts = parts
        assert fixed_parts.page_content(code) == fixed_parts.flate("\n".join(code).encode("latin-1"))


@pytest.mark.parametrize("seed", range(12))
def test_random_documents_with_parts_are_the_same_as_drawn_without(seed, monkeypatch):
    """Documents of random operations (fonts, text with and without letters beyond ASCII,
    saved states, forms) with random parts among them, drawn in turn in one process: every
    page, the font subsets and the file's content are the same as with the parts switched off."""
    import random

    from certgen.adapters import reportlab as adapter

    fonts = templates_and_fonts()[1]
    rng = random.Random(seed)
    texts = ["Nomor", "Balai Sertifikasi", "é · ü", "Ñuñez", "Ωmega", "a · b", "ẞ", "plain ASCII"]
    faces = [fonts.regular, fonts.bold, fonts.italic, fonts.title]

    def operation(c, r):
        kind = r.randrange(6)
        if kind == 0:
            c.setFont(r.choice(faces), r.choice([6, 8.5, 12]))
        elif kind in (1, 2):
            c.drawString(r.randrange(200), r.randrange(200), r.choice(texts))
        elif kind == 3:
            c.rect(1, 2, r.randrange(1, 9), 4, fill=r.randrange(2))
        elif kind == 4:
            c.saveState()
            c.setFont(r.choice(faces), 7)
            c.drawCentredString(50, 50, r.choice(texts))
            c.restoreState()
        else:
            c.setFillColorRGB(r.random(), 0.5, 0.25)

    # parts: a fixed list of bodies, each a fixed sequence of operations (its key: its number)
    bodies = [[rng.randrange(10 ** 6) for _ in range(rng.randint(0, 5))] for _ in range(5)]
    base = _key(f"random {seed}")

    def part(number):
        def draw(c):
            for op_seed in bodies[number]:
                operation(c, random.Random(op_seed))
        return draw

    documents = [[(rng.random() < 0.4, rng.randrange(5) if rng.random() < 0.4 else rng.randrange(10 ** 6))
                  for _ in range(rng.randint(1, 25))] for _ in range(6)]

    def draw_document(steps):
        def draw(c):
            if seed % 3 == 0:
                c.beginForm("early")
                c.rect(0, 0, 3, 3)
                c.endForm()
            for is_part, value in steps:
                if is_part and value < 5:
                    page_writer.fixed(c, (base, value), part(value))
                else:
                    operation(c, random.Random(value))
            if seed % 2:
                c.doForm("early") if c.hasForm("early") else None
        return draw

    monkeypatch.setattr(fixed_parts, "SPLICE", True)
    replayed = []
    replay = fixed_parts._replay
    monkeypatch.setattr(fixed_parts, "_replay", lambda c, r: replayed.append(r) or replay(c, r))
    for _ in range(2):  # the second time round most parts are replayed
        for steps in documents:
            with_parts, c1 = _page(draw_document(steps))
            plain, c2 = _page(draw_document(steps), enabled=False)
            assert with_parts == plain
            assert c1._fonts == c2._fonts
            for font in faces:
                assert adapter.font_subsets(font, c1._text) == adapter.font_subsets(font, c2._text)
            assert zlib.decompress(fixed_parts.page_content(c1._done[0])) == plain.encode("latin-1")
    assert replayed  # not all drawn again


def test_spliced_files_read_as_reportlab_draws_them_and_their_signatures_hold(keystore, tmp_path, monkeypatch):
    """Splicing on: a signed certificate and a signed card give ReportLab's text (poppler,
    pypdf), pixels and fonts and pass qpdf's check (tests/test_page_writer.py's comparison),
    and their signatures are valid in pyHanko and pdfsig."""
    from certgen.card_files import signed_card
    from certgen.render.document import SIGNATURE_BOX
    from certgen.sign import PdfSealer
    from tests.conftest import PASSPHRASE
    from tests.signatures import make_nss_db, pdfsig, pyhanko_status
    from tests.test_page_writer import SIGNED_AT, _both, assert_equivalent

    monkeypatch.setattr(fixed_parts, "SPLICE", True)
    templates, fonts = templates_and_fonts()
    sealer = PdfSealer(keystore.current_signer(PASSPHRASE), [keystore.root_certificate()])
    record = person("Ñuñez Nguyễn Thị")

    def certificate() -> bytes:
        field = sealer.field(SIGNATURE_BOX, SIGNED_AT, reason="Certificate SK-2026-000123-6", location="Jakarta",
                             seal=SEAL)
        return sealer.complete(render_certificate(templates, fonts, record, "SK-2026-000123-6", qr_matrix(SEAL),
                                                  ISSUED, record.photo, field))

    card = CardData("SK-2026-000123-6", record, qr_matrix(SEAL), record.photo, ISSUED)
    nss = make_nss_db(tmp_path / "nss", keystore.root_cert_path)
    for tag, draw in (("certificate", certificate), ("card", lambda: signed_card(templates, fonts, sealer, card, SEAL,
                                                                                   SIGNED_AT))):
        draw()  # parts recorded: the next drawing replays them
        new, old = _both(draw)
        assert _spliced(new)
        assert_equivalent(new, old, tmp_path)
        status = pyhanko_status(new, keystore.root_certificate())
        assert status.intact and status.valid and status.trusted and status.bottom_line, status.summary()
        path = tmp_path / f"{tag}.pdf"
        path.write_bytes(new)
        assert "Signature is Valid." in pdfsig(path, nss)


def test_token_numbers_are_never_given_to_other_content_after_the_memo_is_forgotten(monkeypatch):
    """The token table is forgotten when it is full; a key made of one number from before and
    one from after (a letterhead's, remembered, and a new font set's, which empties the table)
    must not match another letterhead that gets the old number afterwards."""
    templates, fonts = templates_and_fonts()
    monkeypatch.setattr(fixed_parts, "_tokens", {})
    monkeypatch.setattr(fixed_parts, "_token_of", {})
    monkeypatch.setattr(fixed_parts, "_entries", fixed_parts.OrderedDict())
    for filler in ("a", "b", "c"):
        fixed_parts.token(filler)
    fixed_parts.token(templates.letterhead)  # remembered by object
    for n in range(1024 - len(fixed_parts._tokens)):
        fixed_parts.token(f"filler {n}")
    other = replace(templates, letterhead=replace(templates.letterhead, name=replace(templates.letterhead.name,
                                                                                     id="Balai Lain")))
    fresh_fonts = replace(fonts)  # equal content, not remembered: its token empties the full table

    def draw(t):
        return render_certificate(t, fresh_fonts, person(), "SK-2026-000123-6", qr_matrix(SEAL), ISSUED)

    draw(templates)
    drawn = draw(other)
    assert "Balai Lain" in page_texts(drawn)[0]
    assert drawn == _without_parts(lambda: draw(other))


HOSTILE_NAMES = ["Siti Aminah", "Ñuñez Nguyễn Thị · Ångström", "Łukasz Żółć Ďurovič", "Ахмед Иванов",
                 "Ελένη Παπαδοπούλου", "محمد عبد الله", "שרה כהן", "Budi", "A" * 80, "Đặng Thị Ðào ǅ", "王小明", "x"]


def hostile_documents() -> list[tuple[str, object]]:
    """(label, draw) of a batch mixing scripts, optional fields left out, successors, card
    editions, the three kinds, sheets, and templates changed between batches of one process."""
    templates, fonts = templates_and_fonts()
    lh = templates.letterhead
    changed = replace(templates, letterhead=replace(lh, name=replace(lh.name, id="Balai Sértifikasi Ñ"),
                                                    microtext="ÅBC·MICRO ", city="Sürabaya", signatory_name="Dr. Žž"))
    card_title = replace(templates, card=replace(templates.card, title=replace(templates.card.title, id="Kartu Ö")))
    out: list[tuple[str, object]] = []
    for t, ts in enumerate((templates, changed, card_title, templates)):
        for i, name in enumerate(HOSTILE_NAMES):
            record, number = person(name, photo=PHOTO if i % 3 else None), f"SK-2026-{i:06d}-{t}"
            out.append((f"certificate {t} {i}", lambda ts=ts, record=record, number=number, i=i: render_certificate(
                ts, fonts, record, number, qr_matrix(SEAL + number), date(2026, 11, 24 - i % 3), record.photo,
                replaces="SK-2025-000001-E" if i % 4 == 1 else None)))
        for label, record in (("product", product()), ("type-1", product(1)), ("training", training())):
            out.append((f"{label} {t}", lambda ts=ts, record=record: render_certificate(ts, fonts, record, "S-1",
                                                                                       qr_matrix(SEAL), ISSUED)))
        cards = [CardData(f"SK-2026-{i:06d}-{t}", person(name), qr_matrix(SEAL + "c" * (i * 30) + name),
                          PHOTO if i % 2 else None, date(2026, 11, 20 + i % 2), edition=1 + i % 3,
                          replaces="SK-2025-000009-X" if i % 4 == 2 else None)
                 for i, name in enumerate(HOSTILE_NAMES[:10])]
        out += [(f"card {t} {i}", lambda ts=ts, card=card: render_card(ts, fonts, card)) for i, card in enumerate(cards)]
        out.append((f"sheet {t}", lambda ts=ts, cards=tuple(cards): render_sheet(ts, fonts, cards, f"L{t}")))
    return out


def _drawn_alone_without_parts() -> None:  # run in a fresh process (the test below)
    import hashlib
    import sys

    from certgen.render import card

    fixed_parts.ENABLED = False
    for label, draw in reversed(hostile_documents()):
        card._drawn.clear()  # a sheet's cards drawn again, as on a rerun
        sys.stdout.write(f"{label}\t{hashlib.sha256(draw()).hexdigest()}\n")


def test_a_hostile_batch_with_parts_is_each_document_drawn_alone_without_them():
    """No person's data in another's document: every file of a mixed batch drawn in one process
    with fixed parts is, byte for byte, the file drawn in a fresh process without parts (in the
    reverse order, sheets from cards drawn again)."""
    import hashlib
    import os
    import subprocess
    import sys

    documents = hostile_documents()
    with_parts = {label: hashlib.sha256(draw()).hexdigest() for label, draw in documents}
    alone = subprocess.run([sys.executable, "-c", "from tests.test_fixed_parts import _drawn_alone_without_parts as d; d()"],
                           capture_output=True, text=True, check=True, timeout=300,
                           env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}).stdout
    without = dict(line.split("\t") for line in alone.splitlines())
    assert len(with_parts) == len(documents) == len(without) == 104
    assert {label for label, digest in with_parts.items() if without[label] != digest} == set()
    assert len(set(with_parts.values())) == 98  # all differ but the three kinds under unchanged certificates
