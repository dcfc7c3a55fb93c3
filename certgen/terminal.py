"""Text for a terminal: what the public, a seal, a file or a database row says is shown, never
acted on. The one escaping helper of every command that prints stored or user-supplied text
(`certgen` and `certverify`; re-exported by certgen.cli_support, used by verify.formats).
No dependencies: library code may import it."""

from __future__ import annotations

import re

#: Characters a terminal would act on rather than show: bidirectional overrides and isolates,
#: the Unicode line and paragraph separators (besides the C0 and C1 controls and DEL).
_TERMINAL_ACTIVE = {0x202A, 0x202B, 0x202C, 0x202D, 0x202E, 0x2066, 0x2067, 0x2068, 0x2069, 0x2028, 0x2029}
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
#: The same set as one character class: a search runs in C (a report line of `certverify pdf`
#: is 2 KB; testing it a character at a time in Python cost 0.18 ms a file).
_ACTIVE = re.compile("[\x00-\x1f\x7f-\x9f" + "".join(chr(c) for c in sorted(_TERMINAL_ACTIVE)) + "]")
_ACTIVE_IN_JSON = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f" + "".join(chr(c) for c in sorted(_TERMINAL_ACTIVE)) + "]")


def _escape_char(char: str) -> str:
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _is_active(char: str) -> bool:
    code = ord(char)
    return code < 0x20 or 0x7F <= code < 0xA0 or code in _TERMINAL_ACTIVE


def safe(value: object, limit: int | None = None) -> str:
    """`value` as text that a terminal shows and never acts on: control characters (escape
    sequences, OSC 52 clipboard writes, OSC 8 links, carriage returns), line breaks (a report
    line cannot be forged), DEL, C1 controls, bidirectional overrides and line separators
    become visible escapes (`\\x1b`, `\\n`, `\\u202e`); with `limit`, cut at that many characters
    (then "..."). Use it on every stored or user-supplied value a command prints; never on the
    command's own layout."""
    text = "" if value is None else str(value)
    more = "..." if limit is not None and len(text) > limit else ""
    if more:
        text = text[:limit]
    if not _ACTIVE.search(text):  # the common case: nothing to do
        return text + more
    return "".join(_escape_char(c) if _is_active(c) else c for c in text) + more


def safe_json(data: object, **kwargs: object) -> str:
    """JSON for a terminal: `json.dumps(..., ensure_ascii=False)` keeps names readable but lets
    DEL, C1 controls and bidirectional overrides through raw; they are written as `\\uXXXX`
    escapes here, which is still the same JSON."""
    import json

    text = json.dumps(data, ensure_ascii=False, **kwargs)  # type: ignore[arg-type]
    if not _ACTIVE_IN_JSON.search(text):  # line breaks are the layout of `indent=`
        return text
    return _ACTIVE_IN_JSON.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
