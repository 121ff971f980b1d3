"""Strangers' tools, run unmodified: tlog-scales, the Go program in go/tlogcheck, and aics-tlog.

The Go program is built offline against Debian's golang-golang-x-mod-dev
(GOPATH mode, no module proxy), with its build cache in a temporary folder.

aics-tlog 0.2.1 (PyPI) needs Python 3.12 or newer, and the project runs on
3.11: it is installed with pip into a venv of its own, made once by a Python
3.12+ found on PATH or under pyenv, in the git-ignored ``.cache/interop/``, and
run in a subprocess. ``aics_verify`` and ``tlog_scales_quorum`` are the two
strangers' quorum checks, for any test that has a cosigned checkpoint.
"""

from __future__ import annotations

import fcntl
import glob
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import NoReturn

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
TLOGCHECK_SOURCE = HERE / "go" / "tlogcheck"
# tlog-scales' console script, installed beside this interpreter by requirements-dev.txt
TLOG_TILES = Path(sys.executable).parent / "tlog-tiles"
GOPATH = Path("/usr/share/gocode")  # where Debian's golang-*-dev packages put their source


def tlog_tiles(*args: str) -> subprocess.CompletedProcess[bytes]:
    """Run ``tlog-tiles ARGS`` as a person would; stdout is bytes (get-leaf writes the raw leaf)."""
    return subprocess.run([str(TLOG_TILES), *args], capture_output=True, timeout=120)


def go_environment(cache: Path) -> dict[str, str]:
    """Offline: GOPATH mode over Debian's Go sources, no proxy, no network, a private build cache."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GO")}
    env.update({"GO111MODULE": "off", "GOPATH": str(GOPATH), "GOPROXY": "off", "GOFLAGS": "",
                "GOCACHE": str(cache), "CGO_ENABLED": "0", "GOTOOLCHAIN": "local"})
    return env


def missing(tools: str, reason: str) -> NoReturn:
    """A stranger's tool is missing: a failure in CI (CI=true), which runs every interop test; a skip elsewhere."""
    if os.environ.get("CI"):
        pytest.fail(f"CI runs the {tools} interop tests: {reason}")
    pytest.skip(reason)


def require_go() -> str:
    """The ``go`` command; the test fails in CI (CI=true) without it, and is skipped elsewhere."""
    go = shutil.which("go")
    if go is not None and (GOPATH / "src/golang.org/x/mod/sumdb/note").is_dir():
        return go
    reason = ("needs Go and Debian's golang.org/x/mod: apt-get install golang-go golang-golang-x-mod-dev "
              "(.ci/run installs them)")
    missing("Go", reason)


def build_tlogcheck(out: Path) -> Path:
    """``go build`` the checker into ``out``; returns the binary's path."""
    go = require_go()
    out.mkdir(parents=True, exist_ok=True)
    binary = out / "tlogcheck"
    result = subprocess.run([go, "build", "-o", str(binary), "."], cwd=TLOGCHECK_SOURCE,
                            env=go_environment(out / "gocache"), capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"go build failed:\n{result.stdout}{result.stderr}"
    return binary


def run_tlogcheck(binary: Path, url: str, vkey: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(binary), "-url", url, "-vkey", vkey, *args], capture_output=True, text=True,
                          timeout=120)


# --- aics-tlog, in a Python 3.12+ venv of its own

AICS_TLOG = "aics-tlog==0.2.1"
AICS_VENV = REPO / ".cache" / "interop" / "py312-aics-tlog-0.2.1"  # .gitignore'd; kept between runs
_AICS_SCRIPT = """
import json, sys
from aics_tlog import parse_note, parse_vkey, verify_checkpoint
job = json.load(sys.stdin)
result = verify_checkpoint(parse_note(job["text"]), parse_vkey(job["log"]), [parse_vkey(w) for w in job["witnesses"]],
                           quorum=job["quorum"])
print(json.dumps({"ok": result.ok, "log_ok": result.log_ok, "cosignatures": result.cosignature_count,
                  "witnesses": result.witnesses, "error": result.error}))
"""


def _pythons() -> list[str]:
    """Interpreters that may be Python 3.12 or newer: $COVENANT_PYTHON312, python3.1x on PATH, pyenv's."""
    found = [os.environ.get("COVENANT_PYTHON312", "")]
    found += [shutil.which(f"python3.{minor}") or "" for minor in range(12, 20)]
    roots = {os.environ.get("PYENV_ROOT", ""), str(Path.home() / ".pyenv")}
    if "/.pyenv/versions/" in sys.executable:  # this interpreter's own pyenv
        roots.add(sys.executable.split("/versions/")[0])
    for root in sorted(r for r in roots if r):
        found += sorted(glob.glob(f"{root}/versions/3.1[2-9]*/bin/python3"))
    return [p for p in dict.fromkeys(found) if p and os.access(p, os.X_OK)]


def find_python312() -> str | None:
    """The first interpreter of Python 3.12 or newer with venv, or None."""
    for python in _pythons():
        try:
            probe = subprocess.run([python, "-c", "import sys, venv; sys.exit(sys.version_info < (3, 12))"],
                                   capture_output=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if probe.returncode == 0:
            return python
    return None


def require_python312() -> str:
    """A Python 3.12+; the test fails in CI (CI=true) without one, and is skipped elsewhere."""
    python = find_python312()
    if python is not None:
        return python
    reason = ("aics-tlog needs Python 3.12 or newer: none on PATH (python3.12, python3.13, ...) nor under pyenv "
              "($PYENV_ROOT or ~/.pyenv/versions/3.12*); set COVENANT_PYTHON312 to one")
    missing("aics-tlog", reason)


def aics_tlog_python() -> Path:
    """The Python of a venv holding aics-tlog 0.2.1, made on first use (pip from the registry); shared by workers."""
    python = AICS_VENV / "bin" / "python"
    stamp = AICS_VENV / ".installed"
    AICS_VENV.parent.mkdir(parents=True, exist_ok=True)
    with open(AICS_VENV.parent / (AICS_VENV.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if stamp.exists() and subprocess.run([str(python), "-c", "import aics_tlog"], capture_output=True,
                                             timeout=60).returncode == 0:
            return python
        base = require_python312()
        shutil.rmtree(AICS_VENV, ignore_errors=True)
        made = subprocess.run([base, "-m", "venv", str(AICS_VENV)], capture_output=True, text=True, timeout=300)
        assert made.returncode == 0, f"{base} -m venv failed:\n{made.stdout}{made.stderr}"
        pip = subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                              AICS_TLOG], capture_output=True, text=True, timeout=600)
        assert pip.returncode == 0, f"pip install {AICS_TLOG} failed:\n{pip.stdout}{pip.stderr}"
        stamp.write_text(AICS_TLOG + "\n")
        return python


def aics_result(text: str, log_vkey: str, witness_vkeys: list[str], quorum: int) -> dict[str, object]:
    """aics-tlog's ``verify_checkpoint(parse_note(text), parse_vkey(log_vkey), witnesses, quorum=quorum)``, as JSON:
    ``{ok, log_ok, cosignatures, witnesses, error}``; an exception it raises is ``ok`` false with its message."""
    job = json.dumps({"text": text, "log": log_vkey, "witnesses": witness_vkeys, "quorum": quorum})
    run = subprocess.run([str(aics_tlog_python()), "-I", "-c", _AICS_SCRIPT], input=job, capture_output=True,
                         text=True, timeout=120)
    if run.returncode != 0:
        lines = run.stderr.strip().splitlines()
        return {"ok": False, "log_ok": False, "cosignatures": 0, "witnesses": [],
                "error": lines[-1] if lines else f"exit {run.returncode}"}
    return dict(json.loads(run.stdout))


def aics_verify(text: str, log_vkey: str, witness_vkeys: list[str], quorum: int) -> tuple[bool, str]:
    """Whether aics-tlog 0.2.1 accepts the signed checkpoint ``text`` with ``quorum`` of the witnesses, and why."""
    result = aics_result(text, log_vkey, witness_vkeys, quorum)
    names = result["witnesses"]
    said = f"cosigned by {result['cosignatures']}: " + (", ".join(map(str, names)) if isinstance(names, list) else "")
    return bool(result["ok"]), said if result["ok"] else str(result["error"])


def tlog_scales_quorum(text: str, witness_vkeys: list[str]) -> int:
    """How many distinct witness keys tlog-scales finds valid cosignatures of in ``text`` (``VkeySet.verify``).

    tlog-scales logs, and does not count, a line of a given key that fails;
    it reads the checkpoint leniently (``Checkpoint.from_text``), so check the
    log signature with our own verifier or ``Checkpoint.verify`` too.
    """
    from tlog_scales.signing import Vkey, VkeySet
    from tlog_scales.tlog import Checkpoint

    checkpoint = Checkpoint.from_text(text)
    valid = VkeySet(*(Vkey.from_string(v) for v in witness_vkeys)).verify(checkpoint.signatures, checkpoint)
    return len({vkey.pubkey for vkey, _ in valid})
