"""Typed settings, read from the environment once, on first use (never at import)."""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass

DEFAULT_PREFIX = "covenant-dev"
MAX_UPLOAD_BYTES = 100 * 1024 * 1024  # 104,857,600: the default largest upload (see Settings.max_upload_bytes)


def current_prefix() -> str:
    """The resource name prefix, read now (deployment wiring reads it at import, uncached)."""
    return os.environ.get("COVENANT_PREFIX", DEFAULT_PREFIX)


class SettingsError(RuntimeError):
    """A required setting is missing or malformed."""


def _int(name: str, default: int, low: int, high: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise SettingsError(f"{name} must be an integer, got {raw!r}") from exc
    if not low <= value <= high:
        raise SettingsError(f"{name} must be between {low} and {high}, got {value}")
    return value


def _choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    value = os.environ.get(name) or default
    if value not in choices:
        raise SettingsError(f"{name} must be one of {', '.join(choices)}, got {value!r}")
    return value


@dataclass(frozen=True)
class Settings:
    table_prefix: str
    blocks_topic_arn: str
    replica_count: int
    sealer_key: str
    max_block_entries: int
    blocks_per_run: int
    public_origin: str
    store: str
    max_upload_bytes: int
    origin: str
    subchain_key: str = ""
    api_url: str = ""

    @property
    def log_bucket(self) -> str:
        """The S3 bucket of the log's tiles and checkpoint (C2SP tlog-tiles), publicly readable on AWS."""
        return self.table("log")

    def table(self, suffix: str) -> str:
        return f"{self.table_prefix}-{suffix}"

    def replica_queue(self, replica: int) -> str:
        return f"{self.table_prefix}-replica-{replica}"


@functools.cache
def get_settings() -> Settings:
    return Settings(
        table_prefix=os.environ.get("COVENANT_PREFIX", DEFAULT_PREFIX),
        blocks_topic_arn=os.environ.get("COVENANT_BLOCKS_TOPIC_ARN", ""),
        replica_count=_int("COVENANT_REPLICAS", 3, 1, 64),
        sealer_key=os.environ.get("COVENANT_SEALER_KEY", ""),
        # 1,000 entries keep a block item (its entry ids) far below DynamoDB's
        # 400 KB limit and its completion within a few seconds of Lambda time.
        max_block_entries=_int("COVENANT_MAX_BLOCK_ENTRIES", 1000, 1, 5000),
        blocks_per_run=_int("COVENANT_BLOCKS_PER_RUN", 20, 1, 1000),
        # The scheme and host clients sign in @target-uri (https://api.example.com). Unset, the
        # request's own Host header is used, which binds a signature to no one deployment.
        public_origin=os.environ.get("COVENANT_PUBLIC_ORIGIN", "").rstrip("/"),
        # Where the state lives: "dynamodb" (AWS, moto) or "memory" (tests; one process only).
        store=_choice("COVENANT_STORE", "dynamodb", ("dynamodb", "memory")),
        # The log's origin (LEDGER.md), fixed at genesis: a schema-less URL such as
        # covenant.example.com/ledger. Unset, the origin is derived from the genesis hash
        # (localhost/covenant/<16 hex>), as the local stack does.
        origin=_origin(),
        # The largest content a presigned upload may carry (README, "Information goods"). Publishing reads it
        # all and hashes it, then S3 copies it, within one API request that API Gateway cuts at 29 s: 100 MiB is
        # hashed in 0.06 s and read in 0.12 s on moto (`make bench`); on AWS the read takes one to two seconds
        # at the 50-100 MB/s a function gets from S3 (estimated, not measured here). It is also where S3 advises
        # multipart uploads, which one presigned PUT bound to one whole-object SHA-256 is not. Operators may
        # lower it, or raise it to 1 GiB at most.
        max_upload_bytes=_int("COVENANT_MAX_UPLOAD_BYTES", MAX_UPLOAD_BYTES, 1, 1 << 30),
        # Where operator sub-chain i finds its own Ed25519 key: a source as COVENANT_SEALER_KEY's, with {i} for
        # the sub-chain (secret:covenant-dev/subchain/{i}, ssm:..., file:.state/subchain-{i}.pem). Unset, the
        # sub-chains verify and keep blocks but cosign nothing.
        subchain_key=os.environ.get("COVENANT_SUBCHAIN_KEY", ""),
        # The public API an operator sub-chain reads missing blocks from and sends its cosignatures to
        # (https://api.example.com/api). Unset, it calls the program in its own process: tests only.
        api_url=os.environ.get("COVENANT_API_URL", "").rstrip("/"),
    )


def _origin() -> str:
    from .ledger.note import origin_problem

    value = os.environ.get("COVENANT_ORIGIN", "")
    if value and (problem := origin_problem(value)):
        raise SettingsError(f"COVENANT_ORIGIN {value!r}: {problem}")
    return value


def reset_settings() -> None:
    """Forget the cached settings (tests and the local runner change the environment)."""
    get_settings.cache_clear()
