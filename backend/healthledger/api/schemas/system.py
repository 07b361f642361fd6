"""Shapes of /api/system: dependency health, client configuration and the integrity report."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class Probe(BaseModel):
    """One dependency's state; `error` (the exception's type) only when it is down."""

    state: Literal["ok", "down"]
    latency_ms: float
    error: str | None = None


class IpfsProbe(Probe):
    version: str | None = None


class ChainProbe(Probe):
    chain_id: int | None = None
    block_number: int | None = None
    factory_address: str | None = None
    implementation_address: str | None = None


class RelayerProbe(Probe):
    address: str | None = None
    balance_wei: str | None = Field(default=None, description="Decimal string")
    funded: bool | None = None


class Dependencies(BaseModel):
    mongodb: Probe
    ipfs: IpfsProbe
    chain: ChainProbe
    relayer: RelayerProbe


class ReadyDependencies(BaseModel):
    mongodb: Probe
    ipfs: IpfsProbe
    chain: ChainProbe


class Readiness(BaseModel):
    """This instance reaches MongoDB, IPFS and the chain node: it can serve requests."""

    status: Literal["ready"]
    dependencies: ReadyDependencies


class Liveness(BaseModel):
    """This process's event loop answers (no dependency is asked)."""

    status: Literal["live"]


class SystemStatus(BaseModel):
    status: Literal["ok", "degraded"]
    dependencies: Dependencies


class ClientConfig(BaseModel):
    """What the web app needs before sign-in: which network to ask the wallet for."""

    chain_id: int
    chain_name: str | None = None
    rpc_url: str | None = None
    block_explorer_url: str | None = None
    # Stated next to the upload button before a file is picked (a 413 after the upload is too late).
    max_upload_bytes: int | None = Field(default=None, description="The largest file an upload takes, in bytes")
    confirmations: int | None = Field(
        default=None, description="Blocks on top of a record's block before it counts as confirmed"
    )


class TransactionConfirmations(BaseModel):
    """How deep a transaction is, for the "confirming (n of m)" step of every chain action."""

    tx_hash: str
    block_number: int | None = Field(description="The transaction's block; null while unknown or not mined")
    seen: int = Field(description="Blocks seen, counting the transaction's own block (0 until it is mined)")
    needed: int = Field(description="Blocks needed before the server counts it as confirmed (CONFIRMATIONS + 1)")
    confirmed: bool


ReportStatus = Literal["verified", "mismatched", "missing", "pending", "unanchored"]


class ReportRow(BaseModel):
    cid: str
    record_id: int | None
    patient: str
    state: str
    record_type: str
    database: bool
    blockchain: bool | None
    ipfs: bool
    status: ReportStatus
    database_hash: str
    blockchain_hash: str | None
    problems: list[str]
    reanchored: int


class StatusCounts(BaseModel):
    verified: int
    mismatched: int
    missing: int
    pending: int
    unanchored: int


class IntegrityReport(BaseModel):
    scope: str
    checked_at: str = Field(description="ISO-8601")
    total: int
    counts: StatusCounts
    patients: int
    timings_ms: dict[str, float]
    records: list[ReportRow]


class SelftestStep(BaseModel):
    """One step of the synthetic workflow."""

    name: str = Field(description="sign_in, key_setup, upload, verify, register_doctor, request_access, approve, "
                      "doctor_read, revoke, doctor_refused, clean_up")
    ok: bool
    latency_ms: float
    message: str = Field(description="What the step did, or why it failed (the API's error code, never data)")


class SelftestReport(BaseModel):
    """A self-test run: `ok` only if every step (clean-up included) passed."""

    ok: bool
    run_id: str = Field(description="The X-Request-ID every request of the run carried: the API's log lines of the run have it")
    started_at: str = Field(description="ISO-8601")
    duration_ms: float
    steps: list[SelftestStep]
