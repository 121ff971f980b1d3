"""Review of issue 8: /keys before genesis answers no keys, as it did, not 503 storage_unavailable."""


def test_keys_before_genesis_are_none(aws):
    from chalicelib.services import reading

    assert reading.keys() == {"keys": []}
