"""The API key store on real SQLite and PostgreSQL: keys are stored only as hashes, found
by their id, refused when wrong or revoked, and changed only with precise errors."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa

from leadledger.apikeys import ApiKeyError, KeyStore, Role, api_keys, key_id
from leadledger.config import Database
from leadledger.ledgerdb import LedgerDB


@pytest.fixture
def store(database: Database) -> Iterator[KeyStore]:
    keys = KeyStore(database.ledger_url())
    yield keys
    keys.close()


def test_a_key_is_shown_once_and_stored_only_as_its_hash(store: KeyStore) -> None:
    key, token = store.create("dashboard", [Role.READ, Role.AUDIT])
    assert token.startswith(f"ll_{key.id}_")
    assert key_id(token) == key.id
    with store.engine.connect() as conn:
        stored = conn.execute(sa.select(api_keys)).one()
    assert stored.digest == hashlib.sha256(token.encode()).hexdigest()
    assert token not in [str(v) for v in stored]
    assert stored.roles == "audit,read"
    found = store.authenticate(token)
    assert found == key
    assert found is not None
    assert found.roles == {Role.READ, Role.AUDIT}


def test_each_key_is_new(store: KeyStore) -> None:
    made = [store.create("same name", [Role.READ]) for _ in range(5)]
    assert len({key.id for key, _ in made}) == 5
    assert len({token for _, token in made}) == 5


@pytest.mark.parametrize(
    "wrong",
    ["", "Bearer", "not-a-key", "ll_", "ll_abc", "ll_nosuchid_secret", "ll_a-b_secret"],
)
def test_unknown_and_malformed_keys_are_refused(store: KeyStore, wrong: str) -> None:
    store.create("real", [Role.READ])
    assert store.authenticate(wrong) is None


def test_a_wrong_secret_under_a_real_id_is_refused(store: KeyStore) -> None:
    key, token = store.create("real", [Role.READ])
    assert store.authenticate(f"ll_{key.id}_{'x' * 43}") is None
    assert store.authenticate(token + "x") is None
    assert store.authenticate(token) == key


def test_a_revoked_key_is_refused_and_listed_as_revoked(store: KeyStore) -> None:
    keep, kept_token = store.create("keep", [Role.WRITE])
    gone, gone_token = store.create("gone", [Role.ADMIN])
    revoked = store.revoke(gone.id)
    assert revoked.revoked_at is not None
    assert not revoked.active
    assert store.authenticate(gone_token) is None
    assert store.authenticate(kept_token) == keep
    listed = {k.id: k for k in store.all()}
    assert listed.keys() == {keep.id, gone.id}
    assert listed[keep.id].active
    assert listed[gone.id].revoked_at == revoked.revoked_at


def test_refusals_name_what_is_wrong(store: KeyStore) -> None:
    key, _ = store.create("once", [Role.READ])
    store.revoke(key.id)
    with pytest.raises(ApiKeyError, match=f"API key '{key.id}' was already revoked at "):
        store.revoke(key.id)
    with pytest.raises(ApiKeyError, match="no API key with id 'missing'"):
        store.revoke("missing")
    with pytest.raises(ApiKeyError, match="at least one role: read, write, audit, admin"):
        store.create("none", [])
    with pytest.raises(ApiKeyError, match="needs a name"):
        store.create("  ", [Role.READ])
    with pytest.raises(ValueError, match="'owner' is not a valid Role"):
        store.create("bad", [Role("owner")])


def test_the_keys_table_is_its_own_not_the_ledgers(database: Database) -> None:
    """A database that only holds keys is not taken for one holding engine data, and the
    ledger opened on it later does not disturb the keys."""
    url = database.ledger_url()
    assert not KeyStore.holds_keys(url)
    store = KeyStore(url)
    key, token = store.create("first", [Role.READ])
    assert KeyStore.holds_keys(url)
    assert not LedgerDB.holds_engine_tables(url)
    LedgerDB(url).close()
    assert store.authenticate(token) == key
    store.close()


def test_server_processes_starting_together_all_open_the_store(database: Database) -> None:
    """Each server process opens the store at start; on a new database they race to
    create its table, and every one of them must come up."""
    url = database.ledger_url()
    with ThreadPoolExecutor(4) as pool:
        stores = list(pool.map(lambda _: KeyStore(url), range(4)))
    try:
        key, token = stores[0].create("shared", [Role.READ])
        assert all(store.authenticate(token) == key for store in stores)
    finally:
        for store in stores:
            store.close()
