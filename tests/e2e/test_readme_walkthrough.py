"""The README's "One full trade, from a newcomer's terminal", run as written, over real HTTP.

Its shell blocks are taken from README.md and run by bash against `make
run`'s stack on free loopback ports: `covenant` and `covenant-verify` are this
checkout's (``python -m``), the API the stack's (through ``COVENANT_API``, the
documented variable; the block's own ``http://127.0.0.1:8000`` is replaced by
the stack's address), and ``.state/`` the stack's state folder. The second
block runs after the stack is stopped and started again: a new chain.
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from chalicelib.client.cli import main
from tests.e2e.test_local_stack import ROOT, Stack

pytestmark = pytest.mark.e2e
SECTION = "## One full trade, from a newcomer's terminal"


def readme_blocks() -> list[str]:
    text = (ROOT / "README.md").read_text()
    start = text.index(SECTION)
    section = text[start:text.index("\n## ", start + 1)]
    return re.findall(r"^```sh\n(.*?)^```$", section, re.M | re.S)


def run_block(block: str, stack: Stack, work: Path) -> subprocess.CompletedProcess[str]:
    script = "\n".join([
        "set -euo pipefail",
        'covenant() { "$PY" -m chalicelib.client.cli "$@"; }',
        'covenant-verify() { "$PY" -m chalicelib.verifier "$@"; }',
        "set -x",
        block.replace("http://127.0.0.1:8000", stack.api),
    ])
    env = {k: v for k, v in os.environ.items() if not k.startswith("COVENANT_")}
    env.update(PY=sys.executable, PYTHONPATH=str(ROOT), COVENANT_API=stack.api, COVENANT_HOME=str(work / "people"),
               XDG_CONFIG_HOME=str(work / "config"))
    state = work / ".state"
    if state.is_symlink():
        state.unlink()
    state.symlink_to(stack.state, target_is_directory=True)
    return subprocess.run(["bash", "-c", script], cwd=work, env=env, capture_output=True, text=True, timeout=600)


def test_the_blocks_need_no_id_copied_by_hand():
    blocks = readme_blocks()
    assert len(blocks) == 2
    for block in blocks:
        assert "…" not in "\n".join(line.split("#")[0] for line in block.splitlines())
        assert "profile.json" not in block


def test_the_readme_walkthrough_runs_as_written_and_again_after_a_new_make_run(tmp_path):
    trade, after_new_run = readme_blocks()
    work = tmp_path / "terminal"
    work.mkdir()
    stack = Stack(tmp_path)
    try:
        # When a newcomer runs the walkthrough as written
        ran = run_block(trade, stack, work)
        assert ran.returncode == 0, ran.stdout[-4000:] + ran.stderr[-4000:]
        # Then every step did what its comment says
        assert '"status": "running"' in ran.stdout
        assert re.search(r"^wallet w-[0-9a-f]{16} \(active\): 450\.00 fiat, 2\.00 coins$", ran.stdout, re.M)
        assert "is pending: its wallet comes with the stamp node's approval" in ran.stdout
        assert re.search(rf"^server +{re.escape(stack.api)}: node active; wallet active: 48\.00 fiat, 0\.00 coins$",
                         ran.stdout, re.M), ran.stdout
        assert "OK:" in ran.stdout and "entries verified" in ran.stdout
    finally:
        assert stack.stop() == 0
    # Given a second `make run`: a new chain, a new stamp key, at a new address here
    stack = Stack(tmp_path)
    try:
        out, err = io.StringIO(), io.StringIO()
        code = main(["--api", stack.api, "--home", str(work / "people"), "--profile", "alice", "balance"], out, err)
        assert code == 2 and "profile alice belongs to another chain" in err.getvalue()
        assert "covenant --profile alice register consumer --new-chain" in err.getvalue()
        # When the newcomer runs the README's block for it
        ran = run_block(after_new_run, stack, work)
        assert ran.returncode == 0, ran.stdout[-4000:] + ran.stderr[-4000:]
        assert re.search(r"^server +.*belongs to another chain", ran.stdout, re.M)
        assert re.search(r"^wallet w-[0-9a-f]{16} \(active\): 0\.00 fiat, 0\.00 coins$", ran.stdout, re.M)
        # Then no key was lost: the old stamp key is kept aside, alice's key is the same
        [kept] = (work / "people" / "stamp" / "chains").iterdir()
        assert (kept / "key.pem").exists() and (kept / "profile.json").exists()
        assert (work / "people" / "stamp" / "key.pem").read_bytes() == (stack.state / "sealer-key.pem").read_bytes()
        assert len(list((work / "people" / "alice" / "chains").iterdir())) == 1
    finally:
        assert stack.stop() == 0
