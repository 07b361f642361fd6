"""Deploy HealthLedger's contracts with ape and record them in `deployments/<chain-id>.json`.

What it does: deploys `HealthRecordFactory` v2 (its constructor deploys the `HealthRecord`
implementation that every patient's clone delegates to) with three constructor arguments: the admin
delay, the default admin (the deployer) and the first registrar. The admin (DEFAULT_ADMIN_ROLE,
OpenZeppelin `AccessControlDefaultAdminRules`) grants and revokes REGISTRAR_ROLE and is handed over
only in two steps, `beginDefaultAdminTransfer(new)` then `acceptDefaultAdminTransfer()` by the new
admin once the delay has passed; the registrar registers doctors. It then grants REGISTRAR_ROLE to
RELAYER_ADDRESS when that is set, and writes `deployments/<chain-id>.json` in the format of
`healthledger.chain.deployment.save` (addresses, deployer, registrar, block, transaction hashes,
compiler version), which the backend reads.

v2 is a new factory. Vaults created by a v1 factory are not migrated (a clone's code points at its
factory's implementation forever); a deployment file that records a v1 factory no longer verifies
(its runtime code differs from the current build), so the script deploys the v2 factory and the
file then records the new one. Patients create new vaults under it.

Run it from the project root after `make install` (ape, the solc shim, and the `healthledger`
package, whose deployment-file code this script reuses); ape compiles the contracts first if they
changed.

Local chain (a throwaway Anvil that ape-foundry starts, and stops when the script ends; the deployer
is ape's test account #0, 0xf39F...2266, the same key Anvil funds):

    ape run deploy --network ethereum:local:foundry

    # keep the deployment on an Anvil that is already running (e.g. the one `make run` starts):
    APE_FOUNDRY_HOST=http://127.0.0.1:8545 ape run deploy --network ethereum:local:foundry

Sepolia (or any live network; the deployer is an ape account and becomes the admin; the registrar
must be given and should be another account, e.g. the backend relayer's or an operator's):

    ape accounts import healthledger_deployer      # once: asks for the private key and a passphrase
    export DEPLOYER_ALIAS=healthledger_deployer
    export REGISTRAR_ADDRESS=0x...                  # required on live networks
    export ADMIN_DELAY=2d                           # optional: the default on live networks
    export APE_ACCOUNTS_healthledger_deployer_PASSPHRASE=...   # optional: non-interactive signing
    export APE_NODE_ETHEREUM='{"sepolia": {"uri": "https://sepolia.example/v3/KEY"}}'
    ape run deploy --network ethereum:sepolia:node
    # or give the RPC URL in the network choice instead of APE_NODE_ETHEREUM (it then shows in the
    # shell history and the process list):
    ape run deploy --network ethereum:sepolia:https://sepolia.example/v3/KEY

Bills (issue 17): after the factory, BillPayments(factory) is deployed. Its bill token (the ERC-20
besides ETH) is BILL_TOKEN_ADDRESS when set; otherwise, on a local chain only, a new TestUSD (a
worthless 6-decimal permit token the deployer mints); on a live network without BILL_TOKEN_ADDRESS
bills are in ETH only, and the script refuses to deploy a test token there (BILL_TOKEN_ADDRESS=TestUSD).
A saved deployment whose factory verifies but that lacks (working) bill contracts keeps its factory
and gains them.

On Sepolia ape waits for 2 confirmations per transaction (its default for the network), so a
deployment with a relayer grant takes a minute or so.

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
    REGISTRAR_ADDRESS   the factory's first registrar (REGISTRAR_ROLE: registers doctors), passed to
                        the constructor; also `--registrar`. Required on live networks; on a local
                        chain it defaults to the deployer. On an existing deployment, a registrar
                        that lacks the role is granted it by the admin.
    ADMIN_DELAY         seconds a new admin must wait between being proposed and accepting (and the
                        wait before a delay change takes effect); a number of seconds or a number
                        with a unit s/m/h/d (`172800`, `48h`, `2d`); also `--admin-delay`. Default 2d
                        on live networks, 0 on a local chain. Fixed at deployment: an existing
                        factory whose delay differs is reported, not redeployed (the admin changes
                        it with `changeDefaultAdminDelay`, which itself waits; or use --redeploy).
    RELAYER_ADDRESS     optional: the backend relayer's address (RELAYER_PRIVATE_KEY's account); it
                        is granted REGISTRAR_ROLE too, so the API can register doctors.
    BILL_TOKEN_ADDRESS  the ERC-20 bills may be paid in besides ETH; gasless payment needs EIP-2612
                        permit (on Sepolia e.g. the chain's USDC). Unset: TestUSD locally, none live.
    DEPLOYMENTS_DIR     optional: folder for `<chain-id>.json` (default: `deployments/` in the project).
    REDEPLOY=1          deploy anew even when the saved deployment verifies (same as `--redeploy`).

Re-running is idempotent. When `<chain-id>.json` exists, it is checked against the chain: code at
both addresses, `factory.implementation()` equal to the saved implementation, the deployed runtime
code equal to what the current build would deploy there (checked by simulating the creation with
`eth_call` state overrides; skipped with a warning if the node cannot), and REGISTRAR_ROLE held by
the saved registrar and by REGISTRAR_ADDRESS / RELAYER_ADDRESS (the constructor arguments, found
at the end of the saved creation transaction, are reused for the simulation). If all holds, it prints
"verified existing deployment" and sends no transaction. If only role grants are missing (for
example RELAYER_ADDRESS was set after the first deployment), it grants them on the existing factory
(the deployer account must hold DEFAULT_ADMIN_ROLE) and updates the file instead of redeploying. If
anything else fails (a fresh Anvil has no code at the saved addresses; the contracts changed), it
says why and deploys anew, overwriting the file.

The file's `registrar` field holds the constructor's registrar (REGISTRAR_ADDRESS, or the deployer on
a local chain); a relayer's grant is only in `tx_hashes` (the format has one registrar field). The
admin delay is not in the file: read it from the chain with `defaultAdminDelay()`.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import click
from ape.cli import ConnectedProviderCommand

FACTORY = "HealthRecordFactory"
IMPLEMENTATION = "HealthRecord"
TRUE_VALUES = {"1", "true", "yes", "on"}
DAY = 24 * 3600
PUBLIC_ADMIN_DELAY = 2 * DAY  # default on live networks
LOCAL_ADMIN_DELAY = 0  # default on local chains (tests, `make run`)
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": DAY}
_MAX_UINT48 = 2**48 - 1
_CONSTRUCTOR_ARGS_BYTES = 3 * 32  # (uint48 initialAdminDelay, address initialAdmin, address registrar)


def _say(message: str) -> None:
    click.echo(f"deploy: {message}")


def _env_address(name: str, value: str | None = None) -> str | None:
    """The address in environment variable `name` (or `value`, given under that name), checksummed."""
    from eth_utils import is_address, to_checksum_address

    value = (os.environ.get(name) if value is None else value) or ""
    value = value.strip()
    if not value:
        return None
    if not is_address(value):
        raise click.ClickException(f"{name}={value!r} is not an Ethereum address")
    return to_checksum_address(value)


def parse_delay(value: str) -> int:
    """Seconds from `172800`, `48h`, `2d`, `90m` or `30s`; a uint48 (the constructor's type)."""
    match = re.fullmatch(r"\s*(\d+)\s*([smhd]?)\s*", value.lower())
    if not match:
        raise click.ClickException(f"ADMIN_DELAY={value!r} is not a delay: give seconds or a number with s/m/h/d")
    seconds = int(match.group(1)) * _UNITS[match.group(2)]
    if seconds > _MAX_UINT48:
        raise click.ClickException(f"ADMIN_DELAY={value!r} is {seconds} s, more than a uint48 holds")
    return seconds


def _admin_delay(network: Any, option: str | None) -> int:
    """`--admin-delay`, else ADMIN_DELAY, else 2 days on live networks and 0 on local ones."""
    value = option if option is not None else (os.environ.get("ADMIN_DELAY") or "").strip()
    if value:
        return parse_delay(value)
    return LOCAL_ADMIN_DELAY if network.is_dev else PUBLIC_ADMIN_DELAY


def _registrar_setting(option: str | None) -> str | None:
    """`--registrar`, else REGISTRAR_ADDRESS (checksummed), else None."""
    return _env_address("REGISTRAR_ADDRESS", option)


def _wanted_registrars(registrar: str | None) -> list[str]:
    """The registrar then RELAYER_ADDRESS, each once, if set."""
    wanted: list[str] = []
    for address in (registrar, _env_address("RELAYER_ADDRESS")):
        if address is not None and address not in wanted:
            wanted.append(address)
    return wanted


def _bill_token_setting(network: Any) -> str | None:
    """BILL_TOKEN_ADDRESS (checksummed), None for "TestUSD" or unset; a test token is refused live."""
    value = (os.environ.get("BILL_TOKEN_ADDRESS") or "").strip()
    if value.lower() in ("testusd", "test"):
        if not network.is_dev:
            raise click.ClickException(
                f"refusing to deploy a test token on '{network.name}': set BILL_TOKEN_ADDRESS to a real "
                f"permit token (e.g. the chain's USDC), or leave it unset for bills in ETH only"
            )
        return None
    return _env_address("BILL_TOKEN_ADDRESS", value)


def _deploy_bills(network: Any, factory: str, token: str | None) -> dict[str, str | None]:
    """BillPayments(factory), and TestUSD on a local chain when no token is given: the file's bill fields."""
    from ape import project

    deployer = _deployer(network)
    payments = deployer.deploy(project.BillPayments, factory)
    _say(f"BillPayments at {payments.address} (factory {factory})")
    fields = {"bill_payments": payments.address, "bill_payments_tx": str(payments.txn_hash)}
    if token is None and network.is_dev:
        test_usd = deployer.deploy(project.TestUSD, deployer.address)
        _say(f"TestUSD at {test_usd.address} (6 decimals; the deployer {deployer.address} mints)")
        return {**fields, "bill_token": test_usd.address, "bill_token_tx": str(test_usd.txn_hash)}
    _say(f"bill token {token} (BILL_TOKEN_ADDRESS)" if token else "warning: no BILL_TOKEN_ADDRESS: bills in ETH only")
    return {**fields, "bill_token": token, "bill_token_tx": None}


def _bill_problems(w3: Any, saved: Any, token: str | None) -> list[str]:
    """Why the saved bill contracts cannot be kept (the factory being fine)."""
    from healthledger.chain.deployment import verify_bill_problems

    problems = verify_bill_problems(saved, w3)
    if not problems and token is not None and token != saved.bill_token:
        problems.append(f"its bill token is {saved.bill_token}, BILL_TOKEN_ADDRESS is {token}")
    return problems


def _describe_delay(seconds: int) -> str:
    if seconds < DAY:
        return f"{seconds} s"
    days = seconds / DAY
    return f"{seconds} s ({days:g} {'day' if days == 1 else 'days'})"


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
        # v2's constructor takes three static arguments, ABI-encoded after the creation code; they do
        # not change the runtime code, but the constructor reverts without valid ones.
        arguments = bytes(factory_tx["input"])[-_CONSTRUCTOR_ARGS_BYTES:]
        creation_code = bytes.fromhex(
            project.HealthRecordFactory.contract_type.deployment_bytecode.bytecode.removeprefix("0x")
        )
        empty = {"code": "0x", "nonce": 0}
        factory_runtime = w3.eth.call(
            {"from": saved.deployer, "data": "0x" + (creation_code + arguments).hex()},
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


def _check_saved(w3: Any, saved: Any, wanted: list[str], admin_delay: int) -> tuple[list[str], list[str]]:
    """(problems that need a new deployment, addresses that lack REGISTRAR_ROLE); warns when the
    factory's admin delay is not `admin_delay` (fixed at deployment, so not a reason to redeploy)."""
    from healthledger.chain.client import REGISTRAR_ROLE
    from healthledger.chain.deployment import verify_bill_problems, verify_problems

    bill_problems = verify_bill_problems(saved, w3, check_bytecode=False)
    problems = [p for p in verify_problems(saved, w3, check_bytecode=False) if p not in bill_problems]
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
    factory = _factory_contract(saved.factory)
    for address in wanted:
        if address not in missing and not factory.hasRole(REGISTRAR_ROLE, address):
            missing.append(address)
    try:
        actual_delay = int(factory.defaultAdminDelay())
    except Exception as exc:  # a v1 factory has no admin rules (reached only when bytecode was not compared)
        return [f"factory.defaultAdminDelay() failed ({type(exc).__name__}): not a v2 factory"], []
    if actual_delay != admin_delay:
        _say(
            f"warning: the factory's admin delay is {_describe_delay(actual_delay)}, the setting asks for "
            f"{_describe_delay(admin_delay)}; not changed (the admin calls changeDefaultAdminDelay, or use "
            f"--redeploy)"
        )
    return [], missing


def _factory_contract(address: str) -> Any:
    """The factory through the current build's ABI (v2's views, e.g. `defaultAdminDelay`)."""
    from ape import Contract, project

    return Contract(address, contract_type=project.HealthRecordFactory.contract_type)


def _grant(factory: Any, deployer: Any, addresses: list[str]) -> list[str]:
    """grantRole(REGISTRAR_ROLE, a) for each address; returns the transaction hashes."""
    from healthledger.chain.client import REGISTRAR_ROLE

    hashes = []
    for address in addresses:
        receipt = factory.grantRole(REGISTRAR_ROLE, address, sender=deployer)
        hashes.append(str(receipt.txn_hash))
        _say(f"granted REGISTRAR_ROLE to {address} (tx {receipt.txn_hash})")
    return hashes


def _deploy(network: Any, chain_id: int, registrar: str | None, admin_delay: int):
    from ape import chain, project
    from eth_utils import to_checksum_address
    from healthledger.chain.deployment import Deployment

    deployer = _deployer(network)
    registrar = registrar or deployer.address  # only reached on a local chain (checked in `cli`)
    _say(
        f"deploying {FACTORY} v2 (its constructor deploys {IMPLEMENTATION}) from {deployer.address}: "
        f"admin {deployer.address}, registrar {registrar}, admin delay {_describe_delay(admin_delay)}"
    )
    if registrar == deployer.address and not network.is_dev:
        _say("warning: the registrar is the admin account; production should keep them apart")
    factory = deployer.deploy(project.HealthRecordFactory, admin_delay, deployer.address, registrar)
    creation = chain.get_receipt(factory.txn_hash)
    implementation = to_checksum_address(factory.implementation())
    _say(f"{FACTORY} at {factory.address}, {IMPLEMENTATION} implementation at {implementation}")
    grant_to = [a for a in _wanted_registrars(registrar) if a != registrar]
    tx_hashes = [str(creation.txn_hash), *_grant(factory, deployer, grant_to)]
    return Deployment(
        chain_id=chain_id,
        factory=factory.address,
        implementation=implementation,
        deployer=deployer.address,
        registrar=registrar,
        block_number=creation.block_number,
        tx_hashes=tx_hashes,
        compiler_version=_compiler_version(FACTORY),
    )


def _grant_missing(network: Any, saved: Any, missing: list[str], registrar_setting: str | None):
    deployer = _deployer(network)
    factory = _factory_contract(saved.factory)
    admin_role = factory.DEFAULT_ADMIN_ROLE()
    if not factory.hasRole(admin_role, deployer.address):
        raise click.ClickException(
            f"{deployer.address} cannot grant REGISTRAR_ROLE on {saved.factory}: it does not hold "
            f"DEFAULT_ADMIN_ROLE (the factory was deployed by {saved.deployer}); use the admin account "
            f"or --redeploy"
        )
    hashes = _grant(factory, deployer, missing)
    # The file's registrar field names the registrar setting (a relayer's grant is only in tx_hashes).
    registrar = registrar_setting or saved.registrar
    return saved.model_copy(update={"tx_hashes": [*saved.tx_hashes, *hashes], "registrar": registrar})


@click.command(cls=ConnectedProviderCommand, short_help="Deploy the contracts; write deployments/<chain-id>.json")
@click.option(
    "--redeploy",
    is_flag=True,
    default=False,
    help="Deploy anew even if deployments/<chain-id>.json verifies against the chain (or REDEPLOY=1).",
)
@click.option(
    "--admin-delay",
    default=None,
    help="Admin transfer delay: seconds, or a number with s/m/h/d (or ADMIN_DELAY; default 2d live, 0 local).",
)
@click.option(
    "--registrar",
    default=None,
    help="The first registrar's address (or REGISTRAR_ADDRESS; required live, default the deployer locally).",
)
def cli(network, provider, redeploy, admin_delay, registrar):
    """Deploy HealthRecordFactory v2 (+ HealthRecord implementation) unless deployments/<chain-id>.json
    verifies against the chain, with the admin delay and registrar given; grant REGISTRAR_ROLE to
    RELAYER_ADDRESS.

    Then BillPayments(factory) and its token (BILL_TOKEN_ADDRESS, or TestUSD on a local chain).

    Environment: DEPLOYER_ALIAS and APE_ACCOUNTS_<alias>_PASSPHRASE (non-local networks),
    REGISTRAR_ADDRESS, ADMIN_DELAY, RELAYER_ADDRESS, BILL_TOKEN_ADDRESS, DEPLOYMENTS_DIR, REDEPLOY.
    Details: scripts/deploy.py.
    """
    from healthledger.chain.deployment import load, save

    redeploy = redeploy or (os.environ.get("REDEPLOY") or "").strip().lower() in TRUE_VALUES
    delay = _admin_delay(network, admin_delay)
    bill_token = _bill_token_setting(network)
    registrar = _registrar_setting(registrar)
    if registrar is None and not network.is_dev:
        raise click.ClickException(
            f"REGISTRAR_ADDRESS (or --registrar) is not set: on network '{network.name}' name the account "
            f"that registers doctors (keep it apart from the admin, the deployer)"
        )
    wanted = _wanted_registrars(registrar)
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
            problems, missing = _check_saved(w3, saved, wanted, delay)
            bill_problems = [] if problems else _bill_problems(w3, saved, bill_token)
            if not problems and bill_problems:
                _say(f"the factory verifies, its bill contracts do not: {'; '.join(bill_problems)}")
                if missing:
                    saved = _grant_missing(network, saved, missing, registrar)
                saved = saved.model_copy(update=_deploy_bills(network, saved.factory, bill_token))
                save(saved, path)
                _say(f"kept the existing factory; updated {shown}")
                return
            if not problems and not missing:
                _say(
                    f"verified existing deployment: factory {saved.factory}, implementation "
                    f"{saved.implementation} (block {saved.block_number}), BillPayments {saved.bill_payments}, "
                    f"bill token {saved.bill_token or 'none (ETH only)'}; nothing to do"
                )
                return
            if not problems:
                _say(f"existing deployment verifies, but REGISTRAR_ROLE is missing for {', '.join(missing)}")
                updated = _grant_missing(network, saved, missing, registrar)
                save(updated, path)
                _say(f"kept the existing deployment (no redeploy); updated {shown}")
                return
            _say(f"{shown} does NOT verify against the chain at {choice} (chain {chain_id}):")
            for problem in problems:
                click.echo(f"  - {problem}")
            _say("deploying anew")

    deployment = _deploy(network, chain_id, registrar, delay)
    deployment = deployment.model_copy(update=_deploy_bills(network, deployment.factory, bill_token))
    save(deployment, path)
    _say(f"wrote {shown}")
