"""The public known-answer vectors in ../shared/vectors, every one of them."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from chalicelib.ledger import merkle
from chalicelib.ledger.canonical import canonical, reference_canonical

VECTORS = Path(__file__).resolve().parents[2].parent / "shared" / "vectors"
INCLUSION = sorted((VECTORS / "rfc9162" / "inclusion").rglob("*.json"))
CONSISTENCY = sorted((VECTORS / "rfc9162" / "consistency").rglob("*.json"))
JCS_INPUTS = sorted((VECTORS / "rfc8785" / "input").glob("*.json"))


def _b64(value: str | None) -> bytes:
    return base64.b64decode(value or "")


def _name(path: Path) -> str:
    return f"{path.parent.name}/{path.stem}"


def test_the_vectors_are_present():
    assert len(INCLUSION) > 40 and len(CONSISTENCY) > 80 and len(JCS_INPUTS) == 6


@pytest.mark.parametrize("path", INCLUSION, ids=_name)
def test_rfc9162_inclusion_vector(path: Path):
    case = json.loads(path.read_text())
    proof = [_b64(p) for p in case["proof"] or []]
    def verify():
        merkle.verify_inclusion(case["leafIdx"], case["treeSize"], _b64(case["leafHash"]), proof, _b64(case["root"]))
    if case["wantErr"]:
        with pytest.raises(merkle.ProofError):
            verify()
    else:
        verify()


@pytest.mark.parametrize("path", CONSISTENCY, ids=_name)
def test_rfc9162_consistency_vector(path: Path):
    case = json.loads(path.read_text())
    proof = [_b64(p) for p in case["proof"] or []]
    def verify():
        merkle.verify_consistency(case["size1"], case["size2"], _b64(case["root1"]), _b64(case["root2"]), proof)
    if case["wantErr"]:
        with pytest.raises(merkle.ProofError):
            verify()
    else:
        verify()


@pytest.mark.parametrize("path", JCS_INPUTS, ids=lambda p: p.stem)
def test_rfc8785_vector(path: Path):
    expected = (VECTORS / "rfc8785" / "output" / path.name).read_bytes()
    value = json.loads(path.read_bytes())
    assert canonical(value) == expected
    assert reference_canonical(value) == expected


CT_LEAVES = ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"]
CT_ROOT_PREFIXES = ["6e340b9c", "fac54203", "aeb6bcfe", "d37ee418", "4e3bbb1f", "76e67dad", "ddb89be4", "5dc9da79"]
CT_ROOT_SUFFIXES = ["a01d", "c125", "6e77", "14b7", "64d4", "87ef", "4c8c", "4328"]


@pytest.mark.parametrize("size", range(1, 9))
def test_ct_reference_tree_roots(size: int):
    leaves = [merkle.leaf_hash(bytes.fromhex(x)) for x in CT_LEAVES[:size]]
    root = merkle.root_of(leaves).hex()
    assert root.startswith(CT_ROOT_PREFIXES[size - 1]) and root.endswith(CT_ROOT_SUFFIXES[size - 1])


def test_ct_reference_proofs_match_the_vectors():
    # The happy-path vectors are proofs over the CT reference tree: our
    # generator must produce exactly those paths, not merely valid ones.
    leaves = [merkle.leaf_hash(bytes.fromhex(x)) for x in CT_LEAVES]
    read = merkle.memory_reader(leaves)
    checked = 0
    for path in INCLUSION + CONSISTENCY:
        case = json.loads(path.read_text())
        if case["wantErr"] or case.get("desc") != "happy path":
            continue
        if "leafIdx" in case:
            produced = merkle.inclusion_path(read, case["leafIdx"], case["treeSize"])
        else:
            produced = merkle.consistency_path(read, case["size1"], case["size2"])
        assert [base64.b64encode(p).decode() for p in produced] == (case["proof"] or []), path
        checked += 1
    assert checked >= 8
