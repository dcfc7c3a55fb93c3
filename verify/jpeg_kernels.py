"""Numba kernels of verify.jpeg_speculative: baseline Huffman decoding and libjpeg's 4x4 IDCT.

Compiled (and cached on disk) by `verify.jpeg_speculative.warm`; nothing here is imported by a
process that does not ask for the speculative decoder, so a one-shot command never pays for
numba. Every array index is bounded by the caller's sizes or by an explicit check (`_refill`
never reads the entropy data at or past `stop`, at most its length; `build_table` checks a
table's code count before it writes a code); the tests run these kernels under
`NUMBA_BOUNDSCHECK=1` on hostile files to prove it.

The pixels are libjpeg-turbo's own for a greyscale decode at 1/2 scale (`jpeg_idct_4x4`,
integer arithmetic, its range limit table, used only where its outputs are those of the SIMD
`jsimd_idct_4x4` too), so a file decoded here gives exactly what `cv2.imdecode(...,
IMREAD_REDUCED_GRAYSCALE_2 | IMREAD_IGNORE_ORIENTATION)` gives: the tests compare them pixel for
pixel.
"""

from __future__ import annotations

import numpy as np
from numba import njit

#: Bits looked up at once: codes up to this length (and AC codes with their value bits) decode
#: in one table read; longer ones walk the canonical code limits.
FAST_BITS = 12
#: A dequantised coefficient at or above this (in magnitude) is outside anything an 8-bit
#: encoder writes; libjpeg-turbo's SIMD inverse DCT and its C one differ there, so the file goes
#: back to libjpeg (ERROR_RANGE).
COEF_LIMIT = 4096
#: Limit of the inverse DCT's intermediate values (the same reason).
WORK_LIMIT = 16384
#: An output of the inverse DCT (before the +128 level shift) must lie in -OUTPUT_LIMIT ..
#: OUTPUT_LIMIT - 1: there the C range limit table (indexed by value & 1023) and the SIMD
#: transform's saturation (packsswb) give the same pixel; beyond it the C table wraps (600 -> 0)
#: where the SIMD one gives 255. Real photos stay far inside; a crafted file goes back to libjpeg.
OUTPUT_LIMIT = 512

OK = 0
ERROR_CODE = 1  # a bit pattern that is no Huffman code of the table
ERROR_PAST_END = 3  # the MCU needed bits beyond the entropy data (a marker or the end of the file)
ERROR_RANGE = 4  # a coefficient or a DC predictor outside what a real 8-bit JPEG holds

#: Natural (row-major) position of the k-th coefficient in zigzag order; 16 extra entries absorb
#: a run past the 63rd, as libjpeg's table does.
ZIGZAG = np.array([0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48,
                   41, 34, 27, 20, 13, 6, 7, 14, 21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23,
                   30, 37, 44, 51, 58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63]
                  + [63] * 16, dtype=np.int64)


def range_limit() -> np.ndarray:
    """libjpeg's post-IDCT range limit table, indexed by (value & 1023): values -128..127 map to
    0..255, 128..511 to 255, -512..-129 to 0, and the table repeats (jdmaster.c)."""
    index = np.arange(1024)
    return np.where(index < 128, index + 128, np.where(index < 512, 255, np.where(index < 896, 0, index - 896))
                    ).astype(np.uint8)


@njit(cache=True, nogil=True)
def build_table(bits, values, is_dc, look, fast_ac, maxcode, valptr, mincode, hvals):
    """One Huffman table from its DHT counts (16) and symbols into the given arrays; False for a
    table libjpeg refuses (jpeg_make_d_derived_tbl: more codes than fit, a DC symbol above 15).
    `look[j]` = symbol << 8 | length for the code that starts `j` (FAST_BITS bits), 0 if longer;
    `fast_ac[j]` = value << 16 | run << 8 | length with the value bits, 0 if not in FAST_BITS."""
    total = 0
    for length in range(16):
        total += bits[length]
    if total > 256 or total > values.shape[0]:
        return False
    for i in range(total):
        hvals[i] = values[i]
        if is_dc and values[i] > 15:
            return False
    for j in range(1 << FAST_BITS):
        look[j] = 0
        fast_ac[j] = 0
    for length in range(18):
        maxcode[length] = -1
        valptr[length] = 0
        mincode[length] = 0
    code = 0
    k = 0
    for length in range(1, 17):
        count = bits[length - 1]
        if count:
            # libjpeg: "code >= 1 << si" after the codes of this length (no code is all ones);
            # checked before the codes are written, which would otherwise run past `look`
            if code + count >= (1 << length):
                return False
            valptr[length] = k
            mincode[length] = code
            for _ in range(count):
                if length <= FAST_BITS:
                    shift = FAST_BITS - length
                    for j in range(code << shift, (code + 1) << shift):
                        look[j] = (hvals[k] << 8) | length
                code += 1
                k += 1
            maxcode[length] = code - 1
        code <<= 1
    if not is_dc:
        for j in range(1 << FAST_BITS):
            entry = look[j]
            if entry == 0:
                continue
            length = entry & 255
            symbol = entry >> 8
            size = symbol & 15
            if size and length + size <= FAST_BITS:
                raw = (j >> (FAST_BITS - length - size)) & ((1 << size) - 1)
                value = raw if raw >= (1 << (size - 1)) else raw - (1 << size) + 1
                fast_ac[j] = (value << 16) | ((symbol >> 4) << 8) | (length + size)
    return True


@njit(inline="always")
def _slow_symbol(acc, nbits, table, maxcode, valptr, mincode, hvals):
    """(symbol, length) of a code longer than FAST_BITS; length 0 for no valid code."""
    code = (acc >> (nbits - 16)) & 0xFFFF
    length = FAST_BITS + 1
    while length <= 16 and (code >> (16 - length)) > maxcode[table, length]:
        length += 1
    if length > 16:
        return 0, 0
    index = valptr[table, length] + (code >> (16 - length)) - mincode[table, length]
    if index < 0 or index > 255:
        return 0, 0
    return hvals[table, index], length


@njit(inline="always")
def idct_4x4(c, image32, y0, x, work, limit):
    """libjpeg's jpeg_idct_4x4 of one block of dequantised coefficients `c` (natural order, each
    below COEF_LIMIT) into the 4x4 pixels at row y0, word x of `image32` (the 1/2-scale image
    seen as 4-pixel words). Without libjpeg's zero-column shortcuts, which give the same values.
    False when an intermediate reaches WORK_LIMIT or an output leaves -OUTPUT_LIMIT ..
    OUTPUT_LIMIT - 1 (where libjpeg-turbo's SIMD and C transforms part)."""
    big = 0
    for col in range(8):
        if col == 4:  # the 4x4 transform does not use the fifth column or row
            continue
        tmp0 = c[col] << 14
        tmp2 = c[16 + col] * 15137 - c[48 + col] * 6270
        tmp10 = tmp0 + tmp2
        tmp12 = tmp0 - tmp2
        z1 = c[56 + col]
        z2 = c[40 + col]
        z3 = c[24 + col]
        z4 = c[8 + col]
        t0 = -z1 * 1730 + z2 * 11893 - z3 * 17799 + z4 * 8697
        t2 = -z1 * 4176 - z2 * 4926 + z3 * 7373 + z4 * 20995
        w0 = (tmp10 + t2 + 2048) >> 12
        w1 = (tmp12 + t0 + 2048) >> 12
        w2 = (tmp12 - t0 + 2048) >> 12
        w3 = (tmp10 - t2 + 2048) >> 12
        big |= abs(w0) | abs(w1) | abs(w2) | abs(w3)
        work[col] = w0
        work[8 + col] = w1
        work[16 + col] = w2
        work[24 + col] = w3
    if big >= WORK_LIMIT:
        return False
    for r in range(4):
        o = r * 8
        a0 = work[o]
        a1 = work[o + 1]
        a2 = work[o + 2]
        a3 = work[o + 3]
        a5 = work[o + 5]
        a6 = work[o + 6]
        a7 = work[o + 7]
        tmp0 = a0 << 14
        tmp2 = a2 * 15137 - a6 * 6270
        tmp10 = tmp0 + tmp2
        tmp12 = tmp0 - tmp2
        t0 = -a7 * 1730 + a5 * 11893 - a3 * 17799 + a1 * 8697
        t2 = -a7 * 4176 - a5 * 4926 + a3 * 7373 + a1 * 20995
        r0 = (tmp10 + t2 + 262144) >> 19
        r1 = (tmp12 + t0 + 262144) >> 19
        r2 = (tmp12 - t0 + 262144) >> 19
        r3 = (tmp10 - t2 + 262144) >> 19
        if ((r0 + OUTPUT_LIMIT) | (r1 + OUTPUT_LIMIT) | (r2 + OUTPUT_LIMIT) | (r3 + OUTPUT_LIMIT)) & ~1023:
            return False
        v0 = np.uint32(limit[r0 & 1023])
        v1 = np.uint32(limit[r1 & 1023])
        v2 = np.uint32(limit[r2 & 1023])
        v3 = np.uint32(limit[r3 & 1023])
        image32[y0 + r, x] = v0 | (v1 << np.uint32(8)) | (v2 << np.uint32(16)) | (v3 << np.uint32(24))
    return True


@njit(inline="always")
def _luma_positions(layout):
    """x and y (in blocks, within the MCU) of each luma block of an MCU, in scan order."""
    count = 0
    for b in range(layout.shape[0]):
        count += layout[b, 2]
    xs = np.zeros(max(count, 1), np.int64)
    ys = np.zeros(max(count, 1), np.int64)
    i = 0
    for b in range(layout.shape[0]):
        if layout[b, 2]:
            xs[i] = layout[b, 3]
            ys[i] = layout[b, 4]
            i += 1
    return count, xs, ys


@njit(inline="always")
def _refill(data, stop, note_byte, acc, nbits, p, loaded, marker_at, end_bits, record_from):
    """Top up the bit buffer to more than 56 bits: four bytes at once where none is 0xFF (and
    `note_byte` is not among them), else byte by byte, dropping the 0x00 of a stuffed 0xFF; at
    a marker or at `stop` zero bits follow, and where that happened is noted (`marker_at`, and
    `end_bits`: the bits loaded before it). `record_from` becomes the bits loaded before
    `note_byte` when reading reaches it."""
    if p + 4 <= stop and (note_byte < p or note_byte >= p + 4) and data[p] != 0xFF and \
            data[p + 1] != 0xFF and data[p + 2] != 0xFF and data[p + 3] != 0xFF:
        acc = (acc << 32) | (np.int64(data[p]) << 24) | (np.int64(data[p + 1]) << 16) | \
            (np.int64(data[p + 2]) << 8) | np.int64(data[p + 3])
        p += 4
        nbits += 32
        loaded += 32
    while nbits <= 56:
        byte = 0
        if p == note_byte:
            record_from = loaded
        if p < stop:
            byte = data[p]
            if byte == 0xFF:
                if p + 1 < stop and data[p + 1] == 0:
                    p += 2
                else:
                    byte = 0
                    if marker_at < 0:
                        marker_at = p
                        end_bits = loaded
            else:
                p += 1
        elif marker_at < 0:
            marker_at = p
            end_bits = loaded
        acc = (acc << 8) | byte
        nbits += 8
        loaded += 8
    return acc, nbits, p, loaded, marker_at, end_bits, record_from


@njit(cache=True, nogil=True)
def decode_span(data, start, stop, layout, mcus_per_row, hmax, vmax, look, fast_ac, maxcode, valptr, mincode,
                hvals, quant, zigzag, max_mcus, note_byte, record_pos, record_pred, stop_when_recorded, direct,
                image32, limit, stored, stored_dc):
    """Decode MCUs of a baseline scan from byte `start` (at an MCU start, DC predictors 0) until
    `max_mcus` are done or, with `stop_when_recorded`, `record_pos` is full.

    `layout[b]` = (DC table, AC table, is luma, x, y) of the b-th block of an MCU. With `direct`
    the luma blocks go to `image32` (libjpeg's pixels at 1/2 scale, as 4-pixel words);
    otherwise the dequantised coefficients of the n-th luma block decoded go, without their DC,
    to `stored[n]` and its DC predictor (the absolute DC is that plus the predictor where this
    span joins the true decode) to `stored_dc[n]`.

    The first len(record_pos) MCUs that start at or after byte `note_byte` (in unstuffed bits
    counted from `start`: `from_bits`, returned) have their start and luma DC predictor
    recorded: where two spans record the same start, they decode the same bits from there on.
    `note_byte` must not follow a 0xFF byte. A span that does not stop when recorded is
    speculative: while it records, an invalid code or a value out of range makes it start the
    MCU again at the next byte it has not read, unless its reading has met a marker or the end
    (`restarted`: the last MCU so started, -1 if none). Returns (mcus done, status, records,
    byte where a marker or `stop` ended the data or -1, from_bits, byte where reading stopped,
    restarted)."""
    blocks = layout.shape[0]
    luma_blocks, luma_x, luma_y = _luma_positions(layout)
    coef = np.zeros(64, np.int64)  # zero between blocks
    work = np.zeros(32, np.int64)
    luma_done = 0
    acc = np.int64(0)
    nbits = 0
    loaded = np.int64(0)
    end_bits = np.int64(1) << 62
    marker_at = -1
    p = start
    record_from = np.int64(0) if note_byte == start else np.int64(1) << 62
    pred = np.int64(0)
    records = 0
    mcu = 0
    status = OK
    restarted = -1
    while mcu < max_mcus:
        position = loaded - nbits
        noted = False
        if position >= record_from:
            if records < record_pos.shape[0]:
                record_pos[records] = position
                record_pred[records] = pred
                records += 1
                noted = True
            elif stop_when_recorded:
                break
        for b in range(blocks):
            dc_table = layout[b, 0]
            ac_table = layout[b, 1]
            is_luma = layout[b, 2]
            # -- DC (the table lookup is written out here and for AC below: an inline helper
            # returning (symbol, length) made the whole decode 35% slower, measured)
            if nbits < 32:
                acc, nbits, p, loaded, marker_at, end_bits, record_from = _refill(
                    data, stop, note_byte, acc, nbits, p, loaded, marker_at, end_bits, record_from)
            entry = look[dc_table, (acc >> (nbits - FAST_BITS)) & ((1 << FAST_BITS) - 1)]
            if entry != 0:
                size = entry >> 8
                nbits -= entry & 255
            else:
                size, length = _slow_symbol(acc, nbits, dc_table, maxcode, valptr, mincode, hvals)
                if length == 0:
                    status = ERROR_CODE
                    break
                nbits -= length
            if size:
                value = (acc >> (nbits - size)) & ((1 << size) - 1)
                nbits -= size
                if value < (1 << (size - 1)):
                    value = value - (1 << size) + 1
                if is_luma:
                    pred += value
            if is_luma and direct:
                if pred > (1 << 30) or pred < -(1 << 30):
                    status = ERROR_RANGE
                    break
                # libjpeg keeps the DC as a JCOEF (16 bits) before dequantising it
                coef[0] = (((pred + 32768) & 0xFFFF) - 32768) * quant[0]
            # a stored block's DC is checked by idct_stored once corrected: a speculative span's
            # own predictor may be far off until it is
            # -- AC
            k = 1
            while k < 64:
                if nbits < 32:
                    acc, nbits, p, loaded, marker_at, end_bits, record_from = _refill(
                        data, stop, note_byte, acc, nbits, p, loaded, marker_at, end_bits, record_from)
                index = (acc >> (nbits - FAST_BITS)) & ((1 << FAST_BITS) - 1)
                fast = fast_ac[ac_table, index]
                if fast != 0:
                    k += (fast >> 8) & 255
                    nbits -= fast & 255
                    if is_luma:
                        z = zigzag[k]
                        coef[z] = (fast >> 16) * quant[z]
                    k += 1
                    continue
                entry = look[ac_table, index]
                if entry != 0:
                    symbol = entry >> 8
                    nbits -= entry & 255
                else:
                    symbol, length = _slow_symbol(acc, nbits, ac_table, maxcode, valptr, mincode, hvals)
                    if length == 0:
                        status = ERROR_CODE
                        break
                    nbits -= length
                run = symbol >> 4
                size = symbol & 15
                if size:
                    k += run
                    value = (acc >> (nbits - size)) & ((1 << size) - 1)
                    nbits -= size
                    if value < (1 << (size - 1)):
                        value = value - (1 << size) + 1
                    if is_luma:
                        z = zigzag[k]
                        coef[z] = value * quant[z]
                    k += 1
                elif run == 15:
                    k += 16
                else:
                    break
            if status != OK:
                break
            if is_luma:
                big = 0
                for i in range(64):
                    big |= abs(coef[i])
                if big >= COEF_LIMIT:
                    status = ERROR_RANGE
                    break
                if direct:
                    mcu_row = mcu // mcus_per_row
                    y0 = (mcu_row * vmax + layout[b, 4]) * 4
                    x = (mcu - mcu_row * mcus_per_row) * hmax + layout[b, 3]
                    if not idct_4x4(coef, image32, y0, x, work, limit):
                        status = ERROR_RANGE
                        break
                else:
                    target = stored[luma_done]
                    for i in range(64):
                        target[i] = coef[i]
                    stored_dc[luma_done] = pred
                for i in range(64):
                    coef[i] = 0
                luma_done += 1
        if status != OK:
            if noted and not stop_when_recorded and status != ERROR_PAST_END and marker_at < 0:
                # the speculative span is on a wrong chain (an invalid code, a value no encoder
                # writes): start this MCU again at the next byte not yet read, DC predictor 0.
                # Not once reading has stopped at a marker or the end: no next byte would come
                # and the zero bits would give the same error for ever.
                records -= 1
                luma_done = mcu * luma_blocks
                for i in range(64):
                    coef[i] = 0
                acc = np.int64(0)
                nbits = 0
                pred = np.int64(0)
                status = OK
                restarted = mcu
                continue
            break
        if loaded - nbits > end_bits:
            status = ERROR_PAST_END
            break
        mcu += 1
    return mcu, status, records, marker_at, record_from, p, restarted


@njit(cache=True, nogil=True)
def marker_after(data, at):
    """Where libjpeg's reader, at byte `at` of entropy data, finds the next marker (0xFF, fill
    0xFF bytes, then a byte other than 0: 0xFF 0xFF 0x00 is a data byte to libjpeg); -1 where
    the data ends first. There libjpeg, reading ahead, runs into the end of the file, and
    OpenCV's source suspends the decode (imdecode gives None)."""
    n = data.shape[0]
    i = at
    while i < n:
        if data[i] != 0xFF:
            i += 1
            continue
        j = i + 1
        while j < n and data[j] == 0xFF:
            j += 1
        if j >= n:
            return -1
        if data[j] != 0:
            return i
        i = j + 1
    return -1


@njit(cache=True, nogil=True)
def idct_stored(stored, stored_dc, first, last, base, delta, quant, layout, mcus_per_row, hmax, vmax, image32,
                limit):
    """Luma blocks first..last-1 as a speculative span stored them, into `image32`: stored block
    n is luma block `base + n` of the scan, and its DC predictor is corrected by `delta` (the true
    predictor where the span joined). False when a value leaves the range libjpeg's SIMD and C
    transforms share."""
    luma_blocks, luma_x, luma_y = _luma_positions(layout)
    coef = np.zeros(64, np.int64)
    work = np.zeros(32, np.int64)
    for n in range(first, last):
        source = stored[n]
        big = 0
        for i in range(1, 64):
            coef[i] = source[i]
            big |= abs(coef[i])
        pred = stored_dc[n] + delta
        if pred > (1 << 30) or pred < -(1 << 30):
            return False
        coef[0] = (((pred + 32768) & 0xFFFF) - 32768) * quant[0]
        if (big | abs(coef[0])) >= COEF_LIMIT:
            return False
        block = base + n
        mcu = block // luma_blocks
        i = block - mcu * luma_blocks
        mcu_row = mcu // mcus_per_row
        y0 = (mcu_row * vmax + luma_y[i]) * 4
        x = (mcu - mcu_row * mcus_per_row) * hmax + luma_x[i]
        if not idct_4x4(coef, image32, y0, x, work, limit):
            return False
    return True
