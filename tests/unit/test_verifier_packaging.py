"""The verifier's promise to outsiders: README, pyproject's dependencies and its imports agree."""

from __future__ import annotations

import importlib.metadata as metadata
import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _name(requirement: str) -> str:
    return re.split(r"[\s\[<>=!~;]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _declared() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return {_name(r) for r in project["dependencies"]}


def _readme_section() -> str:
    text = (ROOT / "README.md").read_text()
    start = text.index("## The verifier")
    end = text.index("\n## ", start + 1)
    return text[start:end]


def test_the_readme_names_exactly_the_declared_dependencies():
    section = _readme_section()
    sentence = re.search(r"`pip install \.` gives it\s+with only (.+?)\)", section, re.S)
    assert sentence, "the verifier section says which packages `pip install .` brings"
    named = {_name(n) for n in re.findall(r"`([^`]+)`", sentence.group(1))}
    assert named == _declared()


def _requirements_of(distribution: str) -> set[str]:
    """What ``distribution`` needs outside extras (transitively)."""
    found, queue = set(), [distribution]
    while queue:
        current = queue.pop()
        if current in found:
            continue
        found.add(current)
        for requirement in metadata.requires(current) or []:
            if "extra ==" in requirement:
                continue
            queue.append(_name(requirement))
    return found


def _modules(code: str) -> set[str]:
    """Top-level modules loaded from files after ``code`` (names an extension registers for itself excluded)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    script = (f"import sys, json\n{code}\n"
              "print(json.dumps(sorted({m.split('.')[0] for m, module in list(sys.modules.items())"
              " if getattr(sys.modules.get(m.split('.')[0]), '__file__', None)})))")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=60,
                         check=True).stdout
    return set(json.loads(out.strip().splitlines()[-1]))


def test_the_verifier_imports_only_its_declared_dependencies():
    imported = _modules("import chalicelib.verifier.cli") - _modules("") - set(sys.stdlib_module_names)
    assert {"cryptography", "rfc8785", "http_sf"} <= imported
    owners = metadata.packages_distributions()
    allowed = set().union(*(_requirements_of(d) for d in _declared()))
    outside = {m: owners.get(m) for m in imported - {"chalicelib"}
               if not {_name(d) for d in owners.get(m, [])} & allowed}
    assert outside == {}, "the verifier imports packages that pyproject.toml does not declare"
    assert not imported & {"boto3", "botocore", "pynamodb", "pydantic", "chalice"}


_BLOCKED = ("boto3", "botocore", "pynamodb", "aws_lambda_powertools", "pydantic", "chalice", "moto")
# the first lines of a script run on "a consumer's machine": every AWS package refused at import
REFUSE_AWS = f"""
import json, sys
class Refuse:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {_BLOCKED!r}:
            raise ImportError(f"{{name}} is not installed on a consumer's machine")
sys.meta_path.insert(0, Refuse())
"""
_WITHOUT_AWS = REFUSE_AWS + """from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from chalicelib.client.subchain_store import SqliteSubchainStore
from chalicelib.services.replication import FunctionSource, Witness, receive_block
import chalicelib.client.subchain_cli
from chalicelib.client.subchain import quiet_core
job = json.load(sys.stdin)
sent = []
log = FunctionSource(lambda h: job["blocks"][h] if h < len(job["blocks"]) else None,
                     lambda h: job["checkpoints"][h], lambda size, line: sent.append(size))
store = SqliteSubchainStore(job["path"])
with quiet_core():
    outcomes = [receive_block(store, dict(b, kind="block"), log, Witness(Ed25519PrivateKey.generate()))
                for b in job["blocks"]]
print(json.dumps({"outcomes": outcomes, "sent": sent, "height": store.state().height}))
"""


def test_a_consumer_s_sub_chain_runs_with_only_the_declared_dependencies(tmp_path):
    """`covenant subchain` follows, verifies, keeps and cosigns with none of the Lambda runtime's packages."""
    from tests.chainmaker import ChainMaker

    maker = ChainMaker().with_signed_entries(blocks=2, per_block=4)
    job = {"blocks": maker.blocks, "checkpoints": [r.checkpoint for r in maker.records],
           "path": str(tmp_path / "subchain.sqlite3")}
    run = subprocess.run([sys.executable, "-c", _WITHOUT_AWS], input=json.dumps(job), capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=120)
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["outcomes"] == ["applied"] * len(maker.blocks) and result["height"] == len(maker.blocks) - 1
    assert result["sent"] == [int(r.checkpoint.split("\n")[1]) for r in maker.records]
