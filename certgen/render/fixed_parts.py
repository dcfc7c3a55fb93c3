"""Fixed parts of a page: drawn (and, switched on, compressed) once per process, replayed for
every person.

Most of a certificate's or card's operators are the same for every person of a layout: the
letterhead, the microtext lines, the back text, the signature block. A layout marks such a
part with `page_writer.fixed(c, key, draw)`; on the page writer's canvas (`fixed_on`) the first
call records the operators `draw(c)` gives as one `Part`, later calls with the same key append
that part without drawing. `page_content` builds a page's content stream: whole, or (`SPLICE`)
from the parts compressed once (`certgen.render.deflate_splice`) and the rest compressed per
page. The decompressed content is the same bytes as drawing everything, so text, pixels and
files redrawn in a fresh process are unchanged; compressed whole, so is every byte of the file.

The caller's key must hold everything `draw` reads (texts, positions, template and font
identities: `token` gives one for a template value); the key used here adds what the canvas
brings in: page size, the document's font numbering (`/F{n}` names go by order of first use),
its form numbering, the current font, size and leading. A part is refused, and drawn
normally ever after for that key (`refusals` says why), when replaying it could differ: it ends
the page, defines a form, draws an image, restores a graphics state saved before it or leaves
one saved, or sets document information. Text other than printable ASCII gets codes from the
document's font state (certgen/adapters/reportlab.py): such a part is replayed only when the
states of its fonts are those it was recorded from, and leaves them as drawing it would.
"""

from __future__ import annotations

import itertools
import weakref
from collections import OrderedDict
from dataclasses import fields, is_dataclass
from enum import Enum
from pathlib import PurePath
from typing import Any, Callable, Hashable, Mapping

from reportlab.pdfbase import pdfmetrics

from ..adapters import reportlab as adapter
from .deflate_splice import Compressed, compress_once, splice
from .pdf_objects import FLATE_LEVEL, flate

#: Switch for tests and benchmarks: False draws every part normally.
ENABLED = True
#: Splice parts compressed once into the pages' streams (`page_content`). Off: each page is
#: compressed whole, and the files are byte for byte those drawn without parts, so a file
#: issued before parts existed is still drawn again identical (a rerun's repair compares
#: SHA-256). Splicing saves no time measurable in a batch (docs/benchmarks.md) and changes those
#: bytes, so it stays off unless a deployment has no such files to repair.
SPLICE = False
#: Flate level of the parts (compressed once per process).
ONCE_LEVEL = 9
_ENTRIES = 512
_VARIANTS = 4  # recordings of one key from different font states (text other than ASCII)


class Part(str):
    """A fixed part's operators joined by newlines: on the page like any operator string (the
    page's operators joined give the same content), compressed once (`compressed`)."""

    def compressed(self) -> Compressed:
        found: Compressed | None = self.__dict__.get("deflated")
        if found is None:
            found = self.__dict__["deflated"] = compress_once(self.encode("latin-1"), ONCE_LEVEL)
        return found


class _Code(list):  # type: ignore[type-arg]
    """A page's operators with the positions of its parts (`page_content` splices there)."""

    parts: list[int]


class _Recorded:
    __slots__ = ("part", "after", "new_fonts", "fonts", "states", "result")

    def __init__(self, part: Part | None, after: tuple[str, float, float], new_fonts: tuple[str, ...],
                 fonts: tuple[tuple[str, Any], ...], states: tuple[tuple[str, Any, Any], ...], result: Any) -> None:
        self.part, self.after, self.new_fonts, self.fonts, self.states, self.result = (part, after, new_fonts, fonts,
                                                                                       states, result)


class _Refused:
    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason


_entries: OrderedDict[tuple[Any, ...], _Refused | list[_Recorded]] = OrderedDict()
#: Why a key's part is drawn normally, by the caller's key (the last few).
refusals: OrderedDict[Hashable, str] = OrderedDict()


def fixed_on(canvas: Any, key: Hashable, draw: Callable[[Any], Any]) -> Any:
    """`draw(canvas)` on a page writer's canvas, recorded once and replayed (module docstring);
    returns what `draw` returned when it was recorded."""
    if not ENABLED or canvas._form is not None or "_fixed_watch" in canvas.__dict__:
        return draw(canvas)  # inside a form, or inside another part: drawn as it is
    full = (key, canvas._pagesize, tuple(canvas._fonts), tuple(canvas._forms), canvas._font, canvas._size,
            canvas._leading)
    entry = _entries.get(full)
    if type(entry) is _Refused:
        return draw(canvas)
    if entry is not None:
        for recorded in entry:
            if _replayable(canvas, recorded):
                return _replay(canvas, recorded)
    outcome, result = _record(canvas, draw)
    if type(outcome) is _Refused:
        _entries[full] = outcome
        refusals[key] = outcome.reason
        if len(refusals) > 64:
            refusals.popitem(last=False)
    elif entry is None or not outcome.states:
        _entries[full] = [outcome]
    else:
        entry.insert(0, outcome)
        del entry[_VARIANTS:]
    if len(_entries) > _ENTRIES:
        _entries.popitem(last=False)
    return result


def _replayable(canvas: Any, recorded: _Recorded) -> bool:
    text = canvas._text
    return (all(pdfmetrics.getFont(name) is font for name, font in recorded.fonts)
            and all(adapter.font_state_is(name, text, before) for name, before, _ in recorded.states))


def _replay(canvas: Any, recorded: _Recorded) -> Any:
    fonts = canvas._fonts
    for name in recorded.new_fonts:  # numbered in the order drawing gave them
        fonts[name] = len(fonts) + 1
        adapter.start_font(name, canvas._text)
    for name, _, after in recorded.states:
        adapter.set_font_state(name, canvas._text, after)
    if recorded.part is not None:
        _append(canvas, recorded.part)
    canvas._font, canvas._size, canvas._leading = recorded.after
    return recorded.result


def _append(canvas: Any, part: Part) -> None:
    code = canvas._code
    if type(code) is not _Code:  # the page's list, so far without parts
        code = canvas._code = _Code(code)
        code.parts = []
    code.parts.append(len(code))
    code.append(part)


class _Watch:
    """What a part does while it is recorded: instance attributes shadow four canvas methods."""

    def __init__(self, canvas: Any) -> None:
        self.canvas, self.depth, self.reason = canvas, len(canvas._stack), ""
        self.fonts: dict[str, None] = {}
        self.stateful: dict[str, None] = {}
        kind = type(canvas)

        def draw_string(x: float, y: float, text: str) -> None:
            self.fonts[canvas._font] = None
            if not (text.isascii() and text.isprintable()):
                self.stateful[canvas._font] = None
            kind.drawString(canvas, x, y, text)

        def draw_image(*args: Any, **kwargs: Any) -> Any:
            self.refuse("it draws an image")
            return kind.drawImage(canvas, *args, **kwargs)

        def restore_state() -> None:
            if len(canvas._stack) <= self.depth:
                self.refuse("it restores a graphics state saved before it")
            kind.restoreState(canvas)

        def begin_form(*args: Any, **kwargs: Any) -> None:
            self.refuse("it defines a form")
            kind.beginForm(canvas, *args, **kwargs)

        canvas.__dict__.update(_fixed_watch=self, drawString=draw_string, drawImage=draw_image,
                               restoreState=restore_state, beginForm=begin_form)

    def refuse(self, reason: str) -> None:
        self.reason = self.reason or reason

    def remove(self) -> None:
        for attribute in ("_fixed_watch", "drawString", "drawImage", "restoreState", "beginForm"):
            self.canvas.__dict__.pop(attribute, None)


def _record(canvas: Any, draw: Callable[[Any], Any]) -> tuple[_Recorded | _Refused, Any]:
    code, pages, forms = canvas._code, len(canvas._done), len(canvas._forms)
    start, info, signature = len(code), dict(canvas._info), canvas._signature
    fonts_before = tuple(canvas._fonts)
    states_before = {name: adapter.font_state(name, canvas._text) for name in fonts_before}
    watch = _Watch(canvas)
    try:
        result = draw(canvas)
    finally:
        watch.remove()
    if canvas._code is not code or len(canvas._done) != pages or canvas._form is not None:
        watch.refuse("it ends the page or leaves a form open")
    elif len(canvas._forms) != forms:
        watch.refuse("it defines a form")
    elif len(canvas._stack) != watch.depth:
        watch.refuse("it leaves a graphics state saved")
    elif canvas._info != info or canvas._signature is not signature:
        watch.refuse("it sets document information")
    if watch.reason:
        return _Refused(watch.reason), result
    operators = code[start:]
    part = None
    if operators:
        part = Part("\n".join(operators))
        del code[start:]
        _append(canvas, part)
    states = tuple((name, states_before.get(name), adapter.font_state(name, canvas._text)) for name in watch.stateful)
    recorded = _Recorded(part, (canvas._font, canvas._size, canvas._leading), tuple(canvas._fonts)[len(fonts_before):],
                         tuple((name, pdfmetrics.getFont(name)) for name in watch.fonts), states, result)
    return recorded, result


def page_content(code: list[str]) -> bytes:
    """A page's content stream, Flate-compressed: its operators joined by newlines. Parts are
    spliced in compressed as they were once (`deflate_splice`); the same bytes decompressed.
    A page that shows a part twice (a print sheet's ten cards) is compressed whole: there the
    copies compress to almost nothing against the first, spliced each would cost its full size."""
    parts = getattr(code, "parts", None)
    if (not parts or not SPLICE or parts[-1] >= len(code) or any(type(code[at]) is not Part for at in parts)
            or any(a >= b for a, b in zip(parts, parts[1:])) or len({id(code[at]) for at in parts}) < len(parts)):
        return flate("\n".join(code).encode("latin-1"))
    pieces: list[bytes | Compressed] = []
    low = 0
    for at in parts:
        if low < at:
            pieces.append((("\n" if low else "") + "\n".join(code[low:at]) + "\n").encode("latin-1"))
        elif at:
            pieces.append(b"\n")  # between two parts
        pieces.append(code[at].compressed())  # type: ignore[attr-defined]
        low = at + 1
    if low < len(code):
        pieces.append(("\n" + "\n".join(code[low:])).encode("latin-1"))
    return splice(pieces, FLATE_LEVEL)


_tokens: dict[Hashable, int] = {}
#: Token numbers are never given twice in a process: a key may hold a number from before the
#: table was forgotten next to one from after it, which must not match other content later.
_numbers = itertools.count()
_token_of: dict[int, tuple[Any, int]] = {}  # id(object) -> (weak reference, token)


def token(value: Any) -> int:
    """A number standing for a template value's whole content (dataclasses, mappings, sequences,
    strings, numbers, paths): equal content, equal number. For parts' keys, so that no field a
    drawing reads is left out; worked out once per object while it lives."""
    found = _token_of.get(id(value))
    if found is not None and found[0]() is value:
        return found[1]
    if len(_tokens) >= 1024:  # equal content gets a new number after this: forget what they keyed
        _tokens.clear()
        _token_of.clear()
        _entries.clear()
    image = _image(value)
    number = _tokens.get(image)
    if number is None:
        number = _tokens[image] = next(_numbers)
    if len(_token_of) >= 4096:  # objects gone since: only the memo is forgotten
        _token_of.clear()
    try:
        _token_of[id(value)] = (weakref.ref(value), number)
    except TypeError:  # no weak references to it: worked out on every call
        pass
    return number


def _image(value: Any) -> Hashable:
    if value is None or isinstance(value, (str, bytes, int, float, Enum)):
        return value
    if isinstance(value, PurePath):
        return ("path", str(value))
    if is_dataclass(value) and not isinstance(value, type):
        return (type(value).__qualname__, tuple(_image(getattr(value, f.name)) for f in fields(value)))
    if isinstance(value, Mapping):
        return ("map", tuple(sorted(((_image(k), _image(v)) for k, v in value.items()), key=repr)))
    if isinstance(value, (list, tuple)):
        return tuple(_image(v) for v in value)
    raise TypeError(f"no fixed-part key for a {type(value).__name__}")
