"""One run of ``covenant``: the API, the profile, and what ties a profile to one chain.

A profile's facts (node, wallet, the ids it last used) are true of one chain
only: each ``make run`` starts a new one at the same address. So a profile
remembers the hash of the genesis block of the chain it registered on, and a
command that uses the profile against a chain with another genesis stops and
says what to do. ``register --new-chain`` (``import-key --new-chain`` for a
key made for the new chain) keeps the old chain's facts in the profile's
``chains/`` folder and starts again; nothing is ever deleted.

Ids may be typed as ``last`` (the last one of its kind this profile used or
was given) or ``@NAME`` (the one of the local profile NAME: its node, its
wallet, or the last order, proposal or item it used), so the walkthrough needs
no id copied by hand.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from .base import Api, CliError, Profile, checked_id, segment

SUBCHAIN_FILES = ("subchain.sqlite3", "subchain.sqlite3-wal", "subchain.sqlite3-shm")


def role_of(facts: dict[str, Any]) -> str:
    node = str(facts.get("node") or "")
    return str(facts.get("role") or {"c-": "consumer", "m-": "merchant"}.get(node[:2], "imported"))


def new_chain_hint(profile: Profile) -> str:
    """The command that moves ``profile`` to the API's chain, keeping its key."""
    role, name = role_of(profile.facts()), profile.name
    if role == "consumer":
        return f"`covenant --profile {name} register consumer --new-chain`"
    if role == "merchant":
        return (f"`covenant --profile {name} register merchant --new-chain` with its --legal-name, --licence, --ip "
                "and --contact")
    return f"`covenant --profile {name} import-key PEM --new-chain` with the new chain's key"


class Session:
    def __init__(self, api: Api, home: Path, profile: Profile):
        self.api, self.home, self.profile = api, home, profile
        self._genesis: str | None = None
        self._on_chain: set[str] = set()

    def genesis(self) -> str:
        """The hash of block 0 of the chain the API serves (asked once a run)."""
        if self._genesis is None:
            status, answer = self.api.get("/blocks/0?limit=1")
            found = answer.get("hash")
            if status != 200 or not isinstance(found, str):
                raise CliError(f"{self.api.base} serves no genesis block (GET /blocks/0 answered {status}): is it a "
                               "Covenant API, and is its chain started?")
            self._genesis = found
        return self._genesis

    def other_chain(self, profile: Profile, why: str) -> CliError:
        return CliError(f"profile {profile.name} belongs to another chain: {why} (each `make run` starts a new "
                        f"chain). To use its key on this one, {new_chain_hint(profile)} keeps the old chain's facts "
                        f"in {profile.folder / 'chains'} and registers again; or use another --profile")

    def _elsewhere(self, profile: Profile) -> str | None:
        """Why ``profile`` belongs to another chain than the API's, or None if it does not.

        A profile with no node yet belongs to no chain. One made before profiles remembered their genesis
        is taken as this chain's when its node is there with its key, and then remembers the genesis."""
        facts = profile.facts()
        if facts.get("genesis"):
            if facts["genesis"] == self.genesis():
                return None
            return (f"it registered on the chain whose genesis is {str(facts['genesis'])[:16]}…, but "
                    f"{self.api.base} serves the chain whose genesis is {self.genesis()[:16]}…")
        if not facts.get("node"):
            return None
        node = checked_id(f"profile {profile.name}'s node", str(facts["node"]))
        status, answer = self.api.get(f"/nodes/{segment(node)}")
        if status == 200 and answer.get("kid") == profile.kid():
            profile.remember(genesis=self.genesis(), api=self.api.base)
            return None
        if status in (200, 404):
            held = "is another key's" if status == 200 else "is unknown"
            return f"its node {node} {held} on the chain {self.api.base} serves"
        raise CliError(f"cannot tell whether profile {profile.name} belongs to the chain {self.api.base} serves: "
                       f"GET /nodes/{node} answered {status}")

    def on_this_chain(self, profile: Profile | None = None) -> Profile:
        """``profile`` (this run's by default), once it is known not to belong to another chain."""
        profile = profile or self.profile
        if profile.name not in self._on_chain:
            why = self._elsewhere(profile)
            if why is not None:
                raise self.other_chain(profile, why)
            self._on_chain.add(profile.name)
        return profile

    def checked(self, profile: Profile) -> bool:
        return profile.name in self._on_chain

    def node(self, profile: Profile | None = None) -> str:
        profile = self.on_this_chain(profile)
        node = profile.facts().get("node")
        if not node:
            raise CliError(f"profile {profile.name} has no node yet: `covenant --profile {profile.name} register "
                           "consumer` (or merchant)")
        return checked_id(f"profile {profile.name}'s node", str(node))

    def wallet(self, profile: Profile | None = None) -> str:
        """The profile's wallet; a merchant's, issued at approval, is asked of the server and remembered."""
        profile = self.on_this_chain(profile)
        known = profile.facts().get("wallet")
        if known:
            return checked_id(f"profile {profile.name}'s wallet", str(known))
        node = self.node(profile)
        status, answer = self.api.get(f"/nodes/{segment(node)}")
        if status != 200:
            raise CliError(f"cannot learn profile {profile.name}'s wallet: GET /nodes/{node} answered {status}")
        wallet = answer.get("wallet")
        if not isinstance(wallet, str) or not wallet:
            raise CliError(f"profile {profile.name}'s node {node} has no wallet yet (it is {answer.get('status')}): "
                           f"a merchant's wallet comes with the stamp node's approval, `covenant --profile STAMP "
                           f"approve @{profile.name}`")
        profile.remember(wallet=checked_id(f"the wallet of {node}", wallet))
        return wallet

    def other(self, name: str, what: str) -> Profile:
        if not name or name.startswith(".") or "/" in name or "\\" in name:
            raise CliError(f"{what} @{name}: after @ comes the name of a profile in {self.home}")
        other = Profile(self.home, name)
        if not other.folder.is_dir():
            raise CliError(f"{what} @{name}: there is no profile {name} in {self.home}")
        return other

    def resolve(self, kind: str, what: str, text: str) -> str:
        """An id typed by a person: as it is (checked), ``last``, or ``@NAME``."""
        if text == "last":
            profile = self.on_this_chain()
            found = profile.last(kind)
            if found is None:
                raise CliError(f"{what} last: profile {profile.name} has used no {kind} yet; name one by its id")
            return checked_id(f"{what} (the last {kind} of profile {profile.name})", found)
        if text.startswith("@"):
            other = self.on_this_chain(self.other(text[1:], what))
            if kind == "node":
                return self.node(other)
            if kind == "wallet":
                return self.wallet(other)
            found = other.last(kind)
            if found is None:
                raise CliError(f"{what} {text}: profile {other.name} has used no {kind} yet")
            return checked_id(f"{what} (the last {kind} of profile {other.name})", found)
        return checked_id(what, text)

    def used(self, **ids: str | None) -> None:
        """Remember the ids a command named or was given, for `last`, when the profile is on this chain."""
        known = {kind: value for kind, value in ids.items() if isinstance(value, str) and value}
        if known and self.checked(self.profile) and self.profile.folder.is_dir():
            self.profile.remember_last(**known)

    def leave_chain(self, profile: Profile, move_key: bool) -> Path | None:
        """Keep the old chain's facts (with ``move_key``, its key too) in ``chains/``; None if it is on this one."""
        if profile.name in self._on_chain or self._elsewhere(profile) is None:
            return None
        facts = profile.facts()
        label = str(facts.get("genesis") or "unknown")[:16] + time.strftime("-%Y%m%dT%H%M%S", time.gmtime())
        kept = profile.folder / "chains" / label
        for n in range(2, 1000):  # never over what an earlier change of chain kept
            if not kept.exists():
                break
            kept = kept.with_name(f"{label}-{n}")
        kept.mkdir(parents=True)
        (kept / "profile.json").write_text(json.dumps(facts, indent=2) + "\n")
        for name in SUBCHAIN_FILES + (("key.pem",) if move_key else ()):
            if (profile.folder / name).exists():
                (profile.folder / name).replace(kept / name)
        profile.facts_path.write_text(json.dumps({} if move_key else {"kid": profile.kid()}, indent=2) + "\n")
        return kept
