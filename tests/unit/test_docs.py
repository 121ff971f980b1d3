"""The README states the limits the code enforces."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_readme_states_the_item_size_the_code_enforces():
    from chalicelib.api.bodies import MAX_ITEM_BYTES
    from chalicelib.ledger.format import MAX_ENTRY_BYTES

    readme = (ROOT / "README.md").read_text()
    assert f"UTF-8 text up to {MAX_ITEM_BYTES:,} bytes" in readme
    assert f"{MAX_ENTRY_BYTES:,} bytes of" in readme
    assert "200 KB" not in readme


def test_the_readme_states_the_largest_upload_the_code_enforces():
    from chalicelib.services.uploads import SAMPLE_BYTES, UPLOAD_SECONDS
    from chalicelib.settings import MAX_UPLOAD_BYTES

    readme = (ROOT / "README.md").read_text()
    assert f"**The largest upload is {MAX_UPLOAD_BYTES // (1 << 20)} MiB** ({MAX_UPLOAD_BYTES:,} bytes" in readme
    assert f"first {SAMPLE_BYTES:,} bytes" in readme and f"valid {UPLOAD_SECONDS // 60} minutes" in readme


def test_the_readme_states_the_deadline_bounds_the_code_enforces():
    from chalicelib.api.bodies import OpenProposal

    field = OpenProposal.model_fields["deadline_minutes"]
    bounds = {type(m).__name__: m for m in field.metadata}
    readme = (ROOT / "README.md").read_text()
    assert f"`deadline_minutes` (1 to {bounds['Le'].le:,}; default {field.default:,}" in readme
