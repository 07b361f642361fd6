"""The contracts the stack runs against: deployed (or reused) on the local chain, or checked on ETH_RPC_URL.

Why a module of its own: this is the launcher's only business with the chain beyond running Anvil.
Deploying goes through `chain/deployment.py` (`ensure_deployed_with_reasons`: the same code path
as operators and tests, with the reasons a saved deployment was replaced for the summary), and the
demo doctor is registered through `chain.deployment.register_doctor`, one call site below
(`register_demo_doctor`) so it can be repointed at a service operation should one fit a chain on
which the API is not running yet.
"""

from __future__ import annotations

from .anvil import DevAccount, dev_accounts
from .config import (
    DEPLOYER_INDEX,
    DOCTOR_INDEX,
    EXTERNAL_SERVICE_TIMEOUT_SECONDS,
    LOCAL_CHAIN_ID,
    PATIENT_INDEX,
    RELAYER_INDEX,
    StackConfig,
    StackError,
    redact_url,
)
from .summary import StackInfo

__all__ = ["DEMO_PATIENT_TUSD", "provision_local_chain", "use_external_chain"]

DEMO_PATIENT_TUSD = 10_000 * 10**6  # 10,000 TestUSD (6 decimals), minted once per deployment of TestUSD


def provision_local_chain(rpc_url: str, config: StackConfig, info: StackInfo) -> dict[str, str]:
    """Deploy (or reuse `.data/deployment.json`), register the demo doctor; the API's chain settings."""
    from ..chain import deployment as deployments

    accounts = dev_accounts()
    # The relayer also gets REGISTRAR_ROLE so the registrar's screen (POST /api/admin/doctors) works.
    # The deployer is the factory's admin (transfers wait ADMIN_DELAY_SECONDS, 0 by default here).
    # Bills: BillPayments(factory) and a TestUSD (Anvil is chain 31337); an older .data/deployment.json
    # keeps its factory and gains them.
    ensured = deployments.ensure_deployed_with_reasons(
        rpc_url, accounts[DEPLOYER_INDEX].private_key, config.files.deployment, accounts[RELAYER_INDEX].address,
        admin_delay_seconds=config.admin_delay_seconds,
    )
    deployment = ensured.deployment
    info.factory, info.implementation = deployment.factory, deployment.implementation
    info.bill_payments, info.bill_token = deployment.bill_payments, deployment.bill_token
    info.deployed_now, info.redeploy_reason = ensured.deployed_now, ensured.reasons
    info.doctor_registered_now = register_demo_doctor(rpc_url, info.factory, accounts)
    if ensured.deployed_now and deployment.bill_token_tx is not None:  # a new TestUSD: fund the demo patient
        try:
            deployments.mint_test_usd(
                rpc_url, deployment, accounts[PATIENT_INDEX].address, DEMO_PATIENT_TUSD,
                owner_private_key=accounts[DEPLOYER_INDEX].private_key, timeout=30,
            )
        except deployments.DeploymentError as exc:
            raise StackError(f"minting TestUSD for the demo patient failed ({exc})") from None
        info.tusd_minted_now = True
    info.chain_id = LOCAL_CHAIN_ID
    info.rpc_url = rpc_url
    info.local_chain = True
    return {
        "ETH_RPC_URL": rpc_url,
        "FACTORY_ADDRESS": str(info.factory),
        "BILL_PAYMENTS_ADDRESS": deployment.bill_payments or "",
        "BILL_TOKEN_ADDRESS": deployment.bill_token or "",
        "CHAIN_ID": str(LOCAL_CHAIN_ID),
        "RELAYER_PRIVATE_KEY": accounts[RELAYER_INDEX].private_key,
        "CHAIN_NAME": "HealthLedger local (Anvil)",
        "WALLET_RPC_URL": rpc_url,
    }


def register_demo_doctor(rpc_url: str, factory: str, accounts: tuple[DevAccount, ...]) -> bool:
    """Make dev account #1 a doctor (the deployer registers it); True when it was registered now."""
    from ..chain import deployment as deployments

    try:
        tx_hash = deployments.register_doctor(
            rpc_url, accounts[DEPLOYER_INDEX].private_key, factory, accounts[DOCTOR_INDEX].address, timeout=30
        )
    except deployments.DeploymentError as exc:
        raise StackError(f"registering the demo doctor failed ({exc})") from None
    return tx_hash is not None


def use_external_chain(config: StackConfig, info: StackInfo) -> dict[str, str]:
    """Check ETH_RPC_URL + FACTORY_ADDRESS (it answers, the chain id fits, a factory is there)."""
    from eth_utils import is_address, to_checksum_address
    from web3 import Web3

    from ..chain.artifacts import health_record_factory

    rpc_url, factory = str(config.setting("ETH_RPC_URL")), str(config.setting("FACTORY_ADDRESS"))
    shown = redact_url(rpc_url)
    if not is_address(factory):
        raise StackError(f"FACTORY_ADDRESS={factory!r} is not an Ethereum address")
    factory = to_checksum_address(factory)
    w3 = Web3(Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": EXTERNAL_SERVICE_TIMEOUT_SECONDS}))
    try:
        chain_id = w3.eth.chain_id
        code = bytes(w3.eth.get_code(factory))
    except Exception as exc:  # the message may quote the full URL, API key included: name the type only
        raise StackError(f"the chain at ETH_RPC_URL ({shown}) does not answer ({type(exc).__name__})") from None
    expected = config.setting("CHAIN_ID")
    if expected and expected != str(chain_id):
        raise StackError(f"ETH_RPC_URL ({shown}) serves chain {chain_id}, but CHAIN_ID is {expected}")
    if not code:
        raise StackError(f"no contract at FACTORY_ADDRESS {factory} on chain {chain_id} ({shown})")
    contract = w3.eth.contract(address=factory, abi=health_record_factory().abi)
    try:
        info.implementation = contract.functions.implementation().call()
    except Exception:
        raise StackError(f"FACTORY_ADDRESS {factory} on chain {chain_id} is not a HealthRecordFactory") from None
    info.chain_id, info.rpc_url, info.local_chain = chain_id, shown, False
    info.factory = factory
    bills = {
        name: _external_bill_address(config, name, w3, chain_id)
        for name in ("BILL_PAYMENTS_ADDRESS", "BILL_TOKEN_ADDRESS")
    }
    info.bill_payments = bills["BILL_PAYMENTS_ADDRESS"] or None
    info.bill_token = bills["BILL_TOKEN_ADDRESS"] or None
    return {
        **bills,
        "ETH_RPC_URL": rpc_url,
        "FACTORY_ADDRESS": factory,
        "CHAIN_ID": str(chain_id),
        "RELAYER_PRIVATE_KEY": str(config.setting("RELAYER_PRIVATE_KEY")),
    }


def _external_bill_address(config: StackConfig, name: str, w3: object, chain_id: int) -> str:
    """BILL_PAYMENTS_ADDRESS / BILL_TOKEN_ADDRESS on an external chain: "" when unset (bills disabled,
    or ETH only), else a checksummed address that has code there."""
    from eth_utils import is_address, to_checksum_address

    value = config.setting(name)
    if value is None:
        return ""
    if not is_address(value):
        raise StackError(f"{name}={value!r} is not an Ethereum address")
    address = to_checksum_address(value)
    try:
        code = bytes(w3.eth.get_code(address))  # type: ignore[attr-defined]
    except Exception as exc:
        raise StackError(f"reading the code at {name} failed ({type(exc).__name__})") from None
    if not code:
        raise StackError(f"no contract at {name} {address} on chain {chain_id}")
    return address
