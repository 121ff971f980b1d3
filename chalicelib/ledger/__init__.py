"""Pure ledger code: encoding, hashing, the Merkle log, blocks and verification.

Nothing in this package performs I/O or imports boto3, so the verifier command
line tool and the replicas can use it without AWS.
"""
