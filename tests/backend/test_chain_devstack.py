"""The Anvil launcher (devstack/anvil.py) and the packaged artifacts (chain/artifacts.py)."""

from __future__ import annotations

import pytest
from eth_account import Account
from web3 import Web3

from healthledger.chain.artifacts import (
    CONTRACT_NAMES,
    bill_payments,
    health_record,
    health_record_factory,
    load_artifact,
)
from healthledger.chain import artifacts
from healthledger.chain.deployment import deploy, load, save, verify_problems
from healthledger.devstack.anvil import DEFAULT_MNEMONIC, AnvilNode, dev_accounts


def test_artifacts_load_from_the_package() -> None:
    for name in CONTRACT_NAMES:
        artifact = load_artifact(name)
        assert artifact.abi and artifact.bytecode.startswith("0x6")
        assert artifact.compiler_version.startswith("0.8.")
    assert "InvalidSignature" in {e["name"] for e in health_record().errors.values()}
    assert "VaultAlreadyExists" in {e["name"] for e in health_record_factory().errors.values()}
    assert "RecordAdded" in health_record().events
    assert {"issueBillBySig", "cancelBillBySig"} <= {e.get("name") for e in bill_payments().abi}
    assert "BillIssued" in bill_payments().events
    # Via the module: a bare `test_usd` imported here would be collected by pytest as a test.
    assert "permit" in {e.get("name") for e in artifacts.test_usd().abi}
    with pytest.raises(ValueError):
        load_artifact("Nope")  # type: ignore[arg-type]


def test_dev_accounts_are_anvils(anvil: AnvilNode) -> None:
    """The keys derived from the mnemonic are the accounts Anvil funded, in the same order."""
    derived = dev_accounts()
    assert len(derived) == 10
    assert [a.address.lower() for a in derived] == [a.lower() for a in anvil.rpc("eth_accounts")]
    assert derived[0].address == "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
    assert derived[0].private_key == "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
    for account in derived:
        assert Account.from_key(account.private_key).address == account.address
    assert account.private_key not in repr(account)
    assert dev_accounts() is derived  # cached
    assert dev_accounts(DEFAULT_MNEMONIC, 3) == derived[:3]


def test_node_answers_and_time_travel(anvil: AnvilNode) -> None:
    assert anvil.rpc_url.startswith("http://127.0.0.1:")
    assert anvil.rpc_chain_id() == 31337
    snapshot = anvil.snapshot()
    before = anvil.latest_timestamp()
    block = anvil.block_number()
    after = anvil.advance(3 * 24 * 3600)
    assert after >= before + 3 * 24 * 3600
    assert anvil.block_number() == block + 1
    assert anvil.revert(snapshot)
    assert anvil.block_number() == block
    assert anvil.latest_timestamp() == before


def test_custom_chain_id_and_state_persist_across_restarts(tmp_path) -> None:
    """`state_path` keeps the chain (and so a deployment) across a stop and a start."""
    state = tmp_path / "state.json"
    key = dev_accounts()[0].private_key
    node = AnvilNode(chain_id=1337, state_path=state, log_path=tmp_path / "anvil.log")
    with node:
        assert Web3(Web3.HTTPProvider(node.rpc_url)).eth.chain_id == 1337
        deployment = deploy(node.rpc_url, key)
        save(deployment, tmp_path / "deployment.json")
        first_port = node.port
    assert not node.is_running()
    assert state.exists()
    with AnvilNode(chain_id=1337, state_path=state) as again:
        assert again.port != first_port or True  # a new free port; the chain is what must survive
        assert verify_problems(load(tmp_path / "deployment.json"), again.rpc_url) == []
    with AnvilNode(chain_id=1337) as fresh:  # no state: the deployment is gone, and verify says so
        problems = verify_problems(load(tmp_path / "deployment.json"), fresh.rpc_url)
        assert problems and "no code" in problems[0]


def test_stop_is_idempotent() -> None:
    node = AnvilNode().start()
    node.stop()
    node.stop()
    assert not node.is_running()
    with pytest.raises(RuntimeError):
        AnvilNode().rpc_url  # noqa: B018 - not started
