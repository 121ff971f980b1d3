"""``covenant subchain run | status | verify | retire`` (see client/subchain.py)."""

from __future__ import annotations

import argparse
import json
import signal
import threading
from typing import Any, TextIO

from .base import FAILED, OK, REFUSED, Api, CliError, Profile


def subchain_command(args: argparse.Namespace, profile: Profile, api: Api, out: TextIO, err: TextIO) -> int:
    try:
        from .subchain import ConsumerSubchain, SubchainError, quiet_core
    except ImportError as exc:  # the core's storage modules need the runtime set (requirements.txt)
        err.write(f"covenant: the sub-chain needs {exc.name}: pip install -r requirements.txt\n")
        return FAILED
    from ..errors import CovenantError

    with quiet_core():
        try:
            # only `run` makes a key: after a retirement, `status` shows the retired one rather than a new one
            sub = ConsumerSubchain(profile.folder, api.base, label=profile.name, node_key=profile.key_path,
                                   make_key=args.action == "run")
        except (SubchainError, CovenantError) as exc:
            err.write(f"covenant: {exc}\n")
            return FAILED
        try:
            if args.action == "run":
                return _run(args, profile, api, sub, out, err)
            if args.action == "status":
                return _status(args, sub, out)
            if args.action == "verify":
                return _verify(args, sub, out, err)
            return _retire(args, profile, api, sub, out, err)
        except (CliError, SubchainError, CovenantError, OSError) as exc:
            err.write(f"covenant: {exc}\n")
            return FAILED
        finally:
            sub.close()


def _run(args: argparse.Namespace, profile: Profile, api: Api, sub: Any, out: TextIO, err: TextIO) -> int:
    from .subchain import RegistrationPending, SubchainRefused, run_loop

    def say(text: str) -> None:
        out.write(text + "\n")
        out.flush()

    def warn(text: str) -> None:
        err.write(text + "\n")
        err.flush()

    if sub.made_key:
        say(f"made the sub-chain key {sub.folder / 'subchain-key.pem'} (used for nothing else)")
    node = profile.facts().get("node")
    pending = ""

    def register() -> bool:
        """True once the registration is confirmed; False while the log does not list it yet."""
        nonlocal pending
        try:
            new, _ = sub.ensure_registered(lambda path, body: api.post(profile, path, body), node)
        except RegistrationPending as exc:
            if str(exc) != pending:
                say(f"sub-chain {sub.witness.id}: {exc}")
                pending = str(exc)
            return False
        say(f"sub-chain {sub.witness.id} {'registered' if new else 'is registered'} with {sub.api_url} "
            f"(public key {sub.public_key}); its copy: {sub.store.path}")
        return True

    try:
        registered = register()
    except SubchainRefused as exc:
        warn(f"covenant: {exc}")
        return REFUSED
    stop = threading.Event()
    previous = None
    if threading.current_thread() is threading.main_thread():
        # Ctrl-C: finish the block in hand (its one transaction), then stop
        previous = signal.signal(signal.SIGINT, lambda signum, frame: stop.set())
    try:
        code = run_loop(sub, args.interval, args.once, say, warn, stop, lambda: registered or register())
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
    if stop.is_set():
        say("stopped")
    return int(code)


def _when(seconds: int | None) -> str:
    import time

    return "-" if seconds is None else time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(seconds))


def _status(args: argparse.Namespace, sub: Any, out: TextIO) -> int:
    answer = sub.status()
    if args.json:
        out.write(json.dumps(answer, indent=2) + "\n")
        return OK
    cosigned = answer["cosigned"]
    log = answer["log"]
    newest = answer["newest_quarantine"]
    retired = answer["retired"]
    refusal = answer["refusal"]
    if answer["subchain"] is None:
        first = (f"sub-chain: no key in {sub.folder} (`run` makes and registers one)"
                 if retired is None else
                 f"sub-chain {retired['subchain']} retired by {answer['api']} at {_when(retired['time'])}; its key is "
                 f"moved aside to {retired['key_moved_to'] or '-'}; `run` makes and registers a new one")
    elif retired is not None:
        first = f"sub-chain {answer['subchain']} (retired by {answer['api']} at {_when(retired['time'])})"
    else:
        first = (f"sub-chain {answer['subchain']} ({'registered' if answer['registered'] else 'not registered'} "
                 f"with {answer['api']})")
    lines = [
        f"{first}; copy {answer['file']}",
        f"height {answer['height']}, {answer['log_size']} entries, root {answer['root'] or '-'} ({answer['status']})",
        ("last cosigned: nothing yet" if cosigned is None else
         f"last cosigned: {cosigned['size']} entries, root {cosigned['root']}, at {_when(cosigned['time'])}, "
         f"{'sent to the log' if cosigned['sent'] else 'not taken by the log yet'}"),
        (f"lag: {log['lag']} entries behind the log's checkpoint of {log['size']}" if log["reachable"] else
         f"lag: unknown, the log cannot be read ({log['error']})"),
        f"quarantined blocks: {answer['quarantined']}" + (
            f"; newest at height {newest['height']}: {newest['reason']}" if newest else ""),
    ]
    if refusal is not None:
        lines.append(f"the log's last refusal: {refusal['code']} for sub-chain {refusal['subchain']}, "
                     f"{refusal['size']} entries, at {_when(refusal['time'])}: {refusal['message']}")
    if "alarm" in answer:
        lines.append(f"alarm: {answer['alarm']['reason']}")
    out.write("\n".join(lines) + "\n")
    return OK


def _verify(args: argparse.Namespace, sub: Any, out: TextIO, err: TextIO) -> int:
    result = sub.verify_offline()
    if args.json:
        out.write(json.dumps(result, indent=2) + "\n")
    elif result["ok"]:
        out.write(f"OK: the local copy verifies from genesis, offline: height {result['height']}, "
                  f"{result['log_size']} entries, root {result['root'] or '-'}\n")
    else:
        out.write(f"FAILED after height {result['height']}: {result['fault']}\n")
    return OK if result["ok"] else REFUSED


def _retire(args: argparse.Namespace, profile: Profile, api: Api, sub: Any, out: TextIO, err: TextIO) -> int:
    status, answer = api.post(profile, f"/subchains/{sub.witness.id}/retirement", {})
    error = answer.get("error", {}) if status >= 400 else {}
    if status >= 400 and not (status == 409 and error.get("code") == "cosigner_retired"):
        err.write(f"covenant: refused ({status} {error.get('code')}): {error.get('message')}\n")
        return REFUSED
    # retired (now, or before): the key is done; the copy stays, and the next `run` makes and registers a new key
    moved = sub.put_key_aside()
    answer = {**answer, "key_moved_to": None if moved is None else str(moved)}
    said = (f"sub-chain {sub.witness.id} retired (entry {answer.get('entry')})" if status < 400 else
            f"sub-chain {sub.witness.id} was retired already")
    out.write((json.dumps(answer, indent=2) if args.json else
               f"{said}; its cosignatures count no more; its key is moved aside to {moved}; `covenant subchain run` "
               "makes and registers a new one\n").rstrip("\n") + "\n")
    return OK

