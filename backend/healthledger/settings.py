"""Service configuration, read from the environment (and an optional `.env`) by pydantic-settings.

Every variable is listed with a comment in `.env.example`. Secrets are `SecretStr` so they never
appear in reprs, logs or error messages.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal
from urllib.parse import urlsplit

from pydantic import AliasChoices, Field, SecretStr, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


# Every per-policy limit setting ("N/period" strings; empty turns that one limit off).
RATE_LIMIT_FIELDS: tuple[str, ...] = (
    "rate_limit_nonce_per_ip",
    "rate_limit_login_per_ip",
    "rate_limit_login_per_address",
    "rate_limit_upload_per_ip",
    "rate_limit_upload_per_address",
    "rate_limit_new_vault_per_ip",
    "rate_limit_new_vault_per_address",
    "rate_limit_new_vault_global",
    "rate_limit_access_request_per_ip",
    "rate_limit_access_request_per_address",
)


def _also_old_name(name: str) -> AliasChoices:
    """Read setting `name`, or else its name from before the patient's contract was called a vault,
    so an existing `.env` keeps its limits."""
    return AliasChoices(name, name.replace("new_vault", "new_record_contract"))


class Settings(BaseSettings):
    """All runtime settings of the API service."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    # HTTP
    host: str = "127.0.0.1"
    port: int = 8000
    public_url: str = Field(default="", description="Origin users reach; defaults to http://HOST:PORT")
    public_origins: str = Field(
        default="",
        description="Comma-separated origins users may reach the app at (sign-in accepts each); "
        "default: PUBLIC_URL, or http://HOST:PORT (plus http://localhost:PORT when HOST is 127.0.0.1)",
    )
    frontend_dist: str = Field(default="", description="Built web app to serve at /, if present")
    log_level: str = Field(default="INFO", description="DEBUG, INFO, WARNING or ERROR")
    # JSON lines for log collectors (the default, also in production); `text` for reading a terminal.
    log_format: Literal["json", "text"] = "json"
    # When set, GET /metrics needs `Authorization: Bearer <METRICS_TOKEN>`; empty leaves it open
    # (fine when only the internal network reaches the instances, as a Prometheus scraping each does).
    metrics_token: SecretStr = SecretStr("")
    # Several worker processes behind one port (`uvicorn --workers N`): an empty directory, one per
    # host, wiped before the workers start, where each writes its metrics so that any worker's
    # /metrics answers for all (metrics.py; `make run API_INSTANCES=N` sets it). prometheus-client
    # reads it from the process environment when it is imported, so it must be there, not only in
    # `.env` (start-up refuses the mismatch). Unset (the default) for a single process.
    prometheus_multiproc_dir: str | None = None
    # The self-test (GET /api/system/selftest) calls this instance's own HTTP API at this URL;
    # default: http://127.0.0.1:PORT. Its whole run is bounded by SELFTEST_TIMEOUT_SECONDS.
    selftest_api_url: str = ""
    selftest_timeout_seconds: float = Field(default=180.0, gt=0)
    # Each dependency check of GET /api/system/status and /ready (and `healthledger status`) is
    # reported `down` (`timeout`) after this long, so a health check answers within it (services/status.py).
    status_probe_timeout_seconds: float = Field(default=3.0, gt=0)
    # Largest body of any request but a file upload (which MAX_UPLOAD_BYTES bounds); counted as it arrives.
    max_json_body_bytes: int = 65536

    # MongoDB (real MongoDB in production; SecantusDB in tests and `make run`)
    mongodb_uri: str = "mongodb://127.0.0.1:27017/?directConnection=true"
    mongodb_database: str = "healthledger"
    mongodb_timeout_seconds: float = 5.0

    # IPFS (Kubo RPC API in production; js-ipfs in tests and `make run`)
    ipfs_api_url: str = "http://127.0.0.1:5001"
    ipfs_timeout_seconds: float = 30.0

    # Chain
    eth_rpc_url: str = "http://127.0.0.1:8545"
    factory_address: str = ""
    # Bills (issue 17): the BillPayments contract and the ERC-20 it offers besides ETH (TestUSD on a
    # dev chain, a permit token such as USDC on Sepolia). Empty BILL_PAYMENTS_ADDRESS = bills disabled.
    bill_payments_address: str = ""
    bill_token_address: str = ""
    # The block BillPayments was deployed in, where the first log scan of an account starts. Unset:
    # found once per process by bisecting eth_getCode, which needs a node that keeps old state (an
    # archive node); set it for a provider that prunes (the deploy script prints it).
    bill_payments_deployed_block: int | None = Field(default=None, ge=0)
    relayer_private_key: SecretStr = SecretStr("")
    chain_id: int | None = Field(default=None, description="Expected chain id; checked at start-up when set")
    rpc_timeout_seconds: float = 10.0
    tx_timeout_seconds: float = 120.0
    # A relayed transaction not mined after this long is re-sent (if the node forgot it) or replaced
    # with a higher fee (if it is stuck), instead of being waited on for the whole TX_TIMEOUT_SECONDS.
    tx_resend_seconds: float = 30.0
    # The shared relayer queue (services/relay_queue.py): the instance holding the lease sends for all;
    # it renews every third of it, and another instance takes over this long after its holder died.
    relayer_lease_seconds: float = Field(default=10.0, gt=0.5)
    # A patient or doctor may sign actions up to this many nonces past their current one; each waits in
    # the queue for the earlier ones to be mined, at most RELAY_NONCE_WAIT_SECONDS (then 409 nonce_wait_expired).
    relay_max_nonces_ahead: int = Field(default=16, ge=0)
    relay_nonce_wait_seconds: float = Field(default=60.0, gt=0)
    # Blocks on top of a record's block before it counts as `confirmed` (until then: `anchored`).
    # 0 suits the local dev chain; use 2 or more on Sepolia and other public networks.
    confirmations: int = Field(default=0, ge=0, le=256)
    # How deep a reorganisation (or a lost dev-chain state) the reconciler looks for: records mined
    # within this many blocks of the head are re-checked against the chain.
    reorg_window_blocks: int = Field(default=64, ge=1)
    # Seconds between two passes of the background reconciler (pending uploads, reorgs, expiries).
    reconcile_interval_seconds: float = Field(default=15.0, gt=0)
    # A removed upload's CID that the IPFS node says is not pinned is asked about again at least this
    # long after that answer before it is forgotten: a pin request the node held while it hung may be
    # done when it resumes (services/pin_release.py).
    pin_release_recheck_seconds: float = Field(default=60.0, ge=0)
    # A signature must stay valid this long after "now" when it is relayed: the time a transaction
    # needs to land (a few blocks). Deadlines closer than this are refused before anything is sent.
    deadline_margin_seconds: int = Field(default=60, ge=0)
    # Published to browsers (GET /api/system/config) so a wallet can add the network. Never the
    # ETH_RPC_URL itself: provider URLs usually carry an API key.
    chain_name: str = Field(default="", description="Network name wallets show, e.g. Sepolia")
    wallet_rpc_url: str = Field(default="", description="Public JSON-RPC URL wallets may add for this chain")
    block_explorer_url: str = Field(default="", description="Block explorer for transaction links")

    # Login (SIWE + JWT)
    siwe_domain: str = Field(default="", description="Domain users sign in to; defaults to HOST:PORT")
    siwe_nonce_ttl_seconds: int = 300
    # Seconds a sign-in message's Issued At may lie in the future (clock skew between browser and server).
    siwe_clock_skew_seconds: int = 60
    # How long a doctor's or registrar's role read from the chain is trusted before it is read again.
    role_cache_seconds: float = Field(default=15.0, ge=0, le=30)
    jwt_secret: SecretStr = SecretStr("")
    access_token_ttl_seconds: int = 900
    refresh_token_ttl_seconds: int = 43200

    # Records
    max_upload_bytes: int = 50 * 1024 * 1024
    # An upload streams to IPFS while it arrives: a client that sends nothing for this long is cut
    # off (408 `upload_stalled`) instead of holding its IPFS add open for ever.
    upload_idle_timeout_seconds: float = Field(default=30.0, gt=0)
    signature_ttl_seconds: int = 900
    # FHIR Bundles (an import being prepared, an export being built) one API instance works on at
    # once; more wait their turn. Each holds its files several times over in memory (about 250 MB
    # for a Bundle at the 50 MB limit), so this bounds an instance's memory, not its speed. It is
    # also the most worker processes that parse and build Bundles (process_workers.py).
    fhir_bundle_concurrency: int = Field(default=2, ge=1)

    # Rate limits (services/rate_limits.py), counted in MongoDB so every API process shares them.
    # Each value is a `limits` string ("N/second|minute|hour|day", or "N/M seconds"); an empty
    # string turns that one limit off. Per-IP limits are generous because a clinic or a mobile
    # carrier puts many people behind one address; per-address limits are tighter (one person).
    rate_limits_enabled: bool = True
    # How long one limiter call may wait for MongoDB before the policy's fail-open/closed rule applies.
    rate_limit_timeout_seconds: float = 1.0
    # Sign-in nonces: one MongoDB insert each, fetched before every sign-in and on page loads; no
    # address is known yet. 60/minute covers a busy clinic and stops nonce flooding.
    rate_limit_nonce_per_ip: str = "60/minute"
    # Sign-in: a signature check plus chain reads for the role. A person signs in a few times a
    # session; 10/minute per wallet leaves room for retries, 30/minute per IP for a shared network.
    rate_limit_login_per_ip: str = "30/minute"
    rate_limit_login_per_address: str = "10/minute"
    # Uploads: each relays an addRecord transaction (the relayer pays gas) and pins up to
    # MAX_UPLOAD_BYTES. 60/hour lets a patient digitise a folder of documents in one sitting.
    rate_limit_upload_per_ip: str = "120/hour"
    rate_limit_upload_per_address: str = "60/hour"
    # New vaults: the relayer pays about 182k gas to deploy a patient's contract (first
    # upload, or a doctor's request to a patient who has none). New wallets cost nothing, so the
    # per-IP limit is the main guard and the global cap bounds the relayer's daily spend whatever
    # the number of IPs and wallets (500 x 182k gas = 91M gas a day). Per address it counts the
    # account that causes the deployment: a patient needs one ever, a doctor one per new patient.
    # The RATE_LIMIT_NEW_RECORD_CONTRACT_* names from before the rename are still read.
    rate_limit_new_vault_per_ip: str = Field("10/hour", validation_alias=_also_old_name("rate_limit_new_vault_per_ip"))
    rate_limit_new_vault_per_address: str = Field(
        "20/day", validation_alias=_also_old_name("rate_limit_new_vault_per_address")
    )
    rate_limit_new_vault_global: str = Field("500/day", validation_alias=_also_old_name("rate_limit_new_vault_global"))
    # Doctors' access and extension requests: each relays a transaction the relayer pays for.
    rate_limit_access_request_per_ip: str = "60/hour"
    rate_limit_access_request_per_address: str = "30/hour"

    @field_validator(*RATE_LIMIT_FIELDS)
    @classmethod
    def _valid_rate_limit(cls, value: str) -> str:
        """Reject a malformed limit at start-up rather than on the first request it guards."""
        value = value.strip()
        if value:
            from limits import parse_many

            items = parse_many(value)  # ValueError -> a settings validation error naming the variable
            if len(items) != 1:
                raise ValueError("one limit per setting, e.g. 10/minute")
            if items[0].amount < 1 or items[0].get_expiry() < 1:
                raise ValueError("a limit needs at least 1 hit per window of at least 1 second")
        return value

    @field_validator("factory_address", "bill_payments_address", "bill_token_address")
    @classmethod
    def _checksum_address(cls, value: str, info: ValidationInfo) -> str:
        if not value:
            return value
        from eth_utils import is_address, to_checksum_address

        if not is_address(value):
            raise ValueError(f"{str(info.field_name).upper()} is not an Ethereum address")
        return to_checksum_address(value)

    @property
    def origins(self) -> list[str]:
        """Every origin (scheme://host[:port]) users may reach the service at; the first is the main one."""
        if self.public_origins.strip():
            listed = [normalize_origin(item) for item in self.public_origins.split(",") if item.strip()]
        elif self.public_url:
            listed = [normalize_origin(self.public_url)]
        else:
            listed = [f"http://{self.host}:{self.port}"]
            # A browser may open the local app by either loopback name; both are the same service.
            twin = {"127.0.0.1": "localhost", "localhost": "127.0.0.1"}.get(self.host)
            if twin:
                listed.append(f"http://{twin}:{self.port}")
        return list(dict.fromkeys(listed))

    @property
    def origin(self) -> str:
        """The main public origin (scheme://host:port) of the service."""
        return self.origins[0]

    @property
    def login_domain(self) -> str:
        """The EIP-4361 domain of the main origin (SIWE_DOMAIN overrides it)."""
        if self.siwe_domain:
            return self.siwe_domain
        return self.origin.split("://", 1)[-1]


def normalize_origin(value: str) -> str:
    """`scheme://host[:port]` of a URL, lower-cased, without path or trailing slash."""
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"{value!r} is not an http(s) origin")
    return f"{parts.scheme}://{parts.netloc.lower()}"


@lru_cache
def get_settings() -> Settings:
    """Settings from the process environment (cached: the environment does not change at run time)."""
    return Settings()
