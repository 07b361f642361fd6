"""chain/deployment.py against a real Anvil: deploy, save/load, verify, ensure_deployed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from eth_account import Account
from web3 import Web3

from healthledger.chain import artifacts
from healthledger.chain.artifacts import health_record_factory
from healthledger.chain.client import REGISTRAR_ROLE
from healthledger.chain.deployment import (
    Deployment,
    DeploymentError,
    deploy,
    ensure_deployed,
    ensure_deployed_with_reasons,
    load,
    mint_test_usd,
    register_doctor,
    save,
    bill_token_balance,
    verify,
    verify_problems,
)
from healthledger.devstack.anvil import AnvilNode, DevAccount
from healthledger.settings import Settings

BILL_FIELDS = ("bill_payments", "bill_payments_tx", "bill_token", "bill_token_tx")


def test_session_deployment_verifies(anvil: AnvilNode, deployment: Deployment, deployer_account: DevAccount) -> None:
    assert deployment.chain_id == 31337
    assert deployment.deployer == deployer_account.address
    assert deployment.compiler_version == health_record_factory().compiler_version
    assert len(deployment.tx_hashes) == 1
    assert verify(deployment, anvil.rpc_url) is deployment
    w3 = Web3(Web3.HTTPProvider(anvil.rpc_url))
    factory = w3.eth.contract(address=deployment.factory, abi=health_record_factory().abi)
    assert factory.functions.implementation().call() == deployment.implementation
    assert factory.functions.hasRole(b"\x00" * 32, deployer_account.address).call()
    assert factory.functions.hasRole(REGISTRAR_ROLE, deployer_account.address).call()
    receipt = w3.eth.get_transaction_receipt(deployment.tx_hashes[0])
    assert receipt["blockNumber"] == deployment.block_number
    assert receipt["contractAddress"] == deployment.factory


def test_deploy_grants_registrar(anvil: AnvilNode, dev_accounts: tuple[DevAccount, ...]) -> None:
    registrar = dev_accounts[1].address
    deployment = deploy(anvil.rpc_url, dev_accounts[0].private_key, registrar)
    assert deployment.registrar == registrar
    assert len(deployment.tx_hashes) == 2
    verify(deployment, anvil.rpc_url)
    w3 = Web3(Web3.HTTPProvider(anvil.rpc_url))
    factory = w3.eth.contract(address=deployment.factory, abi=health_record_factory().abi)
    assert factory.functions.hasRole(REGISTRAR_ROLE, registrar).call()


def test_save_load_roundtrip(tmp_path, deployment: Deployment) -> None:
    path = save(deployment, tmp_path / "deployments" / "31337.json")
    assert load(path) == deployment
    data = json.loads(path.read_text())
    assert data["factory"] == deployment.factory and data["chain_id"] == 31337
    assert not list(path.parent.glob(".*.tmp"))  # atomic write left nothing behind


def test_verify_reports_mismatches(anvil: AnvilNode, deployment: Deployment) -> None:
    random_address = Account.create().address
    elsewhere = deployment.model_copy(update={"factory": random_address})
    assert "no code at factory" in verify_problems(elsewhere, anvil.rpc_url)[0]
    wrong_impl = deployment.model_copy(update={"implementation": deployment.factory})
    assert any("implementation()" in p for p in verify_problems(wrong_impl, anvil.rpc_url))
    wrong_chain = deployment.model_copy(update={"chain_id": 1})
    assert "chain" in verify_problems(wrong_chain, anvil.rpc_url)[0]
    with pytest.raises(DeploymentError) as info:
        verify(wrong_chain, anvil.rpc_url)
    assert info.value.problems
    not_registrar = deployment.model_copy(update={"registrar": random_address})
    assert any("REGISTRAR_ROLE" in p for p in verify_problems(not_registrar, anvil.rpc_url))


def test_verify_compares_runtime_bytecode(anvil: AnvilNode, dev_accounts: tuple[DevAccount, ...]) -> None:
    """A contract at the recorded address whose code is not the artifact's is caught."""
    deployment = deploy(anvil.rpc_url, dev_accounts[2].private_key)
    assert verify_problems(deployment, anvil.rpc_url) == []
    snapshot = anvil.snapshot()
    try:
        w3 = Web3(Web3.HTTPProvider(anvil.rpc_url))
        code = bytearray(w3.eth.get_code(deployment.implementation))
        code[-1] ^= 0xFF  # tamper with one byte of the metadata
        anvil.rpc("anvil_setCode", [deployment.implementation, "0x" + code.hex()])
        problems = verify_problems(deployment, anvil.rpc_url)
        assert problems == ["implementation runtime bytecode differs from the packaged artifact"]
    finally:
        anvil.revert(snapshot)


def test_ensure_deployed_is_idempotent(tmp_path, anvil: AnvilNode, dev_accounts: tuple[DevAccount, ...]) -> None:
    path = tmp_path / "31337.json"
    first, fresh = ensure_deployed(anvil.rpc_url, dev_accounts[3].private_key, path)
    assert fresh and path.exists()
    second, fresh_again = ensure_deployed(anvil.rpc_url, dev_accounts[3].private_key, path)
    assert not fresh_again and second == first
    path.write_text(path.read_text().replace(first.factory, Account.create().address))  # stale file
    third, redeployed = ensure_deployed(anvil.rpc_url, dev_accounts[3].private_key, path)
    assert redeployed and third.factory != first.factory and load(path) == third


def test_ensure_deployed_says_why_it_redeployed_and_registers_a_doctor_once(
    tmp_path, anvil: AnvilNode, dev_accounts: tuple[DevAccount, ...]
) -> None:
    """What `make run` prints when it replaces `.data/deployment.json`, and its demo doctor's registration."""
    path, key = tmp_path / "deployment.json", dev_accounts[3].private_key
    first = ensure_deployed_with_reasons(anvil.rpc_url, key, path)
    assert first.deployed_now and first.reasons == []
    assert ensure_deployed_with_reasons(anvil.rpc_url, key, path) == (first.deployment, False, [])
    other = dev_accounts[4].address
    moved = ensure_deployed_with_reasons(anvil.rpc_url, key, path, registrar=other)  # another registrar wanted
    assert moved.deployed_now and moved.reasons == [f"{other} is neither its deployer nor its registrar"]
    path.write_text("{")
    broken = ensure_deployed_with_reasons(anvil.rpc_url, key, path, registrar=other)
    assert broken.deployed_now and broken.reasons[0].startswith("deployment.json is unreadable: ")

    doctor = Account.create().address
    tx_hash = register_doctor(anvil.rpc_url, key, broken.deployment.factory, doctor)
    assert tx_hash is not None and tx_hash.startswith("0x")
    assert register_doctor(anvil.rpc_url, key, broken.deployment.factory, doctor) is None  # already one
    w3 = Web3(Web3.HTTPProvider(anvil.rpc_url))
    factory = w3.eth.contract(address=broken.deployment.factory, abi=health_record_factory().abi)
    assert factory.functions.isDoctor(doctor).call()


def test_deployment_model_validates_addresses(deployment: Deployment) -> None:
    data = deployment.model_dump()
    data["factory"] = data["factory"].lower()
    assert Deployment.model_validate(data).factory == deployment.factory  # checksummed again
    data["factory"] = "0x1234"
    with pytest.raises(ValueError):
        Deployment.model_validate(data)


def test_admin_delay_and_a_v1_deployment_file_redeploy(
    tmp_path, anvil: AnvilNode, dev_accounts: tuple[DevAccount, ...]
) -> None:
    """The factory's admin delay is a deploy setting; a recorded deployment made with another delay,
    or with v1's code (no constructor arguments), is not reused with the v2 artifacts."""
    key = dev_accounts[3].private_key
    path = tmp_path / "deployment.json"
    first, fresh = ensure_deployed(anvil.rpc_url, key, path, admin_delay_seconds=3600)
    assert fresh and first.admin_delay_seconds == 3600
    w3 = Web3(Web3.HTTPProvider(anvil.rpc_url))
    factory = w3.eth.contract(address=first.factory, abi=health_record_factory().abi)
    assert factory.functions.defaultAdminDelay().call() == 3600
    assert factory.functions.defaultAdmin().call() == dev_accounts[3].address
    assert ensure_deployed(anvil.rpc_url, key, path, admin_delay_seconds=3600) == (first, False)

    changed = ensure_deployed_with_reasons(anvil.rpc_url, key, path, admin_delay_seconds=0)
    assert changed.deployed_now and changed.reasons == ["its admin delay is 3600 s, 0 s is wanted"]

    # A v1 deployment (its real creation code, no constructor arguments) recorded in the file:
    # verification finds v1's code, and a new v2 factory is deployed instead of reusing it.
    v1_code = json.loads((Path(__file__).parent / "data" / "factory_v1.json").read_text())["bytecode"]
    account = Account.from_key(key)
    tx_hash = w3.eth.send_transaction({"from": account.address, "data": v1_code, "gas": 8_000_000})
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash)
    v1_factory = w3.eth.contract(address=receipt["contractAddress"], abi=health_record_factory().abi)
    v1 = Deployment(
        chain_id=31337, factory=receipt["contractAddress"], implementation=v1_factory.functions.implementation().call(),
        deployer=account.address, block_number=receipt["blockNumber"], tx_hashes=[tx_hash.to_0x_hex()],
        compiler_version="0.8.37",
    )
    legacy = json.loads(v1.model_dump_json())
    del legacy["admin_delay_seconds"]  # a v1 file has no such field: read as 0
    path.write_text(json.dumps(legacy))
    assert load(path).admin_delay_seconds == 0
    replaced = ensure_deployed_with_reasons(anvil.rpc_url, key, path)
    assert replaced.deployed_now and replaced.deployment.factory != v1.factory
    assert any("factory runtime bytecode differs" in reason for reason in replaced.reasons)
    assert load(path) == replaced.deployment


# ---------------------------------------------------------------- bills (issue 17)


def test_deploy_records_bill_payments_and_test_usd(anvil: AnvilNode, deployment: Deployment) -> None:
    """BillPayments is bound to the new factory; on chain 31337 a TestUSD (6 decimals, permit) owned by the deployer."""
    assert deployment.bill_payments and deployment.bill_token and deployment.bill_token_tx
    w3 = Web3(Web3.HTTPProvider(anvil.rpc_url))
    payments = w3.eth.contract(address=deployment.bill_payments, abi=artifacts.bill_payments().abi)
    assert payments.functions.factory().call() == deployment.factory
    token = w3.eth.contract(address=deployment.bill_token, abi=artifacts.test_usd().abi)
    assert token.functions.name().call() == "Test USD"
    assert token.functions.decimals().call() == 6
    assert token.functions.owner().call() == deployment.deployer
    assert token.functions.eip712Domain().call()[1] == "Test USD"  # EIP-2612 permit domain
    receipt = w3.eth.get_transaction_receipt(deployment.bill_payments_tx)
    assert receipt["contractAddress"] == deployment.bill_payments
    assert verify_problems(deployment, anvil.rpc_url) == []


def test_verify_fails_without_bill_payments_code(anvil: AnvilNode, dev_accounts: tuple[DevAccount, ...]) -> None:
    deployment = deploy(anvil.rpc_url, dev_accounts[5].private_key)
    snapshot = anvil.snapshot()
    try:
        anvil.rpc("anvil_setCode", [deployment.bill_payments, "0x"])
        assert verify_problems(deployment, anvil.rpc_url) == [f"no code at BillPayments {deployment.bill_payments}"]
        with pytest.raises(DeploymentError):
            verify(deployment, anvil.rpc_url)
        # Code that answers factory() correctly but is not the artifact's: caught by the bytecode check.
        w3 = Web3(Web3.HTTPProvider(anvil.rpc_url))
        anvil.revert(snapshot)
        snapshot = anvil.snapshot()
        code = bytearray(w3.eth.get_code(deployment.bill_payments))
        code[-1] ^= 0xFF
        anvil.rpc("anvil_setCode", [deployment.bill_payments, "0x" + code.hex()])
        assert verify_problems(deployment, anvil.rpc_url) == [
            "BillPayments runtime bytecode differs from the packaged artifact"
        ]
        anvil.revert(snapshot)
        snapshot = anvil.snapshot()
        anvil.rpc("anvil_setCode", [deployment.bill_token, "0x"])
        assert verify_problems(deployment, anvil.rpc_url) == [f"no code at the bill token {deployment.bill_token}"]
    finally:
        anvil.revert(snapshot)
    other = deploy(anvil.rpc_url, dev_accounts[5].private_key)  # BillPayments of another factory
    crossed = deployment.model_copy(update={"bill_payments": other.bill_payments})
    assert any(f"belongs to factory {other.factory}" in p for p in verify_problems(crossed, anvil.rpc_url))


def test_ensure_deployed_adds_bill_contracts_to_an_older_file(
    tmp_path, anvil: AnvilNode, dev_accounts: tuple[DevAccount, ...]
) -> None:
    """A file from before bills keeps its factory (patients' vaults live under it) and gains BillPayments + TestUSD."""
    key, path = dev_accounts[6].private_key, tmp_path / "deployment.json"
    current = deploy(anvil.rpc_url, key)
    older = json.loads(current.model_dump_json())
    for name in BILL_FIELDS:
        del older[name]
    path.write_text(json.dumps(older))
    assert load(path).bill_payments is None
    upgraded = ensure_deployed_with_reasons(anvil.rpc_url, key, path)
    assert upgraded.deployed_now
    assert upgraded.reasons == ["no BillPayments recorded (a deployment file older than bills)"]
    assert upgraded.deployment.factory == current.factory and upgraded.deployment.tx_hashes == current.tx_hashes
    assert upgraded.deployment.bill_payments not in (None, current.bill_payments)
    assert upgraded.deployment.bill_token is not None
    assert verify_problems(upgraded.deployment, anvil.rpc_url) == []
    assert load(path) == upgraded.deployment
    assert ensure_deployed_with_reasons(anvil.rpc_url, key, path) == (upgraded.deployment, False, [])


def test_given_bill_token_is_used_instead_of_test_usd(
    tmp_path, anvil: AnvilNode, deployment: Deployment, dev_accounts: tuple[DevAccount, ...]
) -> None:
    key, path = dev_accounts[7].private_key, tmp_path / "deployment.json"
    given = deployment.bill_token  # any ERC-20 with code stands in for Sepolia's USDC here
    assert given is not None
    ensured = ensure_deployed_with_reasons(anvil.rpc_url, key, path, bill_token=given.lower())
    assert ensured.deployment.bill_token == given and ensured.deployment.bill_token_tx is None
    assert verify_problems(ensured.deployment, anvil.rpc_url) == []
    with pytest.raises(DeploymentError, match="no TestUSD of its own"):
        mint_test_usd(anvil.rpc_url, ensured.deployment, Account.create().address, 1)
    # Asking for another token later redeploys the bill side only, never the factory.
    switched = ensure_deployed_with_reasons(anvil.rpc_url, key, path, bill_token=deployment.bill_payments)
    assert switched.deployed_now and switched.deployment.factory == ensured.deployment.factory
    assert switched.deployment.bill_token == deployment.bill_payments
    with pytest.raises(DeploymentError, match="no contract at the bill token"):
        deploy(anvil.rpc_url, key, bill_token=Account.create().address)


def test_mint_test_usd(anvil: AnvilNode, deployment: Deployment, dev_accounts: tuple[DevAccount, ...]) -> None:
    patient = Account.create().address
    assert bill_token_balance(anvil.rpc_url, deployment, patient) == 0
    tx_hash = mint_test_usd(anvil.rpc_url, deployment, patient, 10_000 * 10**6)
    assert tx_hash.startswith("0x")
    assert bill_token_balance(anvil.rpc_url, deployment, patient) == 10_000 * 10**6
    with pytest.raises(DeploymentError, match="only the deployer"):
        mint_test_usd(anvil.rpc_url, deployment, patient, 1, owner_private_key=dev_accounts[1].private_key)
    assert bill_token_balance(anvil.rpc_url, deployment, patient) == 10_000 * 10**6


def test_bill_settings_are_checksummed_addresses(deployment: Deployment) -> None:
    settings = Settings(bill_payments_address=str(deployment.bill_payments).lower(), bill_token_address="")
    assert settings.bill_payments_address == deployment.bill_payments and settings.bill_token_address == ""
    with pytest.raises(ValueError, match="BILL_TOKEN_ADDRESS is not an Ethereum address"):
        Settings(bill_token_address="0x1234")
