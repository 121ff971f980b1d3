"""Strangers' tools, run unmodified: tlog-scales' ``tlog-tiles`` command and the Go program in go/tlogcheck.

The Go program is built offline against Debian's golang-golang-x-mod-dev
(GOPATH mode, no module proxy), with its build cache in a temporary folder.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
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


def require_go() -> str:
    """The ``go`` command; the test fails in CI (CI=true) without it, and is skipped elsewhere."""
    go = shutil.which("go")
    if go is not None and (GOPATH / "src/golang.org/x/mod/sumdb/note").is_dir():
        return go
    reason = ("needs Go and Debian's golang.org/x/mod: apt-get install golang-go golang-golang-x-mod-dev "
              "(.ci/run installs them)")
    if os.environ.get("CI"):
        pytest.fail(f"CI runs the Go interop tests: {reason}")
    pytest.skip(reason)


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
