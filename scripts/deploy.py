"""Deploy HealthLedger's contracts with ape and record them in `deployments/<chain-id>.json`.

What it does: deploys `HealthRecordFactory` (its constructor deploys the `HealthRecord`
implementation that every patient's clone delegates to; the deployer gets DEFAULT_ADMIN_ROLE and
REGISTRAR_ROLE), grants REGISTRAR_ROLE to REGISTRAR_ADDRESS and RELAYER_ADDRESS when they are set,
and writes `deployments/<chain-id>.json` in the format of `healthledger.chain.deployment.save`
(addresses, deployer, block, transaction hashes, compiler version), which the backend reads.

Run it from the project root after `make install` (ape, the solc shim, and the `healthledger`
package, whose deployment-file code this script reuses); ape compiles the contracts first if they
changed.

Local chain (a throwaway Anvil that ape-foundry starts, and stops when the script ends; the deployer
is ape's test account #0, 0xf39F...2266, the same key Anvil funds):

    ape run deploy --network ethereum:local:foundry

    # keep the deployment on an Anvil that is already running (e.g. the one `make run` starts):
    APE_FOUNDRY_HOST=http://127.0.0.1:8545 ape run deploy --network ethereum:local:foundry

Sepolia (or any live network; the deployer is an ape account):

    ape accounts import healthledger_deployer      # once: asks for the private key and a passphrase
    export DEPLOYER_ALIAS=healthledger_deployer
    export APE_ACCOUNTS_healthledger_deployer_PASSPHRASE=...   # optional: non-interactive signing
    export APE_NODE_ETHEREUM='{"sepolia": {"uri": "https://sepolia.example/v3/KEY"}}'
    ape run deploy --network ethereum:sepolia:node
    # or give the RPC URL in the network choice instead of APE_NODE_ETHEREUM (it then shows in the
    # shell history and the process list):
    ape run deploy --network ethereum:sepolia:https://sepolia.example/v3/KEY

On Sepolia ape waits for 2 confirmations per transaction (its default for the network), so a
deployment with two role grants takes a minute or two.

Environment:

    DEPLOYER_ALIAS      ape account alias (`ape accounts list`) that deploys on non-local networks.
                        Required there; ignored on local networks (ape's test account #0 is used).
    APE_ACCOUNTS_<alias>_PASSPHRASE
                        ape's own variable for the account's passphrase. When set, the account
                        signs without prompting (needed in CI or any non-interactive shell); when
                        unset, ape asks for the passphrase and to confirm each transaction.
                        The alias is part of a shell variable name: use letters, digits and `_`.
    APE_NODE_ETHEREUM   ape's variable for the `node` provider's settings, as JSON, e.g.
                        '{"sepolia": {"uri": "https://..."}}' (the same as `node: ethereum: sepolia:
                        uri:` in ape-config.yaml). Without a URI (here, in the config or in the
                        network choice) ape stops with "Missing URI for network 'sepolia'"; a URI
                        that serves another chain id stops with NetworkMismatchError.
    REGISTRAR_ADDRESS   optional: an extra address to hold REGISTRAR_ROLE (registers doctors).
    RELAYER_ADDRESS     optional: the backend relayer's address (RELAYER_PRIVATE_KEY's account); it
                        is granted REGISTRAR_ROLE too, so the API can register doctors.
    DEPLOYMENTS_DIR     optional: folder for `<chain-id>.json` (default: `deployments/` in the project).
    REDEPLOY=1          deploy anew even when the saved deployment verifies (same as `--redeploy`).

Re-running is idempotent. When `<chain-id>.json` exists, it is checked against the chain: code at
both addresses, `factory.implementation()` equal to the saved implementation, the deployed runtime
code equal to what the current build would deploy there (checked by simulating the creation with
`eth_call` state overrides; skipped with a warning if the node cannot), and REGISTRAR_ROLE held by
the saved registrar and by REGISTRAR_ADDRESS / RELAYER_ADDRESS. If all holds, it prints
"verified existing deployment" and sends no transaction. If only role grants are missing (for
example RELAYER_ADDRESS was set after the first deployment), it grants them on the existing factory
(the deployer account must hold DEFAULT_ADMIN_ROLE) and updates the file instead of redeploying. If
anything else fails (a fresh Anvil has no code at the saved addresses; the contracts changed), it
says why and deploys anew, overwriting the file.

The file's `registrar` field holds REGISTRAR_ADDRESS, or RELAYER_ADDRESS when only that is set (the
format has one such field; every grant's transaction hash is in `tx_hashes`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click
from ape.cli import ConnectedProviderCommand

FACTORY = "HealthRecordFactory"
IMPLEMENTATION = "HealthRecord"
TRUE_VALUES = {"1", "true", "yes", "on"}


def _say(message: str) -> None:
    click.echo(f"deploy: {message}")


def _env_address(name: str) -> str | None:
    from eth_utils import is_address, to_checksum_address

    value = (os.environ.get(name) or "").strip()
    if not value:
        return None
    if not is_address(value):
        raise click.ClickException(f"{name}={value!r} is not an Ethereum address")
    return to_checksum_address(value)


def _wanted_registrars() -> list[str]:
    """REGISTRAR_ADDRESS then RELAYER_ADDRESS, each once, if set."""
    wanted: list[str] = []
    for name in ("REGISTRAR_ADDRESS", "RELAYER_ADDRESS"):
        address = _env_address(name)
        if address is not None and address not in wanted:
            wanted.append(address)
    return wanted


def _deployments_dir() -> Path:
    from ape import project

    configured = (os.environ.get("DEPLOYMENTS_DIR") or "").strip()
    return Path(configured).expanduser() if configured else Path(project.path) / "deployments"


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _compiler_version(contract_name: str) -> str:
    from ape import project

    for compiler in project.manifest.compilers or []:
        if contract_name in (compiler.contractTypes or []):
            return str(compiler.version)
    return ""


def _deployer(network: Any):
    """ape's test account #0 on local networks (and forks), else the DEPLOYER_ALIAS ape account."""
    from ape import accounts

    if network.is_dev:
        return accounts.test_accounts[0]
    alias = (os.environ.get("DEPLOYER_ALIAS") or "").strip()
    if not alias:
        known = ", ".join(sorted(accounts.aliases)) or "none; import one with `ape accounts import <alias>`"
        raise click.ClickException(
            f"DEPLOYER_ALIAS is not set: on network '{network.name}' the deployer is an ape account (known: {known})"
        )
    try:
        account = accounts.load(alias)
    except Exception as exc:  # ape raises IndexError / AccountsError depending on the container
        raise click.ClickException(f"no ape account named {alias!r} (DEPLOYER_ALIAS): {exc}") from None
    if os.environ.get(f"APE_ACCOUNTS_{alias}_PASSPHRASE"):
        account.set_autosign(True)  # unlocks with the passphrase from ape's environment variable
    return account


def _bytecode_problems(w3: Any, saved: Any) -> tuple[list[str], str | None]:
    """Compare the deployed runtime code with what the current build deploys at those addresses.

    Immutables depend on the addresses, so the creation code is run with `eth_call` from the same
    sender and nonce, with state overrides that empty the two addresses (as
    `healthledger.chain.deployment` does with the packaged artifacts). Returns (problems, warning).
    """
    from ape import project

    try:
        factory_tx = w3.eth.get_transaction(saved.tx_hashes[0])
        empty = {"code": "0x", "nonce": 0}
        factory_runtime = w3.eth.call(
            {"from": saved.deployer, "data": project.HealthRecordFactory.contract_type.deployment_bytecode.bytecode},
            "latest",
            {saved.deployer: {"nonce": factory_tx["nonce"]}, saved.factory: empty, saved.implementation: empty},
        )
        implementation_runtime = w3.eth.call(
            {"from": saved.factory, "data": project.HealthRecord.contract_type.deployment_bytecode.bytecode},
            "latest",
            {saved.factory: {"nonce": 1}, saved.implementation: empty},
        )
    except Exception as exc:  # a node without state overrides, or the creation tx is gone
        return [], f"could not simulate the deployment to compare bytecode ({type(exc).__name__}: {exc})"
    problems = []
    if bytes(w3.eth.get_code(saved.factory)) != bytes(factory_runtime):
        problems.append(f"the factory's runtime code differs from the current build of {FACTORY}")
    if bytes(w3.eth.get_code(saved.implementation)) != bytes(implementation_runtime):
        problems.append(f"the implementation's runtime code differs from the current build of {IMPLEMENTATION}")
    return problems, None


def _check_saved(w3: Any, saved: Any, wanted: list[str]) -> tuple[list[str], list[str]]:
    """(problems that need a new deployment, addresses that lack REGISTRAR_ROLE)."""
    from healthledger.chain.client import REGISTRAR_ROLE
    from healthledger.chain.deployment import verify_problems

    problems = verify_problems(saved, w3, check_bytecode=False)
    role_problem = f"{saved.registrar} does not hold REGISTRAR_ROLE"
    missing = [saved.registrar] if saved.registrar and role_problem in problems else []
    problems = [p for p in problems if p != role_problem]
    if problems:
        return problems, []
    bytecode_problems, warning = _bytecode_problems(w3, saved)
    if warning:
        _say(f"warning: {warning}; checked code presence, implementation() and roles only")
    if bytecode_problems:
        return bytecode_problems, []
    factory = _factory_contract(w3, saved.factory)
    for address in wanted:
        if address not in missing and not factory.functions.hasRole(REGISTRAR_ROLE, address).call():
            missing.append(address)
    return [], missing


def _factory_contract(w3: Any, address: str) -> Any:
    from healthledger.chain.artifacts import health_record_factory

    return w3.eth.contract(address=address, abi=health_record_factory().abi)


def _grant(factory: Any, deployer: Any, addresses: list[str]) -> list[str]:
    """grantRole(REGISTRAR_ROLE, a) for each address; returns the transaction hashes."""
    from healthledger.chain.client import REGISTRAR_ROLE

    hashes = []
    for address in addresses:
        receipt = factory.grantRole(REGISTRAR_ROLE, address, sender=deployer)
        hashes.append(str(receipt.txn_hash))
        _say(f"granted REGISTRAR_ROLE to {address} (tx {receipt.txn_hash})")
    return hashes


def _deploy(network: Any, chain_id: int, wanted: list[str]):
    from ape import chain, project
    from eth_utils import to_checksum_address
    from healthledger.chain.deployment import Deployment

    deployer = _deployer(network)
    _say(f"deploying {FACTORY} (its constructor deploys {IMPLEMENTATION}) from {deployer.address}")
    factory = deployer.deploy(project.HealthRecordFactory)
    creation = chain.get_receipt(factory.txn_hash)
    implementation = to_checksum_address(factory.implementation())
    _say(f"{FACTORY} at {factory.address}, {IMPLEMENTATION} implementation at {implementation}")
    grant_to = [a for a in wanted if a != deployer.address]
    tx_hashes = [str(creation.txn_hash), *_grant(factory, deployer, grant_to)]
    return Deployment(
        chain_id=chain_id,
        factory=factory.address,
        implementation=implementation,
        deployer=deployer.address,
        registrar=wanted[0] if wanted else None,
        block_number=creation.block_number,
        tx_hashes=tx_hashes,
        compiler_version=_compiler_version(FACTORY),
    )


def _grant_missing(network: Any, saved: Any, missing: list[str], wanted: list[str]):
    from ape import Contract, project

    deployer = _deployer(network)
    factory = Contract(saved.factory, contract_type=project.HealthRecordFactory.contract_type)
    admin_role = factory.DEFAULT_ADMIN_ROLE()
    if not factory.hasRole(admin_role, deployer.address):
        raise click.ClickException(
            f"{deployer.address} cannot grant REGISTRAR_ROLE on {saved.factory}: it does not hold "
            f"DEFAULT_ADMIN_ROLE (the factory was deployed by {saved.deployer}); use the admin account "
            f"or --redeploy"
        )
    hashes = _grant(factory, deployer, missing)
    registrar = saved.registrar
    if wanted and registrar not in wanted:
        registrar = wanted[0]
    return saved.model_copy(update={"tx_hashes": [*saved.tx_hashes, *hashes], "registrar": registrar})


@click.command(cls=ConnectedProviderCommand, short_help="Deploy the contracts; write deployments/<chain-id>.json")
@click.option(
    "--redeploy",
    is_flag=True,
    default=False,
    help="Deploy anew even if deployments/<chain-id>.json verifies against the chain (or REDEPLOY=1).",
)
def cli(network, provider, redeploy):
    """Deploy HealthRecordFactory (+ HealthRecord implementation) unless deployments/<chain-id>.json
    verifies against the chain; grant REGISTRAR_ROLE to REGISTRAR_ADDRESS / RELAYER_ADDRESS.

    Environment: DEPLOYER_ALIAS and APE_ACCOUNTS_<alias>_PASSPHRASE (non-local networks),
    REGISTRAR_ADDRESS, RELAYER_ADDRESS, DEPLOYMENTS_DIR, REDEPLOY. Details: scripts/deploy.py.
    """
    from healthledger.chain.deployment import load, save

    redeploy = redeploy or (os.environ.get("REDEPLOY") or "").strip().lower() in TRUE_VALUES
    wanted = _wanted_registrars()
    chain_id = provider.chain_id
    w3 = provider.web3
    path = _deployments_dir() / f"{chain_id}.json"
    shown = _shown(path)
    # Not provider.network_choice: with a configured URI it contains the URL (often with an API key).
    choice = f"{network.ecosystem.name}:{network.name}:{provider.name}"
    _say(f"network {choice}, chain {chain_id}, deployment file {shown}")
    if network.is_dev and getattr(provider, "process", None) is not None:
        _say(
            f"note: ape started this {provider.name} node and stops it when the script ends, and the "
            f"deployment with it; to deploy to a node that keeps running (e.g. `make run`'s Anvil), set "
            f"APE_FOUNDRY_HOST=http://127.0.0.1:<port>"
        )

    if path.exists() and redeploy:
        _say(f"--redeploy/REDEPLOY=1: ignoring the existing {shown} and deploying anew")
    elif path.exists():
        try:
            saved = load(path)
        except (OSError, ValueError) as exc:
            _say(f"{shown} is unreadable ({type(exc).__name__}: {exc}); deploying anew")
        else:
            problems, missing = _check_saved(w3, saved, wanted)
            if not problems and not missing:
                _say(
                    f"verified existing deployment: factory {saved.factory}, implementation "
                    f"{saved.implementation} (block {saved.block_number}); nothing to do"
                )
                return
            if not problems:
                _say(f"existing deployment verifies, but REGISTRAR_ROLE is missing for {', '.join(missing)}")
                updated = _grant_missing(network, saved, missing, wanted)
                save(updated, path)
                _say(f"kept the existing deployment (no redeploy); updated {shown}")
                return
            _say(f"{shown} does NOT verify against the chain at {choice} (chain {chain_id}):")
            for problem in problems:
                click.echo(f"  - {problem}")
            _say("deploying anew")

    deployment = _deploy(network, chain_id, wanted)
    save(deployment, path)
    _say(f"wrote {shown}")
