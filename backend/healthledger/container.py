"""The service container: every long-lived client the API uses, built once per process."""

from __future__ import annotations

import asyncio
import logging
import secrets
from dataclasses import dataclass, field
from typing import Any

from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from .auth.roles import RoleCache
from .auth.siwe_login import SiweLogin
from .auth.tokens import TokenService
from .chain.bills import BillsChain
from .chain.client import ChainClient
from .chain.relayer import Relayer
from .db.access import AccessRequestStore, GrantKeyStore
from .db.auth_store import NonceStore, RefreshTokenStore
from .db.bills import BillStore
from .db.keys import AccountKeyStore
from .db.mongo import connect, ensure_indexes
from .db.pin_releases import PinReleaseStore
from .db.profiles import ProfileStore
from .db.records import RecordStore
from .db.relay_jobs import RelayJobStore
from .db.relayer_lease import LeaseStore, lease_id
from .db.views import ViewLog
from .keyed_locks import KeyedLocks
from .process_workers import ProcessWorkers
from .services.rate_limits import RateLimits
from .services.relay_queue import RelayQueue
from .services.relay_worker import RelayWorker
from .services.typed_data_factory import TypedDataFactory
from .settings import Settings
from .storage.ipfs import IpfsClient

log = logging.getLogger(__name__)


@dataclass
class Services:
    settings: Settings
    mongo: AsyncMongoClient
    db: AsyncDatabase
    records: RecordStore
    # CIDs of removed uploads whose unpin the IPFS node has not confirmed yet (services/pin_release.py).
    pin_releases: PinReleaseStore
    nonces: NonceStore
    refresh_tokens: RefreshTokenStore
    login: SiweLogin
    tokens: TokenService
    ipfs: IpfsClient
    chain: ChainClient
    relayer: Relayer
    # Every relayer transaction goes through this queue, shared by all API instances (one sends at a time).
    relay_queue: RelayQueue
    typed_data: TypedDataFactory
    access_requests: AccessRequestStore
    grant_keys: GrantKeyStore
    views: ViewLog
    profiles: ProfileStore
    roles: RoleCache
    rate_limits: RateLimits
    # Accounts' registered encryption keys (keys v2); bindings are signed for `chain_id`.
    account_keys: AccountKeyStore
    chain_id: int
    # Turns for memory-heavy FHIR Bundle work, FHIR_BUNDLE_CONCURRENCY at once (services/fhir_import.py,
    # services/fhir_export.py).
    bundle_turns: asyncio.Semaphore
    # Worker processes for CPU-heavy pure work that holds the GIL (a Bundle's JSON), started on first use.
    cpu_workers: ProcessWorkers
    # Index of issued bills (terms, ids, issue tx); BillPayments reads and encodings, None when bills
    # are not configured (BILL_PAYMENTS_ADDRESS empty: /api/bills answers 503 `bills_unavailable`).
    bills: BillStore
    bill_chain: BillsChain | None = None
    # Per-patient serialisation of record settling (services/anchoring.py).
    patient_locks: KeyedLocks = field(default_factory=KeyedLocks, repr=False)
    # This instance's one self-test run at a time: a SelftestRunner, made on first use by
    # services/selftest.py (which imports this module, hence not named here).
    selftest: Any = field(default=None, repr=False)

    async def close(self) -> None:
        self.cpu_workers.close()
        await self.relay_queue.close()
        await self.ipfs.aclose()
        await self.chain.aclose()
        await self.mongo.close()


async def build_services(settings: Settings) -> Services:
    """Connect to MongoDB, IPFS and the chain; fail fast with a clear message when misconfigured."""
    if not settings.factory_address:
        raise RuntimeError("FACTORY_ADDRESS is not set: deploy the contracts first (see README)")
    if not settings.relayer_private_key.get_secret_value():
        raise RuntimeError("RELAYER_PRIVATE_KEY is not set")
    jwt_secret = settings.jwt_secret.get_secret_value()
    if not jwt_secret:
        # Tokens then last only as long as this process; fine for local runs, set JWT_SECRET in production.
        log.warning("JWT_SECRET not set: using a random per-process secret")
        jwt_secret = secrets.token_urlsafe(48)

    chain = ChainClient(settings.eth_rpc_url, settings.factory_address, timeout_seconds=settings.rpc_timeout_seconds)
    chain_id = await chain.chain_id()
    if settings.chain_id is not None and chain_id != settings.chain_id:
        raise RuntimeError(f"ETH_RPC_URL serves chain {chain_id}, but CHAIN_ID says {settings.chain_id}")
    relayer = Relayer(
        chain, settings.relayer_private_key.get_secret_value(), resend_after=settings.tx_resend_seconds
    )

    mongo = connect(settings.mongodb_uri, settings.mongodb_timeout_seconds)
    db = mongo[settings.mongodb_database]
    await ensure_indexes(db)
    grant_keys = GrantKeyStore(db)
    # Keys v2: grant copies wrapped under the retired server-side grant key can never be opened
    # again; the doctor gets a sealed copy when the patient approves again.
    if dropped := await grant_keys.drop_legacy():
        log.info("deleted v1 grant copies", extra={"count": dropped})
    nonces = NonceStore(db, settings.siwe_nonce_ttl_seconds)
    records = RecordStore(db)
    relay_jobs = RelayJobStore(db)
    await relay_jobs.ensure_indexes()
    bills = BillStore(db)
    await bills.ensure_indexes()
    relayer_id = lease_id(relayer.address, chain_id)
    worker = RelayWorker(
        relayer=relayer, chain=chain, jobs=relay_jobs, leases=LeaseStore(db, relayer.address, chain_id),
        records=records, settings=settings, relayer_id=relayer_id,
    )
    return Services(
        settings=settings,
        mongo=mongo,
        db=db,
        records=records,
        pin_releases=PinReleaseStore(db),
        nonces=nonces,
        refresh_tokens=RefreshTokenStore(db),
        login=SiweLogin(
            nonces,
            settings.origins,
            chain_id,
            nonce_ttl_seconds=settings.siwe_nonce_ttl_seconds,
            clock_skew_seconds=settings.siwe_clock_skew_seconds,
            main_domain=settings.siwe_domain or None,
        ),
        tokens=TokenService(jwt_secret, settings.access_token_ttl_seconds, settings.refresh_token_ttl_seconds),
        ipfs=IpfsClient(settings.ipfs_api_url, timeout_seconds=settings.ipfs_timeout_seconds),
        chain=chain,
        relayer=relayer,
        relay_queue=RelayQueue(
            relayer=relayer, chain=chain, jobs=relay_jobs, worker=worker, settings=settings, relayer_id=relayer_id
        ),
        typed_data=TypedDataFactory(chain, chain_id, settings.signature_ttl_seconds),
        access_requests=AccessRequestStore(db),
        grant_keys=grant_keys,
        views=ViewLog(db),
        profiles=ProfileStore(db),
        roles=RoleCache(chain, settings.role_cache_seconds),
        # Its TTL index is created by ensure_indexes above, with the others.
        rate_limits=RateLimits.from_settings(db, settings),
        account_keys=AccountKeyStore(db),
        chain_id=chain_id,
        bills=bills,
        bill_chain=BillsChain(
            chain, settings.bill_payments_address, settings.bill_payments_deployed_block
        ) if settings.bill_payments_address else None,
        bundle_turns=asyncio.Semaphore(settings.fhir_bundle_concurrency),
        cpu_workers=ProcessWorkers(settings.fhir_bundle_concurrency),
    )
