"""The Merkle tree of RFC 9162 section 2.1, over any leaves: hashes, proofs, and their checks.

    leaf hash  = SHA-256(0x00 || leaf)
    node hash  = SHA-256(0x01 || left || right)
    MTH({})    = SHA-256()

Pure functions, no database. Proofs are built from *perfect* subtrees (2^level leaves starting
at a multiple of 2^level): every range the RFC's recursion visits splits into at most log2(n)
of them, so a store that keeps each perfect subtree's hash, written once when its last leaf
arrives and never changed, answers any proof for any earlier tree size in O(log^2 n) hashes
and one look-up. `node_id` numbers perfect subtrees in in-order (the flat binary-tree layout):
leaf i is 2i, and the largest id of a tree of n leaves is its last leaf's, 2(n-1).

Why not pymerkle: docs/registry.md ("The Merkle tree") gives the evaluation.
"""

from __future__ import annotations

import hashlib
from typing import Callable, Iterable, Mapping, Sequence

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()

#: Fetches perfect-subtree hashes by `node_id`; must return every id asked for.
NodeFetcher = Callable[[Sequence[int]], Mapping[int, bytes]]


def leaf_hash(leaf: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def split_point(n: int) -> int:
    """The largest power of two smaller than n (n > 1): where the RFC splits a tree of n leaves."""
    if n < 2:
        raise ValueError("a tree of fewer than 2 leaves does not split")
    return 1 << ((n - 1).bit_length() - 1)


def node_id(level: int, index: int) -> int:
    """In-order number of the perfect subtree of 2^level leaves starting at leaf index * 2^level."""
    return (index << (level + 1)) | ((1 << level) - 1)


def perfect_parts(start: int, end: int) -> list[tuple[int, int]]:
    """The perfect subtrees (level, index) whose hashes fold into MTH(D[start:end]), left to right.

    Valid for the ranges the RFC's recursion visits (start a multiple of the next power of two
    at or above end - start), which are all the ranges proofs use."""
    parts = []
    while start < end:
        width = end - start
        level = width.bit_length() - 1  # the largest power of two <= width
        parts.append((level, start >> level))
        start += 1 << level
    return parts


def fold(hashes: Sequence[bytes]) -> bytes:
    """MTH of a range from its perfect parts (left to right): the right side folds first."""
    if not hashes:
        return EMPTY_ROOT
    root = hashes[-1]
    for h in reversed(hashes[:-1]):
        root = node_hash(h, root)
    return root


# -- proof layouts: which ranges' hashes a proof lists, in the RFC's order ----------------------

def inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """Ranges whose MTH make PATH(index, D[size]) (RFC 9162 2.1.3.1), nearest the leaf first."""
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is not in a tree of {size}")
    out: list[tuple[int, int]] = []
    start, end = 0, size
    while end - start > 1:
        k = split_point(end - start)
        if index - start < k:
            out.append((start + k, end))
            end = start + k
        else:
            out.append((start, start + k))
            start += k
    out.reverse()
    return out


def consistency_ranges(first: int, second: int) -> list[tuple[int, int]]:
    """Ranges whose MTH make PROOF(first, D[second]) (RFC 9162 2.1.4.1); empty when first is 0
    or equals second."""
    if not 0 <= first <= second:
        raise ValueError(f"no consistency proof from {first} to {second}")
    if first == 0 or first == second:
        return []
    out: list[tuple[int, int]] = []
    start, end, m, complete = 0, second, first, True
    while True:
        if m == end - start:
            if not complete:
                out.append((start, end))
            break
        k = split_point(end - start)
        if m <= k:
            out.append((start + k, end))
            end = start + k
        else:
            out.append((start, start + k))
            start += k
            m -= k
            complete = False
    out.reverse()
    return out


def hashes_for(ranges: Sequence[tuple[int, int]], fetch: NodeFetcher) -> list[bytes]:
    """The MTH of each range, from perfect-subtree hashes fetched in one call."""
    parts = [perfect_parts(s, e) for s, e in ranges]
    wanted = sorted({node_id(level, index) for p in parts for level, index in p})
    nodes = fetch(wanted) if wanted else {}
    missing = [i for i in wanted if i not in nodes]
    if missing:
        raise KeyError(f"tree nodes {missing[:5]} are not stored")
    return [fold([nodes[node_id(level, index)] for level, index in p]) for p in parts]


def root_from(size: int, fetch: NodeFetcher) -> bytes:
    """MTH(D[0:size]) from the stored perfect subtrees of its binary decomposition."""
    return hashes_for([(0, size)], fetch)[0] if size else EMPTY_ROOT


# -- building --------------------------------------------------------------------------------

class TreeBuilder:
    """Appends leaf hashes and names each perfect subtree completed on the way (to be stored);
    keeps only the right edge (log2 n hashes), so a million leaves need no memory to speak of."""

    def __init__(self, size: int = 0, frontier: Sequence[bytes] = ()) -> None:
        levels = [b for b in range(size.bit_length() - 1, -1, -1) if size >> b & 1]
        if len(levels) != len(frontier):
            raise ValueError(f"a tree of {size} leaves has {len(levels)} frontier hashes, not {len(frontier)}")
        self.size = size
        self._stack: list[tuple[int, bytes]] = list(zip(levels, frontier))

    @staticmethod
    def frontier_ids(size: int) -> list[int]:
        """`node_id`s of the perfect subtrees a builder of `size` leaves resumes from."""
        return [node_id(level, index) for level, index in perfect_parts(0, size)]

    def append(self, leaf_h: bytes) -> list[tuple[int, bytes]]:
        """Add one leaf hash; returns (node_id, hash) of every perfect subtree it completes,
        the leaf itself first."""
        index = self.size
        made = [(node_id(0, index), leaf_h)]
        level, h = 0, leaf_h
        while self._stack and self._stack[-1][0] == level:
            left = self._stack.pop()[1]
            h = node_hash(left, h)
            level += 1
            made.append((node_id(level, index >> level), h))
        self._stack.append((level, h))
        self.size += 1
        return made

    def root(self) -> bytes:
        return fold([h for _, h in self._stack])


def root_of(leaves: Iterable[bytes]) -> bytes:
    """MTH of raw leaves (hashes each with the 0x00 prefix)."""
    builder = TreeBuilder()
    for leaf in leaves:
        builder.append(leaf_hash(leaf))
    return builder.root()


# -- verification (RFC 9162 2.1.3.2 and 2.1.4.2, step by step) -----------------------------------

def verify_inclusion(leaf_h: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes) -> bool:
    """True when `proof` shows the leaf with hash `leaf_h` at `index` in the tree of `size` with `root`."""
    if index < 0 or index >= size:
        return False
    fn, sn, r = index, size - 1, leaf_h
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(first: int, second: int, first_root: bytes, second_root: bytes,
                       proof: Sequence[bytes]) -> bool:
    """True when `proof` shows the tree (`second`, `second_root`) extends (`first`, `first_root`).

    Sizes equal: the proof must be empty and the roots equal. First size 0: every tree extends
    the empty one (the proof must be empty)."""
    if first < 0 or first > second:
        return False
    if first == second:
        return not proof and first_root == second_root
    if first == 0:
        return not proof and first_root == EMPTY_ROOT
    if not proof:
        return False
    path = list(proof)
    if first & (first - 1) == 0:
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == first_root and sr == second_root and sn == 0
