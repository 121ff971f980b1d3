"""Error codes are part of the public API: every one the code can answer is asserted by some test,
and every one the README names exists."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _codes_in_code() -> set[str]:
    found = set()
    for path in (ROOT / "chalicelib").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.keyword) and node.arg == "code" and isinstance(node.value, ast.Constant):
                found.add(node.value.value)
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "SignatureProblem" and node.args \
                    and isinstance(node.args[0], ast.Constant):
                found.add(node.args[0].value)
            if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "code" for t in node.targets) \
                    and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
                found.add(node.value.value)
    from infra.render import GATEWAY_RESPONSES

    return found | {code for _, code, _ in GATEWAY_RESPONSES.values()}


def _test_text() -> str:
    this = Path(__file__).resolve()
    return "\n".join(p.read_text() for p in (ROOT / "tests").rglob("*.py") if p.resolve() != this)


def test_every_error_code_is_asserted_by_a_test():
    text = _test_text()
    untested = sorted(code for code in _codes_in_code() if f'"{code}"' not in text)
    assert untested == [], f"no test asserts these codes: {untested}"


def test_every_code_the_readme_names_is_one_the_code_answers():
    readme = (ROOT / "README.md").read_text()
    named = set(re.findall(r"`([a-z]+(?:_[a-z]+)+)`", readme))
    codes = _codes_in_code()
    # names in backticks that look like codes and sit in the README's tables of refusals
    from chalicelib.domain.lifecycle import STATES

    refusals = {name for name in named if re.search(rf"\| `{name}`|`{name}` \(\d{{3}}|\d{{3}} `{name}`", readme)}
    refusals -= set(STATES)  # the lifecycle table names states, not codes
    assert refusals and refusals <= codes, sorted(refusals - codes)
