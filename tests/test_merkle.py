"""certgen.registry.merkle against RFC 9162 section 2.1, written out here as the RFC says it:
a recursive MTH, PATH and SUBPROOF over a list of leaves, independent of the module's
perfect-subtree layout. Every size up to 70 exhaustively, then hypothesis for larger ones."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from certgen.registry import merkle


# -- RFC 9162 2.1.1 to 2.1.4, literally ----------------------------------------------------

def H(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def k_of(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def MTH(D: list[bytes]) -> bytes:
    n = len(D)
    if n == 0:
        return H(b"")
    if n == 1:
        return H(b"\x00" + D[0])
    k = k_of(n)
    return H(b"\x01" + MTH(D[:k]) + MTH(D[k:]))


def PATH(m: int, D: list[bytes]) -> list[bytes]:
    n = len(D)
    if n == 1:
        return []
    k = k_of(n)
    if m < k:
        return PATH(m, D[:k]) + [MTH(D[k:])]
    return PATH(m - k, D[k:]) + [MTH(D[:k])]


def SUBPROOF(m: int, D: list[bytes], b: bool) -> list[bytes]:
    n = len(D)
    if m == n:
        return [] if b else [MTH(D)]
    k = k_of(n)
    if m <= k:
        return SUBPROOF(m, D[:k], b) + [MTH(D[k:])]
    return SUBPROOF(m - k, D[k:], False) + [MTH(D[:k])]


def PROOF(m: int, D: list[bytes]) -> list[bytes]:
    return SUBPROOF(m, D, True)


# -- the module, over an in-memory store of perfect subtrees --------------------------------------

def build(leaves: list[bytes]) -> tuple[merkle.TreeBuilder, dict[int, bytes]]:
    builder, store = merkle.TreeBuilder(), {}
    for leaf in leaves:
        store.update(builder.append(merkle.leaf_hash(leaf)))
    return builder, store


def leaves_of(n: int) -> list[bytes]:
    return [f"leaf {i}".encode() for i in range(n)]


def fetch_from(store: dict[int, bytes]):
    return lambda ids: {i: store[i] for i in ids if i in store}


def test_known_answers():
    assert merkle.EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    # one leaf of the empty string: SHA-256(0x00), as in RFC 6962's reference test vectors
    assert merkle.root_of([b""]).hex() == "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"


N = 70


def test_roots_and_stored_nodes_for_every_size_up_to_70():
    leaves = leaves_of(N)
    builder, store = merkle.TreeBuilder(), {}
    for n in range(1, N + 1):
        store.update(builder.append(merkle.leaf_hash(leaves[n - 1])))
        expected = MTH(leaves[:n])
        assert builder.root() == expected
        assert merkle.root_from(n, fetch_from(store)) == expected
        assert max(store) == 2 * (n - 1)  # the last leaf has the largest id
    assert len(store) == 2 * N - bin(N).count("1")  # every perfect subtree, once


def test_inclusion_proofs_for_every_leaf_of_every_size_up_to_70():
    leaves = leaves_of(N)
    _, store = build(leaves)
    for n in range(1, N + 1):
        root = MTH(leaves[:n])
        for m in range(n):
            proof = merkle.hashes_for(merkle.inclusion_ranges(m, n), fetch_from(store))
            assert proof == PATH(m, leaves[:n]), (m, n)
            leaf_h = merkle.leaf_hash(leaves[m])
            assert merkle.verify_inclusion(leaf_h, m, n, proof, root)
            assert not merkle.verify_inclusion(merkle.leaf_hash(b"other"), m, n, proof, root)
            assert not merkle.verify_inclusion(leaf_h, m, n, proof, H(b"another root"))
            if n > 1:
                assert not merkle.verify_inclusion(leaf_h, (m + 1) % n, n, proof, root)
                assert not merkle.verify_inclusion(leaf_h, m, n, proof[:-1], root)
            assert not merkle.verify_inclusion(leaf_h, m, n, proof + [root], root)
            assert not merkle.verify_inclusion(leaf_h, n, n, proof, root)


def test_consistency_proofs_for_every_pair_of_sizes_up_to_70():
    leaves = leaves_of(N)
    _, store = build(leaves)
    for n in range(1, N + 1):
        second = MTH(leaves[:n])
        for m in range(1, n + 1):
            first = MTH(leaves[:m])
            proof = merkle.hashes_for(merkle.consistency_ranges(m, n), fetch_from(store))
            assert proof == PROOF(m, leaves[:n]), (m, n)
            assert merkle.verify_consistency(m, n, first, second, proof)
            if m < n:
                assert not merkle.verify_consistency(m, n, H(b"forged"), second, proof)
                assert not merkle.verify_consistency(m, n, first, H(b"forged"), proof)
                assert not merkle.verify_consistency(m, n, first, second, proof[:-1])
                assert not merkle.verify_consistency(n, m, second, first, proof)
                tampered = [H(proof[0])] + proof[1:]
                assert not merkle.verify_consistency(m, n, first, second, tampered)


def test_a_fork_fails_consistency():
    """Two logs sharing their first 5 leaves, then differing: no proof takes one to the other."""
    a, b = leaves_of(12), leaves_of(5) + [b"forged %d" % i for i in range(7)]
    _, store_a = build(a)
    _, store_b = build(b)
    proof = merkle.hashes_for(merkle.consistency_ranges(8, 12), fetch_from(store_b))
    assert not merkle.verify_consistency(8, 12, MTH(a[:8]), MTH(b), proof)
    proof = merkle.hashes_for(merkle.consistency_ranges(5, 12), fetch_from(store_b))
    assert merkle.verify_consistency(5, 12, MTH(a[:5]), MTH(b), proof)  # the shared prefix is consistent


def test_edge_cases():
    assert merkle.verify_consistency(0, 5, merkle.EMPTY_ROOT, H(b"x"), [])
    assert not merkle.verify_consistency(0, 5, H(b"not empty"), H(b"x"), [])
    assert merkle.verify_consistency(3, 3, H(b"r"), H(b"r"), [])
    assert not merkle.verify_consistency(3, 3, H(b"r"), H(b"s"), [])
    assert not merkle.verify_consistency(3, 5, H(b"r"), H(b"s"), [])
    assert not merkle.verify_inclusion(H(b"x"), 0, 0, [], H(b"x"))
    with pytest.raises(ValueError):
        merkle.inclusion_ranges(5, 5)
    with pytest.raises(ValueError):
        merkle.consistency_ranges(6, 5)
    with pytest.raises(KeyError):
        merkle.root_from(4, lambda ids: {})
    with pytest.raises(ValueError):
        merkle.TreeBuilder(5, [H(b"one")])


def test_builder_resumes_from_its_frontier():
    leaves = leaves_of(45)
    _, store = build(leaves[:29])
    frontier = [store[i] for i in merkle.TreeBuilder.frontier_ids(29)]
    resumed = merkle.TreeBuilder(29, frontier)
    for leaf in leaves[29:]:
        store.update(resumed.append(merkle.leaf_hash(leaf)))
    assert resumed.root() == MTH(leaves)
    _, fresh = build(leaves)
    assert store == fresh


@settings(max_examples=60, deadline=None)
@given(size=st.integers(min_value=1, max_value=3000), data=st.data())
def test_hypothesis_large_trees(size, data):
    leaves = [i.to_bytes(4, "big") for i in range(size)]
    builder, store = build(leaves)
    root = builder.root()
    m = data.draw(st.integers(0, size - 1))
    proof = merkle.hashes_for(merkle.inclusion_ranges(m, size), fetch_from(store))
    assert merkle.verify_inclusion(merkle.leaf_hash(leaves[m]), m, size, proof, root)
    first = data.draw(st.integers(1, size))
    first_root = merkle.root_from(first, fetch_from(store))
    assert first_root == MTH(leaves[:first])
    cproof = merkle.hashes_for(merkle.consistency_ranges(first, size), fetch_from(store))
    assert cproof == PROOF(first, leaves)
    assert merkle.verify_consistency(first, size, first_root, root, cproof)
    if first < size:
        flip = data.draw(st.integers(0, len(cproof) - 1))
        bad = list(cproof)
        bad[flip] = H(bad[flip])
        assert not merkle.verify_consistency(first, size, first_root, root, bad)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(max_size=8), min_size=1, max_size=40), st.data())
def test_hypothesis_arbitrary_leaves(leaves, data):
    builder, store = build(leaves)
    assert builder.root() == MTH(leaves)
    m = data.draw(st.integers(0, len(leaves) - 1))
    assert merkle.hashes_for(merkle.inclusion_ranges(m, len(leaves)), fetch_from(store)) == PATH(m, leaves)


# -- the reference vectors of Certificate Transparency's Merkle tree tests ------------------------
# (RFC 6962 hashing, identical to RFC 9162's; the same values are in the transparency-dev/merkle
# and certificate-transparency projects' test constants and in other independent implementations)

CT_LEAVES = [bytes.fromhex(x) for x in ["", "00", "10", "2021", "3031", "40414243", "5051525354555657",
                                        "606162636465666768696a6b6c6d6e6f"]]
CT_ROOTS = ["e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
            "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
            "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
            "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
            "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"]
CT_INCLUSION = {
    (0, 8): ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
             "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
             "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"],
    (5, 8): ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
             "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
             "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"],
}
CT_CONSISTENCY = {
    (1, 8): ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
             "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
             "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"],
    (6, 8): ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
             "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
             "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"],
}


def test_certificate_transparency_reference_vectors():
    _, store = build(CT_LEAVES)
    for n, root in enumerate(CT_ROOTS):
        assert merkle.root_from(n, fetch_from(store)).hex() == root
    root8 = bytes.fromhex(CT_ROOTS[8])
    for (m, n), path in CT_INCLUSION.items():
        proof = merkle.hashes_for(merkle.inclusion_ranges(m, n), fetch_from(store))
        assert [h.hex() for h in proof] == path
        assert merkle.verify_inclusion(merkle.leaf_hash(CT_LEAVES[m]), m, n, proof, root8)
    for (m, n), path in CT_CONSISTENCY.items():
        proof = merkle.hashes_for(merkle.consistency_ranges(m, n), fetch_from(store))
        assert [h.hex() for h in proof] == path
        assert merkle.verify_consistency(m, n, bytes.fromhex(CT_ROOTS[m]), root8, proof)
