"""certgen.terminal's escaping searches with a regular expression (fast on a 2 KB report line);
it must escape exactly the characters the per-character rule names, no more, no fewer."""

from __future__ import annotations

import json
import random

from certgen.terminal import _escape_char, _is_active, safe, safe_json


def _reference_safe(text: str) -> str:
    return "".join(_escape_char(c) if _is_active(c) else c for c in text)


def _reference_json(data: object, **kwargs: object) -> str:
    text = json.dumps(data, ensure_ascii=False, **kwargs)  # type: ignore[arg-type]
    return "".join(f"\\u{ord(c):04x}" if _is_active(c) and c != "\n" else c for c in text)


_SAMPLE = [chr(c) for c in range(0x2200)] + ["\U0001F600", "\ufeff", "\ue000"]


def test_every_character_is_escaped_as_the_rule_says():
    for char in _SAMPLE:
        assert safe(char) == _reference_safe(char), hex(ord(char))
        assert safe_json({"k": char}) == _reference_json({"k": char}), hex(ord(char))


def test_mixed_texts_and_indented_json_match_the_rule():
    rnd = random.Random(15)
    hostile = ["\x1b]52;c;", "\u202e", "\x9b", "\r", "\n", "\u2028", "Ayu", "Lestari", "é", "\x7f", "\t"]
    for _ in range(2000):
        text = "".join(rnd.choice(hostile + _SAMPLE[:300]) for _ in range(rnd.randint(0, 12)))
        assert safe(text) == _reference_safe(text)
        assert safe(text, limit=5) == _reference_safe(text[:5]) + ("..." if len(text) > 5 else "")
        for kwargs in ({}, {"indent": 2}):
            line = safe_json({"name": text, "list": [text]}, **kwargs)
            assert line == _reference_json({"name": text, "list": [text]}, **kwargs)
            assert json.loads(line) == {"name": text, "list": [text]}


def test_layout_line_breaks_of_indented_json_stay():
    assert safe_json({"a": 1}, indent=2) == '{\n  "a": 1\n}'
    assert safe_json({"a": "x\u202ey"}) == '{"a": "x\\u202ey"}'
