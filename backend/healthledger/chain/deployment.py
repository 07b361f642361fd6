"""Deploying the contracts, recording where they are, and checking a recorded deployment.

Why here and not only in an ape script: tests, `make run` and operators all deploy the same way,
with nothing but the packaged artifacts and a key (no compiler, no ape). A deployment is saved as a
small JSON file (`deployments/<chain-id>.json` by convention); `verify` proves a saved file still
describes the chain it points at (a restarted Anvil without `--state` forgets everything), and
`ensure_deployed` reuses a verified deployment or deploys afresh. Issue 17 added BillPayments (bound
to the factory) and the bill token (`bill_deployment.py`): a file from before bills keeps its factory
and gains them.

Synchronous web3 on purpose: this runs in scripts and test fixtures, never inside the API's loop.
"""

from __future__ import annotations

import json
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

from eth_abi import encode as abi_encode
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import is_address, to_checksum_address
from pydantic import BaseModel, ConfigDict, Field, field_validator
from web3 import Web3
from web3.exceptions import ContractLogicError
from web3.types import TxReceipt

from .artifacts import health_record, health_record_factory, test_usd
from .bill_deployment import bill_problems, deploy_bill_contracts, mint_test_usd_tx
from .client import REGISTRAR_ROLE

__all__ = [
    "Deployment",
    "DeploymentError",
    "EnsuredDeployment",
    "deploy",
    "ensure_deployed",
    "ensure_deployed_with_reasons",
    "load",
    "mint_test_usd",
    "register_doctor",
    "save",
    "bill_token_balance",
    "verify",
    "verify_bill_problems",
    "verify_problems",
]

DEFAULT_TIMEOUT_SECONDS = 120.0


class DeploymentError(RuntimeError):
    """A deployment failed, or a saved deployment does not match the chain."""

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        self.problems = problems or []
        detail = "".join(f"\n  - {p}" for p in self.problems)
        super().__init__(message + detail)


class Deployment(BaseModel):
    """Where the contracts are on one chain, and how they got there."""

    model_config = ConfigDict(frozen=True)

    chain_id: int
    factory: str
    implementation: str
    deployer: str
    registrar: str | None = None  # extra REGISTRAR_ROLE holder granted at deploy time, if any
    # The factory's constructor arguments (v2): the admin transfer delay; the deployer is both the
    # initial admin and the constructor's registrar. A v1 file lacks it: its bytecode check fails
    # (v1 code, v2 artifacts) and `ensure_deployed` deploys a new factory.
    admin_delay_seconds: int = Field(default=0, ge=0, lt=2**48)
    block_number: int
    tx_hashes: list[str] = Field(default_factory=list)  # factory creation first, then role grants
    compiler_version: str
    deployed_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    # Bills (issue 17). None in older files: `ensure_deployed` then adds them to the same factory.
    bill_payments: str | None = None
    bill_payments_tx: str | None = None
    # The ERC-20 bills may be paid in besides ETH: a given token (BILL_TOKEN_ADDRESS), or the TestUSD
    # deployed here on a dev chain (then bill_token_tx is its creation); None = ETH only.
    bill_token: str | None = None
    bill_token_tx: str | None = None

    @field_validator("factory", "implementation", "deployer", "registrar", "bill_payments", "bill_token")
    @classmethod
    def _checksummed(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not is_address(value):
            raise ValueError(f"not an Ethereum address: {value!r}")
        return to_checksum_address(value)


def _web3(w3_or_url: Web3 | str, timeout: float = 30.0) -> Web3:
    if isinstance(w3_or_url, Web3):
        return w3_or_url
    return Web3(Web3.HTTPProvider(w3_or_url, request_kwargs={"timeout": timeout}))


def _send(w3: Web3, account: LocalAccount, tx: dict, timeout: float) -> TxReceipt:
    """Fill nonce/gas/fees, sign locally, send raw, wait; DeploymentError if it fails."""
    tx = dict(tx)
    tx.setdefault("from", account.address)
    tx["nonce"] = w3.eth.get_transaction_count(account.address, "pending")
    tx["chainId"] = w3.eth.chain_id
    try:
        tx["gas"] = int(w3.eth.estimate_gas(tx) * 1.2) + 10_000
    except ContractLogicError as exc:
        raise DeploymentError(f"transaction would revert: {exc}") from None
    base_fee = w3.eth.get_block("latest").get("baseFeePerGas")
    if base_fee is not None:
        tip = w3.eth.max_priority_fee
        tx["maxPriorityFeePerGas"] = tip
        tx["maxFeePerGas"] = 2 * base_fee + tip
    else:
        tx["gasPrice"] = w3.eth.gas_price
    signed = account.sign_transaction(tx)
    tx_hash = w3.eth.send_raw_transaction(signed.raw_transaction)
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=timeout, poll_latency=0.1)
    if receipt["status"] != 1:
        raise DeploymentError(f"transaction {tx_hash.to_0x_hex()} failed (status 0)")
    return receipt


def creation_code(deployer: str, admin_delay_seconds: int) -> str:
    """The factory's creation code with its constructor arguments
    `(uint48 initialAdminDelay, address initialAdmin, address registrar)`: admin and registrar are
    the deployer."""
    deployer = to_checksum_address(deployer)
    args = abi_encode(["uint48", "address", "address"], [admin_delay_seconds, deployer, deployer])
    return health_record_factory().bytecode + args.hex()


def deploy(
    w3_or_url: Web3 | str,
    deployer_private_key: str,
    registrar: str | None = None,
    *,
    admin_delay_seconds: int = 0,
    bill_token: str | None = None,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
) -> Deployment:
    """Deploy HealthRecordFactory (whose constructor deploys the HealthRecord implementation), then
    BillPayments(factory) and, on a dev chain without `bill_token`, a TestUSD owned by the deployer.

    The deployer gets DEFAULT_ADMIN_ROLE (AccessControlDefaultAdminRules: handing it on is a
    two-step transfer that waits `admin_delay_seconds`) and REGISTRAR_ROLE; when `registrar` is
    another address it is granted REGISTRAR_ROLE too. v2 is a new factory: vaults of an earlier
    factory are not migrated.
    """
    w3 = _web3(w3_or_url)
    account: LocalAccount = Account.from_key(deployer_private_key)
    factory_artifact = health_record_factory()
    code = creation_code(account.address, admin_delay_seconds)
    creation = _send(w3, account, {"data": code, "value": 0}, timeout)
    factory_address = to_checksum_address(creation["contractAddress"])
    factory = w3.eth.contract(address=factory_address, abi=factory_artifact.abi)
    tx_hashes = [creation["transactionHash"].to_0x_hex()]
    if registrar is not None and to_checksum_address(registrar) != account.address:
        data = factory.encode_abi("grantRole", args=[REGISTRAR_ROLE, to_checksum_address(registrar)])
        receipt = _send(w3, account, {"to": factory_address, "data": data, "value": 0}, timeout)
        tx_hashes.append(receipt["transactionHash"].to_0x_hex())
    bills = deploy_bill_contracts(w3, account, factory_address, bill_token, timeout, _send)
    return Deployment(
        chain_id=w3.eth.chain_id,
        factory=factory_address,
        implementation=factory.functions.implementation().call(),
        deployer=account.address,
        registrar=to_checksum_address(registrar) if registrar else None,
        admin_delay_seconds=admin_delay_seconds,
        block_number=creation["blockNumber"],
        tx_hashes=tx_hashes,
        compiler_version=factory_artifact.compiler_version,
        **bills._asdict(),
    )


def save(deployment: Deployment, path: str | os.PathLike[str]) -> Path:
    """Write the deployment as JSON, atomically (a crash never leaves half a file)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(deployment.model_dump_json(indent=2) + "\n")
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def load(path: str | os.PathLike[str]) -> Deployment:
    """Read a deployment file written by `save`."""
    return Deployment.model_validate_json(Path(path).read_text(encoding="utf-8"))


def _expected_runtime(w3: Web3, deployment: Deployment) -> tuple[bytes, bytes]:
    """The runtime code the artifacts produce *at these addresses*, by simulating the deployments.

    Immutables (the implementation's address, the registry, EIP-712's cached domain separator)
    depend on the addresses, so artifact bytecode cannot be compared directly. Instead the creation
    code is executed with `eth_call`, from the same sender and nonce, with state overrides that
    empty the target addresses: the returned runtime must then be byte-identical to what is deployed.
    """
    factory_tx = w3.eth.get_transaction(deployment.tx_hashes[0])
    empty = {"code": "0x", "nonce": 0}
    factory_runtime = w3.eth.call(
        {"from": deployment.deployer, "data": creation_code(deployment.deployer, deployment.admin_delay_seconds)},
        "latest",
        {
            deployment.deployer: {"nonce": factory_tx["nonce"]},
            deployment.factory: empty,
            deployment.implementation: empty,
        },
    )
    # The factory's constructor created the implementation with its first CREATE (nonce 1, EIP-161).
    implementation_runtime = w3.eth.call(
        {"from": deployment.factory, "data": health_record().bytecode},
        "latest",
        {deployment.factory: {"nonce": 1}, deployment.implementation: empty},
    )
    return bytes(factory_runtime), bytes(implementation_runtime)


def verify_problems(deployment: Deployment, w3_or_url: Web3 | str, *, check_bytecode: bool = True) -> list[str]:
    """Everything that makes `deployment` not describe this chain; empty when it does."""
    w3 = _web3(w3_or_url)
    problems: list[str] = []
    chain_id = w3.eth.chain_id
    if chain_id != deployment.chain_id:
        return [f"the node serves chain {chain_id}, the deployment is for chain {deployment.chain_id}"]
    factory_code = bytes(w3.eth.get_code(deployment.factory))
    implementation_code = bytes(w3.eth.get_code(deployment.implementation))
    if not factory_code:
        problems.append(f"no code at factory {deployment.factory}")
    if not implementation_code:
        problems.append(f"no code at implementation {deployment.implementation}")
    if problems:
        return problems
    factory = w3.eth.contract(address=deployment.factory, abi=health_record_factory().abi)
    try:
        actual_impl = to_checksum_address(factory.functions.implementation().call())
    except Exception as exc:
        return [f"factory.implementation() failed: {exc}"]
    if actual_impl != deployment.implementation:
        problems.append(f"factory.implementation() is {actual_impl}, the deployment says {deployment.implementation}")
    if check_bytecode and not problems:
        try:
            factory_expected, implementation_expected = _expected_runtime(w3, deployment)
        except Exception as exc:  # node without state overrides, or the creation tx is gone
            problems.append(f"could not simulate the deployment to compare bytecode: {exc}")
        else:
            if factory_code != factory_expected:
                problems.append("factory runtime bytecode differs from the packaged artifact")
            if implementation_code != implementation_expected:
                problems.append("implementation runtime bytecode differs from the packaged artifact")
    if deployment.registrar is not None:
        if not factory.functions.hasRole(REGISTRAR_ROLE, deployment.registrar).call():
            problems.append(f"{deployment.registrar} does not hold REGISTRAR_ROLE")
    return problems + verify_bill_problems(deployment, w3, check_bytecode=check_bytecode)


def verify_bill_problems(deployment: Deployment, w3_or_url: Web3 | str, *, check_bytecode: bool = True) -> list[str]:
    """What is wrong with the recorded BillPayments and bill token alone (the factory being fine, these
    are redeployed on their own: vaults stay)."""
    return bill_problems(
        _web3(w3_or_url), deployment.factory, deployment.deployer, deployment.bill_payments,
        deployment.bill_payments_tx, deployment.bill_token, deployment.bill_token_tx, check_bytecode=check_bytecode,
    )


def verify(deployment: Deployment, w3_or_url: Web3 | str, *, check_bytecode: bool = True) -> Deployment:
    """Check that `deployment` describes this chain; returns it, or raises DeploymentError.

    Checks: same chain id; code at both addresses; `factory.implementation()` matches; the
    deployed runtime code equals the packaged artifacts' (see `_expected_runtime`); the recorded
    registrar still holds REGISTRAR_ROLE; BillPayments is recorded, has the artifact's code and is
    bound to this factory; the bill token has code (TestUSD deployed here: the artifact's code).
    """
    problems = verify_problems(deployment, w3_or_url, check_bytecode=check_bytecode)
    if problems:
        raise DeploymentError(f"deployment of factory {deployment.factory} does not match the chain", problems)
    return deployment


def ensure_deployed(
    w3_or_url: Web3 | str,
    deployer_private_key: str,
    path: str | os.PathLike[str],
    registrar: str | None = None,
    *,
    admin_delay_seconds: int = 0,
    bill_token: str | None = None,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
) -> tuple[Deployment, bool]:
    """The deployment saved at `path` if it verifies against this chain, else a fresh one (saved).

    Returns (deployment, deployed_now). Idempotent: a second call with the same chain deploys nothing.
    A saved factory that verifies but lacks (working) bill contracts keeps its factory and gains them.
    """
    ensured = ensure_deployed_with_reasons(
        w3_or_url, deployer_private_key, path, registrar, admin_delay_seconds=admin_delay_seconds,
        bill_token=bill_token, timeout=timeout,
    )
    return ensured.deployment, ensured.deployed_now


class EnsuredDeployment(NamedTuple):
    """What `ensure_deployed_with_reasons` found or made, and why a saved deployment was not reused."""

    deployment: Deployment
    deployed_now: bool
    reasons: list[str]  # empty when nothing was saved, or when the saved one was reused


def ensure_deployed_with_reasons(
    w3_or_url: Web3 | str, deployer_private_key: str, path: str | os.PathLike[str], registrar: str | None = None,
    *, admin_delay_seconds: int = 0, bill_token: str | None = None, timeout: float = DEFAULT_TIMEOUT_SECONDS,
) -> EnsuredDeployment:
    """`ensure_deployed`, also saying why a saved deployment was replaced (`make run` prints it)."""
    w3 = _web3(w3_or_url)
    target = Path(path)
    reasons: list[str] = []
    if target.exists():
        try:
            existing = load(target)
        except (ValueError, OSError) as exc:
            reasons = [f"{target.name} is unreadable: {exc}"]
        else:
            bill_reasons = verify_bill_problems(existing, w3)
            reasons = [r for r in verify_problems(existing, w3) if r not in bill_reasons]
            wanted = to_checksum_address(registrar) if registrar is not None else None
            if not reasons and wanted is not None and wanted not in (existing.deployer, existing.registrar):
                reasons = [f"{wanted} is neither its deployer nor its registrar"]
            if not reasons and existing.admin_delay_seconds != admin_delay_seconds:
                reasons = [
                    f"its admin delay is {existing.admin_delay_seconds} s, {admin_delay_seconds} s is wanted"
                ]
            wanted_token = to_checksum_address(bill_token) if bill_token else None
            if not reasons and not bill_reasons and wanted_token not in (None, existing.bill_token):
                bill_reasons = [f"its bill token is {existing.bill_token}, {wanted_token} is wanted"]
            if not reasons and not bill_reasons:
                return EnsuredDeployment(existing, False, [])
            if not reasons:  # the factory is fine: keep it (and its vaults), add the bill contracts
                account: LocalAccount = Account.from_key(deployer_private_key)
                bills = deploy_bill_contracts(w3, account, existing.factory, bill_token, timeout, _send)
                upgraded = existing.model_copy(update=bills._asdict())
                save(upgraded, target)
                return EnsuredDeployment(upgraded, True, bill_reasons)
    deployment = deploy(
        w3, deployer_private_key, registrar, admin_delay_seconds=admin_delay_seconds, bill_token=bill_token,
        timeout=timeout,
    )
    save(deployment, target)
    return EnsuredDeployment(deployment, True, reasons)


def register_doctor(
    w3_or_url: Web3 | str,
    registrar_private_key: str,
    factory: str,
    doctor: str,
    *,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
) -> str | None:
    """Register `doctor` on a freshly provisioned chain unless it is one already; the tx hash, or None.

    Provisioning with a key (the local stack's demo doctor), like the role grant in `deploy`; the
    API and the CLI register doctors through the relayer and also keep a profile.
    """
    w3 = _web3(w3_or_url)
    account: LocalAccount = Account.from_key(registrar_private_key)
    contract = w3.eth.contract(address=to_checksum_address(factory), abi=health_record_factory().abi)
    doctor = to_checksum_address(doctor)
    if contract.functions.isDoctor(doctor).call():
        return None
    data = contract.encode_abi("registerDoctor", args=[doctor])
    receipt = _send(w3, account, {"to": contract.address, "data": data, "value": 0}, timeout)
    return receipt["transactionHash"].to_0x_hex()


def mint_test_usd(
    w3_or_url: Web3 | str,
    deployment: Deployment,
    to: str,
    amount: int,
    *,
    owner_private_key: str | None = None,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
) -> str:
    """Mint `amount` base units (6 decimals: 10**6 = 1 TUSD) of the deployment's TestUSD to `to`; the tx hash.

    The owner is the deployer: its key defaults to Anvil's dev account #0, the one tests and `make run`
    deploy with. Only for a TestUSD deployed here (bill_token_tx set): a real token cannot be minted.
    """
    if deployment.bill_token is None or deployment.bill_token_tx is None:
        raise DeploymentError("this deployment has no TestUSD of its own to mint (bill_token is None or given)")
    w3 = _web3(w3_or_url)
    account, tx = mint_test_usd_tx(w3, deployment.bill_token, to, amount, owner_private_key)
    if account.address != deployment.deployer:
        raise DeploymentError(
            f"only the deployer {deployment.deployer} owns TestUSD; the key given is {account.address}"
        )
    return _send(w3, account, tx, timeout)["transactionHash"].to_0x_hex()


def bill_token_balance(w3_or_url: Web3 | str, deployment: Deployment, owner: str) -> int:
    """`balanceOf(owner)` of the deployment's bill token, in base units (0 without a token)."""
    if deployment.bill_token is None:
        return 0
    contract = _web3(w3_or_url).eth.contract(address=deployment.bill_token, abi=test_usd().abi)
    return int(contract.functions.balanceOf(to_checksum_address(owner)).call())


def _main() -> None:  # pragma: no cover - convenience for operators
    """`python -m healthledger.chain.deployment RPC_URL OUT.json`, DEPLOYER_PRIVATE_KEY (+ REGISTRAR,
    ADMIN_DELAY_SECONDS) in the env."""
    import sys

    if len(sys.argv) != 3:
        raise SystemExit("usage: python -m healthledger.chain.deployment RPC_URL OUT.json")
    key = os.environ.get("DEPLOYER_PRIVATE_KEY")
    if not key:
        raise SystemExit("DEPLOYER_PRIVATE_KEY is not set")
    delay = int(os.environ.get("ADMIN_DELAY_SECONDS") or 0)
    deployment, fresh = ensure_deployed(
        sys.argv[1], key, sys.argv[2], os.environ.get("REGISTRAR") or None, admin_delay_seconds=delay,
        bill_token=os.environ.get("BILL_TOKEN_ADDRESS") or None,
    )
    print(json.dumps({"deployed_now": fresh, **json.loads(deployment.model_dump_json())}, indent=2))


if __name__ == "__main__":  # pragma: no cover
    _main()
