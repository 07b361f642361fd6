"""Service configuration, read from the environment (and an optional `.env`) by pydantic-settings.

Every variable is listed with a comment in `.env.example`. Secrets are `SecretStr` so they never
appear in reprs, logs or error messages.
"""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """All runtime settings of the API service."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    # HTTP
    host: str = "127.0.0.1"
    port: int = 8000
    public_url: str = Field(default="", description="Origin users reach; defaults to http://HOST:PORT")
    frontend_dist: str = Field(default="", description="Built web app to serve at /, if present")
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
    relayer_private_key: SecretStr = SecretStr("")
    chain_id: int | None = Field(default=None, description="Expected chain id; checked at start-up when set")
    rpc_timeout_seconds: float = 10.0
    tx_timeout_seconds: float = 120.0
    # Published to browsers (GET /api/system/config) so a wallet can add the network. Never the
    # ETH_RPC_URL itself: provider URLs usually carry an API key.
    chain_name: str = Field(default="", description="Network name wallets show, e.g. Sepolia")
    wallet_rpc_url: str = Field(default="", description="Public JSON-RPC URL wallets may add for this chain")
    block_explorer_url: str = Field(default="", description="Block explorer for transaction links")

    # Login (SIWE + JWT)
    siwe_domain: str = Field(default="", description="Domain users sign in to; defaults to HOST:PORT")
    siwe_nonce_ttl_seconds: int = 300
    jwt_secret: SecretStr = SecretStr("")
    access_token_ttl_seconds: int = 900
    refresh_token_ttl_seconds: int = 43200

    # Records
    max_upload_bytes: int = 50 * 1024 * 1024
    signature_ttl_seconds: int = 900

    # Doctor grants (wrapping key for data keys shared with doctors; never stored in the database)
    grant_key: SecretStr = SecretStr("")

    @field_validator("factory_address")
    @classmethod
    def _checksum_factory(cls, value: str) -> str:
        if not value:
            return value
        from eth_utils import is_address, to_checksum_address

        if not is_address(value):
            raise ValueError("FACTORY_ADDRESS is not an Ethereum address")
        return to_checksum_address(value)

    @property
    def origin(self) -> str:
        """The public origin (scheme://host:port) of the service."""
        return self.public_url.rstrip("/") or f"http://{self.host}:{self.port}"

    @property
    def login_domain(self) -> str:
        """The EIP-4361 domain a sign-in message must name."""
        if self.siwe_domain:
            return self.siwe_domain
        return self.origin.split("://", 1)[-1]


@lru_cache
def get_settings() -> Settings:
    """Settings from the process environment (cached: the environment does not change at run time)."""
    return Settings()
