"""The Merkle log of RFC 9162 section 2.1.

Hashes are raw 32-byte ``bytes`` here; hex is for the wire. Proof generation
reads subtree hashes through a ``NodeReader``: the hash of the perfect subtree
at ``level`` and ``index`` covers leaves ``[index * 2**level, (index + 1) * 2**level)``.
Storage keeps exactly those nodes, so a proof costs O(log^2 n) node reads at
worst and never a scan of the leaves.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()

NodeReader = Callable[[int, int], bytes]


class ProofError(ValueError):
    """A proof does not verify, or its parameters are impossible."""


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def root_of(leaves: Sequence[bytes]) -> bytes:
    """MTH over already-hashed leaves (the tree hash of RFC 9162 2.1.1)."""
    if not leaves:
        return EMPTY_ROOT
    frontier: list[bytes] = []
    for size, leaf in enumerate(leaves):
        frontier, _ = append_leaf(frontier, size, leaf)
    return frontier_root(frontier)


# --- the frontier (compact range): the perfect subtrees for the set bits of n

def append_leaf(frontier: Sequence[bytes], size: int, leaf: bytes) -> tuple[list[bytes], list[tuple[int, int, bytes]]]:
    """Append one leaf hash to the frontier of a tree of ``size`` leaves.

    Returns the new frontier and every perfect subtree the leaf completed, as
    ``(level, index, hash)``, the leaf itself first.
    """
    stack = list(frontier)
    completed = [(0, size, leaf)]
    current = leaf
    remaining = size
    level = 0
    while remaining & 1:
        current = node_hash(stack.pop(), current)
        remaining >>= 1
        level += 1
        completed.append((level, ((size + 1) >> level) - 1, current))
    stack.append(current)
    return stack, completed


def frontier_root(frontier: Sequence[bytes]) -> bytes:
    if not frontier:
        return EMPTY_ROOT
    root = frontier[-1]
    for subtree in reversed(frontier[:-1]):
        root = node_hash(subtree, root)
    return root


def frontier_indices(size: int) -> list[tuple[int, int]]:
    """``(level, index)`` of each frontier node of a tree of ``size`` leaves, largest first."""
    out = []
    offset = 0
    for level in range(size.bit_length() - 1, -1, -1):
        if size >> level & 1:
            out.append((level, offset >> level))
            offset += 1 << level
    return out


# --- proof generation over stored perfect subtrees

def subtree_hash(read_node: NodeReader, start: int, end: int) -> bytes:
    """MTH(D[start:end]) for the ranges that RFC 9162 proofs use.

    ``start`` is aligned to the largest power of two not above ``end - start``,
    which holds for every range the PATH and SUBPROOF algorithms visit.
    """
    size = end - start
    if size <= 0:
        return EMPTY_ROOT
    if size & (size - 1) == 0:
        level = size.bit_length() - 1
        return read_node(level, start >> level)
    k = _split(size)
    return node_hash(subtree_hash(read_node, start, start + k), subtree_hash(read_node, start + k, end))


def inclusion_path(read_node: NodeReader, index: int, size: int) -> list[bytes]:
    """PATH(m, D[n]) of RFC 9162 section 2.1.3.1."""
    if not 0 <= index < size:
        raise ProofError(f"leaf index {index} is not below tree size {size}")
    path: list[bytes] = []
    start, end = 0, size
    while end - start > 1:
        k = _split(end - start)
        if index < start + k:
            path.append(subtree_hash(read_node, start + k, end))
            end = start + k
        else:
            path.append(subtree_hash(read_node, start, start + k))
            start += k
    path.reverse()
    return path


def consistency_path(read_node: NodeReader, first: int, second: int) -> list[bytes]:
    """PROOF(m, D[n]) of RFC 9162 section 2.1.4.1."""
    if not 0 < first <= second:
        raise ProofError(f"need 0 < first <= second, got first={first}, second={second}")
    path: list[bytes] = []
    m, start, end, complete = first, 0, second, True
    while True:
        size = end - start
        if m == size:
            if not complete:
                path.append(subtree_hash(read_node, start, end))
            break
        k = _split(size)
        if m <= k:
            path.append(subtree_hash(read_node, start + k, end))
            end = start + k
        else:
            path.append(subtree_hash(read_node, start, start + k))
            m -= k
            start += k
            complete = False
    path.reverse()
    return path


def memory_reader(leaves: Sequence[bytes]) -> NodeReader:
    """A NodeReader over leaf hashes held in memory (tests, small trees)."""
    cache: dict[tuple[int, int], bytes] = {}

    def read(level: int, index: int) -> bytes:
        if level == 0:
            return leaves[index]
        key = (level, index)
        if key not in cache:
            cache[key] = node_hash(read(level - 1, 2 * index), read(level - 1, 2 * index + 1))
        return cache[key]

    return read


# --- verification, exactly RFC 9162 sections 2.1.3.2 and 2.1.4.2

def _check_hashes(*hashes: bytes) -> None:
    for value in hashes:
        if len(value) != HASH_SIZE:
            raise ProofError(f"a hash is {len(value)} bytes, not {HASH_SIZE}")


def root_from_inclusion(index: int, size: int, leaf: bytes, path: Sequence[bytes]) -> bytes:
    if not 0 <= index < size:
        raise ProofError(f"leaf index {index} is not below tree size {size}")
    _check_hashes(leaf, *path)
    fn, sn = index, size - 1
    r = leaf
    for p in path:
        if sn == 0:
            raise ProofError("the inclusion proof is too long")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn & 1 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("the inclusion proof is too short")
    return r


def verify_inclusion(index: int, size: int, leaf: bytes, path: Sequence[bytes], root: bytes) -> None:
    """Raise ProofError unless ``path`` proves ``leaf`` at ``index`` in the tree with ``root``."""
    _check_hashes(root)
    if root_from_inclusion(index, size, leaf, path) != root:
        raise ProofError("the inclusion proof does not lead to the root")


def verify_consistency(first: int, second: int, first_root: bytes, second_root: bytes, path: Sequence[bytes]) -> None:
    """Raise ProofError unless ``path`` proves the tree of ``first`` leaves is a prefix of ``second``."""
    if first < 0 or second < 0 or first > second:
        raise ProofError(f"impossible sizes first={first}, second={second}")
    if first == second:
        if path:
            raise ProofError("equal sizes need an empty proof")
        if first_root != second_root:
            raise ProofError("equal sizes but different roots")
        if first == 0 and first_root != EMPTY_ROOT:
            raise ProofError("the empty tree has a fixed root")
        return
    if first == 0:
        raise ProofError("a consistency proof from the empty tree is meaningless")
    _check_hashes(first_root, second_root, *path)
    if not path:
        raise ProofError("the consistency proof is empty")
    proof = list(path)
    if first & (first - 1) == 0:
        proof.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = proof[0]
    for c in proof[1:]:
        if sn == 0:
            raise ProofError("the consistency proof is too long")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn & 1 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("the consistency proof is too short")
    if fr != first_root or sr != second_root:
        raise ProofError("the consistency proof does not lead to both roots")
