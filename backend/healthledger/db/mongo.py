"""The MongoDB connection (PyMongo's async API) and the indexes the queries rely on."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from pymongo import ASCENDING, DESCENDING, AsyncMongoClient, monitoring
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import OperationFailure

from ..metrics import observe_dependency_seconds

RECORDS = "records"
LOGIN_NONCES = "login_nonces"
REFRESH_TOKENS = "refresh_tokens"
RECORD_VIEWS = "record_views"
ACCESS_REQUESTS = "access_requests"
GRANT_KEYS = "grant_keys"
PROFILES = "profiles"
RATE_LIMITS = "rate_limits"
ACCOUNT_KEYS = "account_keys"
PINS_TO_RELEASE = "pins_to_release"

# Partial unique indexes by name. Their filters were `{$type: ...}` under the default names: MongoDB's
# planner uses a partial index only for a query it can prove inside the filter, and it proves
# comparisons (`record_id: N` is within `record_id >= 0`, `replaces: "cid"` within `replaces >= ""`),
# never a `$type` the query does not repeat: those indexes served no lookup by id or by version.
RECORD_ID_INDEX = "patient_record_id"
RECORD_ID_INDEX_BEFORE = "patient_1_record_id_1"
REPLACES_INDEX = "replaces_successor"
REPLACES_INDEX_BEFORE = "replaces_1"
# IndexNotFound: another instance starting at the same time dropped it first.
INDEX_NOT_FOUND = 27


async def purge_expired(collection: AsyncCollection) -> int:
    """Delete the documents whose `expires_at` has passed; their TTL index does the same, more slowly."""
    result = await collection.delete_many({"expires_at": {"$lte": datetime.now(UTC)}})
    return result.deleted_count


async def ping(db: AsyncDatabase) -> None:
    """Round trip to the server (the status page's MongoDB probe); raises PyMongoError when it is down."""
    await db.command("ping")


class CommandTimer(monitoring.CommandListener):
    """Each MongoDB command's latency into the dependency histogram (metrics.py).

    PyMongo's command monitoring is the library's own hook for this: the driver reports every
    command it sends, with its duration, from the async client as from the sync one, so no call
    site needs wrapping. The operation label is the command name (`find`, `insert`, `update`, ...).
    The driver's server monitoring (heartbeats) is not reported here, so only our commands count.
    """

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        pass

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        observe_dependency_seconds("mongodb", event.command_name, event.duration_micros / 1e6, True)

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        observe_dependency_seconds("mongodb", event.command_name, event.duration_micros / 1e6, False)


def connect(
    uri: str, timeout_seconds: float, listeners: Sequence[monitoring.CommandListener] = ()
) -> AsyncMongoClient:
    """A client whose every operation gives up after `timeout_seconds` (no call waits forever);
    `listeners` see every command too (tests capture the queries the stores send)."""
    timeout_ms = int(timeout_seconds * 1000)
    return AsyncMongoClient(
        uri,
        event_listeners=[CommandTimer(), *listeners],
        serverSelectionTimeoutMS=timeout_ms,
        connectTimeoutMS=timeout_ms,
        socketTimeoutMS=timeout_ms,
        timeoutMS=timeout_ms,
        tz_aware=True,
    )


async def drop_indexes_if_present(collection: AsyncCollection, *names: str) -> None:
    """Drop indexes an earlier version created (idempotent: several instances start at once)."""
    for name in set(names) & set(await collection.index_information()):
        try:
            await collection.drop_index(name)
        except OperationFailure as exc:
            if exc.code != INDEX_NOT_FOUND:
                raise


async def ensure_indexes(db: AsyncDatabase) -> None:
    """Create the indexes at start-up; unique where identity demands it.

    - a CID names exactly one stored ciphertext;
    - an on-chain record id belongs to exactly one metadata document per patient;
    - every lookup an upload makes by patient seeks an index on exactly its fields (patient and
      content hash; patient and record id). Without one, MongoDB reads all of the patient's records
      and SecantusDB the whole collection: an upload by a patient with 10,000 records took 3.1 times
      a new patient's (scripts/bench_integrity.py; tests/backend/test_record_lookups.py);
    - a login nonce and a refresh-token id are single-use, so they are unique too;
    - an account has one registered encryption key;
    - rate-limit counters are deleted by MongoDB's TTL monitor once their window has ended
      (`expireAfterSeconds=0`: at the `expires_at` stored in each document).
    """
    records = db[RECORDS]
    await records.create_index([("cid", ASCENDING)], unique=True)
    await records.create_index([("patient", ASCENDING), ("created_at", DESCENDING)])
    await records.create_index([("patient", ASCENDING), ("content_hash", ASCENDING)])  # an upload's earlier attempt
    await records.create_index([("author", ASCENDING), ("created_at", DESCENDING)])  # a doctor's /authored
    await records.create_index([("state", ASCENDING), ("created_at", ASCENDING)])
    await records.create_index([("state", ASCENDING), ("block_number", ASCENDING)])
    await records.create_index(
        [("patient", ASCENDING), ("record_id", ASCENDING)],
        name=RECORD_ID_INDEX,
        unique=True,
        partialFilterExpression={"record_id": {"$gte": 0}},
    )
    # An amendment names the version it replaces (services/amendments.py): one successor per version,
    # claimed by the new version's pending document, so two amendments of one version cannot both land.
    await records.create_index(  # every string (comparisons never cross types): not null, not missing
        [("replaces", ASCENDING)], name=REPLACES_INDEX, unique=True, partialFilterExpression={"replaces": {"$gte": ""}}
    )
    await drop_indexes_if_present(records, RECORD_ID_INDEX_BEFORE, REPLACES_INDEX_BEFORE)
    await db[LOGIN_NONCES].create_index([("nonce", ASCENDING)], unique=True)
    await db[REFRESH_TOKENS].create_index([("jti", ASCENDING)], unique=True)
    # Entries that only matter until they expire: MongoDB's TTL monitor deletes them (about once a
    # minute); the maintenance loop also purges them, for servers without a TTL monitor.
    for collection in (LOGIN_NONCES, REFRESH_TOKENS):
        await db[collection].create_index([("expires_at", ASCENDING)], expireAfterSeconds=0)
    await db[RECORD_VIEWS].create_index([("patient", ASCENDING), ("at", DESCENDING)])
    await db[RECORD_VIEWS].create_index([("at", DESCENDING)])
    requests = db[ACCESS_REQUESTS]
    await requests.create_index([("patient", ASCENDING), ("state", ASCENDING), ("created_at", DESCENDING)])
    await requests.create_index([("doctor", ASCENDING), ("created_at", DESCENDING)])
    # The audit trail joins AccessRequested events to their off-chain reason by transaction.
    await requests.create_index([("tx_hash", ASCENDING)])
    # One shared data key (sealed to the doctor) per (grant holder, record): re-approval replaces it.
    await db[GRANT_KEYS].create_index([("doctor", ASCENDING), ("cid", ASCENDING)], unique=True)
    await db[GRANT_KEYS].create_index([("patient", ASCENDING), ("doctor", ASCENDING)])
    # The maintenance loop deletes copies whose grant ended (chain time, so no TTL index).
    await db[GRANT_KEYS].create_index([("expires_at", ASCENDING)])
    await db[PROFILES].create_index([("address", ASCENDING)], unique=True)
    await db[PROFILES].create_index([("role", ASCENDING), ("name_lower", ASCENDING)])
    await db[RATE_LIMITS].create_index([("expires_at", ASCENDING)], expireAfterSeconds=0)
    # One registered encryption key per account (keys v2): re-registering replaces it.
    await db[ACCOUNT_KEYS].create_index([("account", ASCENDING)], unique=True)
    # Pins of removed uploads that the node has not yet confirmed removing, oldest first (db/pin_releases.py).
    await db[PINS_TO_RELEASE].create_index([("since", ASCENDING)])
