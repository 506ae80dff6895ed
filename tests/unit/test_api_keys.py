"""Clients' keys in the results table: made once, listed without the key, revoked by name."""

from __future__ import annotations

from typing import Any

import pytest
from taskqueue.settings import Settings
from taskqueue.stores import api_keys


def test_a_key_has_256_random_bits_and_a_recognisable_prefix() -> None:
    keys = {api_keys.new_key() for _ in range(100)}

    assert len(keys) == 100
    assert all(key.startswith("tq_") and len(key) == 3 + 43 for key in keys)
    assert all(api_keys.well_formed(key) for key in keys)
    assert not api_keys.well_formed("tq_short")


def test_create_list_revoke(aws: None, dynamodb: Any, settings: Settings) -> None:
    table = settings.results_table
    first = api_keys.create(dynamodb, table, "billing")
    api_keys.create(dynamodb, table, "reports")

    assert [entry.client for entry in api_keys.list_keys(dynamodb, table)] == [
        "billing",
        "reports",
    ]
    entry = api_keys.lookup(dynamodb, table, first)
    assert entry is not None and entry.client == "billing"
    assert api_keys.revoke(dynamodb, table, "billing") == 1
    assert api_keys.lookup(dynamodb, table, first) is None
    assert api_keys.revoke(dynamodb, table, "billing") == 0
    assert [entry.client for entry in api_keys.list_keys(dynamodb, table)] == ["reports"]


@pytest.mark.parametrize("name", ["", "-x", "a b", "x" * 65, "naïve"])
def test_a_client_name_is_a_plain_word(
    aws: None, dynamodb: Any, settings: Settings, name: str
) -> None:
    with pytest.raises(api_keys.ClientNameError, match="not a client name"):
        api_keys.create(dynamodb, settings.results_table, name)


def test_a_client_has_one_key_until_revoked(aws: None, dynamodb: Any, settings: Settings) -> None:
    api_keys.create(dynamodb, settings.results_table, "billing")

    with pytest.raises(api_keys.ClientNameError, match="exists"):
        api_keys.create(dynamodb, settings.results_table, "billing")


def test_recording_a_revoked_key_s_use_does_not_bring_it_back(
    aws: None, dynamodb: Any, settings: Settings
) -> None:
    key = api_keys.create(dynamodb, settings.results_table, "billing")
    entry = api_keys.lookup(dynamodb, settings.results_table, key)
    assert entry is not None
    api_keys.revoke(dynamodb, settings.results_table, "billing")

    api_keys.record_use(dynamodb, settings.results_table, key, entry, 1.0)

    assert api_keys.lookup(dynamodb, settings.results_table, key) is None


def test_a_key_item_has_no_expiry(aws: None, dynamodb: Any, settings: Settings) -> None:
    """tools/cli/README.md: the key item has no `ttl` (it never expires)."""
    key = api_keys.create(dynamodb, settings.results_table, "billing")

    [item] = dynamodb.scan(TableName=settings.results_table)["Items"]

    assert item["id"]["S"] == f"apikey#{api_keys.key_hash(key)}"
    assert "ttl" not in item
