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
