"""One zlib stream spliced from pieces compressed at different times (RFC 1950, RFC 1951).

A page's content stream is mostly the same operators for every person of a layout (the
letterhead, labels, the back text: certgen/render/fixed_parts.py). Such a piece is compressed
once per process (`compress_once`) into raw deflate blocks, none marked final, ending on a
byte boundary after a full flush: its back-references stay inside it, so it decodes the same
wherever it is put. `splice` compresses the pieces that change with one compressor a page,
full-flushing before each piece compressed once (so nothing after it refers back past it),
and joins: the zlib header, the deflate pieces in order, a final block, and the Adler-32 of
the whole uncompressed content. `zlib.decompress` of the result is the pieces joined, exactly.

No third-party imports; nothing here knows of PDF.
"""

from __future__ import annotations

import zlib
from typing import Iterable

_HEADERS = {level: zlib.compress(b"", level)[:2] for level in range(0, 10)}  # CMF, FLG as zlib writes them


class Compressed:
    """A piece compressed once: `data` and its raw deflate blocks (`deflate`), not final,
    byte-aligned at the end, referring to nothing outside `data`."""

    __slots__ = ("data", "deflate")

    def __init__(self, data: bytes, deflate: bytes) -> None:
        self.data, self.deflate = data, deflate


def compress_once(data: bytes, level: int = 9) -> Compressed:
    """`data` as a piece that `splice` can put anywhere in a stream."""
    compressor = zlib.compressobj(level, zlib.DEFLATED, -zlib.MAX_WBITS)
    return Compressed(data, compressor.compress(data) + compressor.flush(zlib.Z_FULL_FLUSH))


def splice(pieces: Iterable[bytes | Compressed], level: int = 1) -> bytes:
    """The zlib stream of the pieces joined; `bytes` pieces are compressed here at `level`
    (one compressor for all of them: creating one allocates about 256 KB), `Compressed` ones
    are copied."""
    out = [_HEADERS[level]]
    adler = 1  # Adler-32 of nothing
    compressor = zlib.compressobj(level, zlib.DEFLATED, -zlib.MAX_WBITS)
    pending = False  # bytes given to the compressor since its last flush
    for piece in pieces:
        if type(piece) is Compressed:
            if pending:  # reset its history: what follows must not refer back past the piece
                out.append(compressor.flush(zlib.Z_FULL_FLUSH))
                pending = False
            out.append(piece.deflate)
            adler = zlib.adler32(piece.data, adler)
        elif piece:
            out.append(compressor.compress(piece))  # type: ignore[arg-type]
            adler = zlib.adler32(piece, adler)  # type: ignore[arg-type]
            pending = True
    out.append(compressor.flush(zlib.Z_FINISH))  # the final block (empty after a Compressed piece)
    out.append(adler.to_bytes(4, "big"))
    return b"".join(out)
