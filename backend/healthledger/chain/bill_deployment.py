"""Deploying and checking the billing contracts (BillPayments and, on a dev chain, TestUSD).

Why a module of its own: `deployment.py` owns the factory and the deployment file; this is the part
issue 17 added on top (BillPayments(factory), the bill token, minting test dollars), kept apart so
each file stays small. It works with the packaged artifacts and a key only, like the factory code.

Synchronous web3 on purpose: scripts and test fixtures, never the API's event loop.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from eth_abi import encode as abi_encode
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address
from web3 import Web3
from web3.types import TxReceipt

from .artifacts import bill_payments, test_usd

__all__ = [
    "ANVIL_DEPLOYER_KEY",
    "DEV_CHAIN_ID",
    "BillContracts",
    "bill_payments_creation_code",
    "bill_problems",
    "deploy_bill_contracts",
    "test_usd_creation_code",
]

DEV_CHAIN_ID = 31337  # Anvil / Hardhat: the only chain where a worthless TestUSD is deployed
# Anvil's dev account #0 (mnemonic "test test ... junk"): public knowledge, local chains only. The
# default owner key of `mint_test_usd`, because tests and `make run` deploy with it.
ANVIL_DEPLOYER_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"

Sender = Callable[[Web3, LocalAccount, dict, float], TxReceipt]


class BillContracts(NamedTuple):
    """Where BillPayments and the bill token are, and the creation transactions (None: not deployed here)."""

    bill_payments: str
    bill_payments_tx: str
    bill_token: str | None
    bill_token_tx: str | None


def bill_payments_creation_code(factory: str) -> str:
    """BillPayments' creation code with its constructor argument `(HealthRecordFactory factory_)`."""
    return bill_payments().bytecode + abi_encode(["address"], [to_checksum_address(factory)]).hex()


def test_usd_creation_code(owner: str) -> str:
    """TestUSD's creation code with `(address initialOwner)`: the owner may mint."""
    return test_usd().bytecode + abi_encode(["address"], [to_checksum_address(owner)]).hex()


def deploy_bill_contracts(
    w3: Web3, account: LocalAccount, factory: str, bill_token: str | None, timeout: float, send: Sender
) -> BillContracts:
    """Deploy BillPayments(factory); the bill token is `bill_token` if given (its code must exist),
    else a new TestUSD owned by `account` on a dev chain, else none (ETH-only billing)."""
    from .deployment import DeploymentError

    receipt = send(w3, account, {"data": bill_payments_creation_code(factory), "value": 0}, timeout)
    payments = to_checksum_address(receipt["contractAddress"])
    payments_tx = receipt["transactionHash"].to_0x_hex()
    if bill_token:
        token = to_checksum_address(bill_token)
        if not bytes(w3.eth.get_code(token)):
            raise DeploymentError(f"no contract at the bill token address {token} (BILL_TOKEN_ADDRESS)")
        return BillContracts(payments, payments_tx, token, None)
    if w3.eth.chain_id != DEV_CHAIN_ID:
        return BillContracts(payments, payments_tx, None, None)
    receipt = send(w3, account, {"data": test_usd_creation_code(account.address), "value": 0}, timeout)
    return BillContracts(
        payments, payments_tx, to_checksum_address(receipt["contractAddress"]), receipt["transactionHash"].to_0x_hex()
    )


def _simulated_runtime(w3: Web3, tx_hash: str, creation_code: str, address: str) -> bytes:
    """Runtime code that `creation_code` yields when sent by the recorded transaction's sender at its
    nonce, with `address` emptied: equal to the deployed code iff the artifact is what runs there
    (EIP-712 immutables depend on the address, so plain bytecode comparison is impossible)."""
    tx = w3.eth.get_transaction(tx_hash)  # type: ignore[arg-type]
    sender = to_checksum_address(tx["from"])
    overrides = {sender: {"nonce": tx["nonce"]}, address: {"code": "0x", "nonce": 0}}
    return bytes(w3.eth.call({"from": sender, "data": creation_code}, "latest", overrides))  # type: ignore[arg-type]


def bill_problems(
    w3: Web3,
    factory: str,
    deployer: str,
    payments: str | None,
    payments_tx: str | None,
    token: str | None,
    token_tx: str | None,
    *,
    check_bytecode: bool = True,
) -> list[str]:
    """Why the recorded BillPayments / bill token do not describe this chain; empty when they do."""
    if payments is None:
        return ["no BillPayments recorded (a deployment file older than bills)"]
    problems: list[str] = []
    code = bytes(w3.eth.get_code(payments))  # type: ignore[arg-type]
    if not code:
        return [f"no code at BillPayments {payments}"]
    contract = w3.eth.contract(address=payments, abi=bill_payments().abi)  # type: ignore[arg-type]
    try:
        bound = to_checksum_address(contract.functions.factory().call())
    except Exception as exc:
        return [f"BillPayments.factory() failed at {payments}: {type(exc).__name__}"]
    if bound != factory:
        problems.append(f"BillPayments {payments} belongs to factory {bound}, not {factory}")
    if check_bytecode and payments_tx and not problems:
        try:
            expected = _simulated_runtime(w3, payments_tx, bill_payments_creation_code(factory), payments)
        except Exception as exc:  # node without state overrides, or the creation tx is gone
            problems.append(f"could not simulate BillPayments' deployment to compare bytecode: {exc}")
        else:
            if code != expected:
                problems.append("BillPayments runtime bytecode differs from the packaged artifact")
    if token is not None:
        token_code = bytes(w3.eth.get_code(token))  # type: ignore[arg-type]
        if not token_code:
            problems.append(f"no code at the bill token {token}")
        elif check_bytecode and token_tx:
            try:
                expected = _simulated_runtime(w3, token_tx, test_usd_creation_code(deployer), token)
            except Exception as exc:
                problems.append(f"could not simulate TestUSD's deployment to compare bytecode: {exc}")
            else:
                if token_code != expected:
                    problems.append("TestUSD runtime bytecode differs from the packaged artifact")
    return problems


def mint_test_usd_tx(
    w3: Web3, token: str, to: str, amount: int, owner_private_key: str | None
) -> tuple[LocalAccount, dict]:
    """The account that mints and the `mint(to, amount)` transaction (TestUSD only: owner mints)."""
    account: LocalAccount = Account.from_key(owner_private_key or ANVIL_DEPLOYER_KEY)
    contract = w3.eth.contract(address=to_checksum_address(token), abi=test_usd().abi)
    data = contract.encode_abi("mint", args=[to_checksum_address(to), int(amount)])
    return account, {"to": contract.address, "data": data, "value": 0}
