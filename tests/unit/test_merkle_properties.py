"""Properties of the Merkle log that hold for every tree."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.ledger import merkle

leaf_lists = st.lists(st.binary(max_size=16), min_size=1, max_size=70).map(
    lambda items: [merkle.leaf_hash(x) for x in items]
)


def _naive_root(leaves: list[bytes]) -> bytes:
    if len(leaves) == 1:
        return leaves[0]
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    return merkle.node_hash(_naive_root(leaves[:k]), _naive_root(leaves[k:]))


@given(leaf_lists)
def test_frontier_root_equals_the_recursive_definition(leaves):
    assert merkle.root_of(leaves) == _naive_root(leaves)


@given(leaf_lists, st.data())
def test_every_inclusion_proof_verifies(leaves, data):
    size = data.draw(st.integers(1, len(leaves)))
    index = data.draw(st.integers(0, size - 1))
    read = merkle.memory_reader(leaves)
    path = merkle.inclusion_path(read, index, size)
    merkle.verify_inclusion(index, size, leaves[index], path, merkle.root_of(leaves[:size]))


@given(leaf_lists, st.data())
def test_every_consistency_proof_verifies(leaves, data):
    second = data.draw(st.integers(1, len(leaves)))
    first = data.draw(st.integers(1, second))
    read = merkle.memory_reader(leaves)
    path = merkle.consistency_path(read, first, second)
    merkle.verify_consistency(first, second, merkle.root_of(leaves[:first]), merkle.root_of(leaves[:second]), path)


@given(leaf_lists, st.data())
def test_a_changed_proof_hash_is_rejected(leaves, data):
    size = data.draw(st.integers(2, max(2, len(leaves)))) if len(leaves) >= 2 else None
    if size is None:
        return
    index = data.draw(st.integers(0, size - 1))
    path = merkle.inclusion_path(merkle.memory_reader(leaves), index, size)
    at = data.draw(st.integers(0, len(path) - 1))
    bit = data.draw(st.integers(0, 255))
    broken = list(path)
    broken[at] = bytes(b ^ (1 << (bit % 8)) if i == bit // 8 else b for i, b in enumerate(broken[at]))
    with pytest.raises(merkle.ProofError):
        merkle.verify_inclusion(index, size, leaves[index], broken, merkle.root_of(leaves[:size]))


@given(leaf_lists)
def test_completed_nodes_are_the_perfect_subtrees(leaves):
    read = merkle.memory_reader(leaves)
    frontier: list[bytes] = []
    for size, leaf in enumerate(leaves):
        frontier, completed = merkle.append_leaf(frontier, size, leaf)
        for level, index, value in completed:
            assert read(level, index) == value
    assert [read(level, index) for level, index in merkle.frontier_indices(len(leaves))] == frontier
