"""`scripts/deploy.py` run as operators run it: `ape run deploy --network ethereum:sepolia:node`.

Each test gets a fresh Anvil serving Sepolia's chain id; see conftest.py for how ape is pointed at
it. Assertions read the chain directly (web3), never the script's own claims.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from web3 import Web3

from healthledger.chain import artifacts
from healthledger.chain.artifacts import health_record_factory
from healthledger.chain.client import REGISTRAR_ROLE
from healthledger.chain.deployment import Deployment, load
from healthledger.devstack.anvil import AnvilNode, DevAccount

from .conftest import SEPOLIA_CHAIN_ID

VERIFIED = "verified existing deployment"
NOT_VERIFIED = "does NOT verify against the chain"
TWO_DAYS = 2 * 24 * 3600
# v2's admin views (AccessControlDefaultAdminRules), independent of the backend's exported artifact.
ADMIN_RULES_ABI = [
    {"type": "function", "name": name, "stateMutability": "view", "inputs": [], "outputs": [{"type": out}]}
    for name, out in (("defaultAdmin", "address"), ("defaultAdminDelay", "uint48"))
]


def _w3(node: AnvilNode) -> Web3:
    return Web3(Web3.HTTPProvider(node.rpc_url, request_kwargs={"timeout": 10}))


def _nonce(node: AnvilNode, address: str) -> int:
    return int(node.rpc("eth_getTransactionCount", [address, "latest"]), 16)


def _has_code(node: AnvilNode, address: str) -> bool:
    return node.rpc("eth_getCode", [address, "latest"]) not in ("0x", "0x0", None)


def _is_registrar(node: AnvilNode, factory: str, address: str) -> bool:
    contract = _w3(node).eth.contract(address=factory, abi=health_record_factory().abi)
    return bool(contract.functions.hasRole(REGISTRAR_ROLE, address).call())


def _admin_rules(node: AnvilNode, factory: str) -> tuple[str, int]:
    """(defaultAdmin, defaultAdminDelay) read from the chain."""
    contract = _w3(node).eth.contract(address=factory, abi=ADMIN_RULES_ABI)
    return contract.functions.defaultAdmin().call(), contract.functions.defaultAdminDelay().call()


def _saved(deployments_dir: Path) -> Deployment:
    path = deployments_dir / f"{SEPOLIA_CHAIN_ID}.json"
    assert path.is_file(), f"{path} was not written"
    return load(path)


def test_deploys_then_verifies_then_redeploys(
    run_deploy, sepolia_anvil: AnvilNode, deployer: DevAccount, registrar: DevAccount, deployments_dir: Path
) -> None:
    first = run_deploy()
    saved = _saved(deployments_dir)
    assert saved.chain_id == SEPOLIA_CHAIN_ID
    assert saved.deployer == deployer.address  # the DEPLOYER_ALIAS ape account, not ape's test account #0
    # v2 constructor arguments: the deployer is the admin, REGISTRAR_ADDRESS the (separate) registrar,
    # and the admin delay is the live-network default.
    assert _admin_rules(sepolia_anvil, saved.factory) == (deployer.address, TWO_DAYS)
    assert _is_registrar(sepolia_anvil, saved.factory, registrar.address)
    assert not _is_registrar(sepolia_anvil, saved.factory, deployer.address)
    assert _has_code(sepolia_anvil, saved.factory) and _has_code(sepolia_anvil, saved.implementation)
    factory = _w3(sepolia_anvil).eth.contract(address=saved.factory, abi=health_record_factory().abi)
    assert factory.functions.implementation().call() == saved.implementation
    creation = _w3(sepolia_anvil).eth.get_transaction_receipt(saved.tx_hashes[0])
    assert creation["contractAddress"] == saved.factory and creation["blockNumber"] == saved.block_number
    assert saved.registrar == registrar.address and len(saved.tx_hashes) == 1  # no grant transaction
    assert saved.compiler_version.startswith("0.8.")
    # BillPayments bound to the factory; no BILL_TOKEN_ADDRESS on a live network: ETH only, no test token.
    assert _bill_factory(sepolia_anvil, saved) == saved.factory and saved.bill_token is None
    assert "bills in ETH only" in first.output, first.output
    assert VERIFIED not in first.output
    # Exactly the format `save` writes (the backend's `load` reads it back unchanged).
    raw = json.loads((deployments_dir / f"{SEPOLIA_CHAIN_ID}.json").read_text())
    assert raw == json.loads(saved.model_dump_json())

    block, nonce = sepolia_anvil.block_number(), _nonce(sepolia_anvil, deployer.address)
    again = run_deploy()
    assert VERIFIED in again.output, again.output
    assert "could not simulate" not in again.output, again.output  # the bytecode was compared
    assert _saved(deployments_dir) == saved
    assert (sepolia_anvil.block_number(), _nonce(sepolia_anvil, deployer.address)) == (block, nonce)

    forced = run_deploy("--redeploy")
    assert VERIFIED not in forced.output
    redeployed = _saved(deployments_dir)
    assert redeployed.factory != saved.factory and redeployed.implementation != saved.implementation
    assert _has_code(sepolia_anvil, redeployed.factory) and _has_code(sepolia_anvil, redeployed.implementation)
    assert _nonce(sepolia_anvil, deployer.address) == nonce + 2  # the factory, then BillPayments

    by_env = run_deploy(env={"REDEPLOY": "1"})
    assert VERIFIED not in by_env.output
    assert _saved(deployments_dir).factory not in (saved.factory, redeployed.factory)


def _bill_factory(node: AnvilNode, saved: Deployment) -> str:
    """The factory the saved BillPayments is bound to, read from the chain."""
    assert saved.bill_payments is not None and _has_code(node, saved.bill_payments)
    contract = _w3(node).eth.contract(address=saved.bill_payments, abi=artifacts.bill_payments().abi)
    return contract.functions.factory().call()


def test_bill_token_on_a_live_network_and_an_older_file(
    run_deploy, sepolia_anvil: AnvilNode, deployer: DevAccount, deployments_dir: Path
) -> None:
    """BILL_TOKEN_ADDRESS is recorded as the bill token; a test token is refused on Sepolia; a file from
    before bills keeps its factory and gains BillPayments."""
    refused = run_deploy(env={"BILL_TOKEN_ADDRESS": "TestUSD"}, check=False)
    assert refused.returncode != 0 and "refusing to deploy a test token" in refused.output, refused.output
    assert not (deployments_dir / f"{SEPOLIA_CHAIN_ID}.json").exists()

    run_deploy()
    saved = _saved(deployments_dir)
    token = saved.factory  # any contract stands in for Sepolia's USDC here
    nonce = _nonce(sepolia_anvil, deployer.address)
    with_token = run_deploy(env={"BILL_TOKEN_ADDRESS": token.lower()})
    assert "kept the existing factory" in with_token.output, with_token.output
    updated = _saved(deployments_dir)
    assert (updated.factory, updated.bill_token, updated.bill_token_tx) == (saved.factory, token, None)
    assert _bill_factory(sepolia_anvil, updated) == saved.factory
    assert _nonce(sepolia_anvil, deployer.address) == nonce + 1  # BillPayments only

    older = json.loads(updated.model_dump_json())
    for name in ("bill_payments", "bill_payments_tx", "bill_token", "bill_token_tx"):
        del older[name]
    (deployments_dir / f"{SEPOLIA_CHAIN_ID}.json").write_text(json.dumps(older))
    upgraded = run_deploy(env={"BILL_TOKEN_ADDRESS": token})
    assert "no BillPayments recorded" in upgraded.output, upgraded.output
    gained = _saved(deployments_dir)
    assert gained.factory == saved.factory and gained.bill_token == token
    assert gained.bill_payments not in (None, updated.bill_payments)
    assert VERIFIED in run_deploy(env={"BILL_TOKEN_ADDRESS": token}).output


def test_file_from_another_chain_instance_is_not_trusted(
    run_deploy, sepolia_anvil: AnvilNode, deployer: DevAccount, deployments_dir: Path
) -> None:
    """A saved deployment that the node does not have (a fresh Anvil) is reported, then replaced."""
    stale = Deployment(
        chain_id=SEPOLIA_CHAIN_ID,
        factory="0x" + "11" * 20,
        implementation="0x" + "22" * 20,
        deployer=deployer.address,
        block_number=1,
        tx_hashes=["0x" + "33" * 32],
        compiler_version="0.8.37+commit.f401782d",
    )
    deployments_dir.mkdir(parents=True)
    (deployments_dir / f"{SEPOLIA_CHAIN_ID}.json").write_text(stale.model_dump_json(indent=2))

    result = run_deploy()
    assert NOT_VERIFIED in result.output and f"no code at factory {stale.factory}" in result.output
    fresh = _saved(deployments_dir)
    assert fresh.factory != stale.factory and _has_code(sepolia_anvil, fresh.factory)


def test_changed_runtime_code_is_not_trusted(run_deploy, sepolia_anvil: AnvilNode, deployments_dir: Path) -> None:
    """Code at the addresses and a matching implementation() are not enough: the code must be the build's."""
    run_deploy()
    saved = _saved(deployments_dir)
    # Some other contract's code where the implementation should be; factory.implementation() still matches.
    factory_code = sepolia_anvil.rpc("eth_getCode", [saved.factory, "latest"])
    sepolia_anvil.rpc("anvil_setCode", [saved.implementation, factory_code])

    result = run_deploy()
    assert NOT_VERIFIED in result.output and "implementation's runtime code differs" in result.output, result.output
    assert _saved(deployments_dir).factory != saved.factory


def test_registrar_and_relayer_get_the_registrar_role(
    run_deploy, sepolia_anvil: AnvilNode, deployer: DevAccount, deployments_dir: Path
) -> None:
    registrar, relayer = sepolia_anvil.accounts[4].address, sepolia_anvil.accounts[9].address
    run_deploy(env={"REGISTRAR_ADDRESS": registrar.lower(), "RELAYER_ADDRESS": relayer})
    saved = _saved(deployments_dir)
    assert _is_registrar(sepolia_anvil, saved.factory, registrar)
    assert _is_registrar(sepolia_anvil, saved.factory, relayer)
    assert saved.registrar == registrar  # the file format has one registrar field
    assert len(saved.tx_hashes) == 2  # creation (registrar in the constructor), then the relayer's grant
    for tx_hash in saved.tx_hashes:
        assert _w3(sepolia_anvil).eth.get_transaction_receipt(tx_hash)["status"] == 1
    assert not _is_registrar(sepolia_anvil, saved.factory, sepolia_anvil.accounts[3].address)

    nonce = _nonce(sepolia_anvil, deployer.address)
    again = run_deploy(env={"REGISTRAR_ADDRESS": registrar, "RELAYER_ADDRESS": relayer})
    assert VERIFIED in again.output and _nonce(sepolia_anvil, deployer.address) == nonce


def test_role_missing_on_a_verified_deployment_is_granted_without_redeploying(
    run_deploy, sepolia_anvil: AnvilNode, deployer: DevAccount, registrar: DevAccount, deployments_dir: Path
) -> None:
    run_deploy()
    saved = _saved(deployments_dir)
    relayer = sepolia_anvil.accounts[9].address
    nonce = _nonce(sepolia_anvil, deployer.address)

    result = run_deploy(env={"RELAYER_ADDRESS": relayer})
    assert "REGISTRAR_ROLE is missing" in result.output, result.output
    assert "kept the existing deployment" in result.output, result.output
    updated = _saved(deployments_dir)
    assert (updated.factory, updated.implementation) == (saved.factory, saved.implementation)
    assert _is_registrar(sepolia_anvil, saved.factory, relayer)
    assert updated.registrar == registrar.address  # still the constructor's registrar
    assert updated.tx_hashes[:1] == saved.tx_hashes and len(updated.tx_hashes) == 2
    assert _nonce(sepolia_anvil, deployer.address) == nonce + 1


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DEPLOYER_ALIAS": ""}, "DEPLOYER_ALIAS is not set"),
        ({"DEPLOYER_ALIAS": "nobody_here"}, "no ape account named 'nobody_here'"),
        ({"REGISTRAR_ADDRESS": "0x1234"}, "REGISTRAR_ADDRESS='0x1234' is not an Ethereum address"),
        ({"REGISTRAR_ADDRESS": ""}, "REGISTRAR_ADDRESS (or --registrar) is not set"),
        ({"ADMIN_DELAY": "two days"}, "ADMIN_DELAY='two days' is not a delay"),
        ({"ADMIN_DELAY": f"{2**48}"}, "more than a uint48 holds"),
    ],
    ids=["no-alias", "unknown-alias", "bad-registrar", "no-registrar", "bad-delay", "delay-too-long"],
)
def test_bad_configuration_fails_before_any_transaction(
    run_deploy, sepolia_anvil: AnvilNode, deployments_dir: Path, env: dict[str, str], message: str
) -> None:
    block = sepolia_anvil.block_number()
    result = run_deploy(env=env, check=False)
    assert result.returncode != 0
    assert message in result.output, result.output
    assert sepolia_anvil.block_number() == block
    assert not (deployments_dir / f"{SEPOLIA_CHAIN_ID}.json").exists()


def test_admin_delay_and_registrar_settings(
    run_deploy, sepolia_anvil: AnvilNode, deployer: DevAccount, deployments_dir: Path
) -> None:
    """ADMIN_DELAY (with a unit) and the CLI options reach the constructor; a later run with another
    delay keeps the deployment and says the delay differs (it is fixed at deployment)."""
    run_deploy(env={"ADMIN_DELAY": "3h"})
    saved = _saved(deployments_dir)
    assert _admin_rules(sepolia_anvil, saved.factory) == (deployer.address, 3 * 3600)

    other = sepolia_anvil.accounts[5].address
    run_deploy("--redeploy", "--admin-delay", "1d", "--registrar", other, env={"ADMIN_DELAY": "7d"})
    options = _saved(deployments_dir)
    assert _admin_rules(sepolia_anvil, options.factory) == (deployer.address, 24 * 3600)  # the option wins
    assert options.registrar == other and _is_registrar(sepolia_anvil, options.factory, other)

    nonce = _nonce(sepolia_anvil, deployer.address)
    again = run_deploy("--registrar", other, env={"ADMIN_DELAY": "120"})
    assert VERIFIED in again.output and "admin delay is 86400 s (1 day), the setting asks for 120 s" in again.output
    assert _saved(deployments_dir) == options and _nonce(sepolia_anvil, deployer.address) == nonce


def test_local_network_uses_ape_test_account_on_a_running_anvil(run_deploy, tmp_path: Path) -> None:
    """`ethereum:local:foundry` with APE_FOUNDRY_HOST: ape's test account #0 deploys to an Anvil that
    outlives the script, so the second run verifies instead of deploying. Locally the deployer is
    also the registrar and the admin delay is 0 unless set."""
    with AnvilNode(log_path=tmp_path / "local-anvil.log") as node:
        out = tmp_path / "local-deployments"
        env = {
            "APE_FOUNDRY_HOST": node.rpc_url,
            "DEPLOYMENTS_DIR": str(out),
            "DEPLOYER_ALIAS": "",
            "REGISTRAR_ADDRESS": "",
        }
        first = run_deploy(env=env, network="ethereum:local:foundry")
        assert "ape started this" not in first.output  # it connected to our node
        saved = load(out / "31337.json")
        assert saved.chain_id == 31337 and saved.deployer == node.accounts[0].address
        assert _has_code(node, saved.factory)
        assert _admin_rules(node, saved.factory) == (node.accounts[0].address, 0)
        assert saved.registrar == node.accounts[0].address
        assert _is_registrar(node, saved.factory, node.accounts[0].address)
        assert _bill_factory(node, saved) == saved.factory and saved.bill_token and saved.bill_token_tx
        token = _w3(node).eth.contract(address=saved.bill_token, abi=artifacts.test_usd().abi)
        assert token.functions.decimals().call() == 6 and token.functions.owner().call() == node.accounts[0].address
        again = run_deploy(env=env, network="ethereum:local:foundry")
        assert VERIFIED in again.output, again.output
        assert node.is_running(), "ape stopped an Anvil it did not start"
