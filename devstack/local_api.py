"""`chalice local` with the local gateway answering as the deployed one does (see gateway_patch.py).

    python -m devstack.local_api --host 127.0.0.1 --port 8000 --stage local --no-autoreload
"""

from __future__ import annotations

import sys

from devstack import gateway_patch


def main(argv: list[str] | None = None) -> int:
    gateway_patch.apply()
    from chalice.cli import main as chalice

    args = sys.argv[1:] if argv is None else argv
    # the reloader re-runs `chalice` in a child process, which this patch would not reach
    sys.argv = ["chalice", "local", *args, *([] if "--no-autoreload" in args else ["--no-autoreload"])]
    return int(chalice() or 0)


if __name__ == "__main__":
    raise SystemExit(main())
