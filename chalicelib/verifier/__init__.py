"""The auditors' verifier: checks the chain through the public API only (LEDGER.md)."""
