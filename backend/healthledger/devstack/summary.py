"""What the launcher prints once everything answers: URLs, contracts, demo accounts, MetaMask steps.

Why a module of its own: the summary is the launcher's user interface (and what `make run`'s tests
and the browser tests read: "HealthLedger is running: URL", the factory's origin, the accounts), so
its wording lives in one place, apart from the code that starts things. `StackInfo` is what the
other parts fill in for it.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Any

from ..api.http_protocol import UVICORN_HTTP
from ..serving import APP_FACTORY
from .anvil import dev_accounts
from .chainstate import ChainLoss
from .config import DEPLOYER_INDEX, DOCTOR_INDEX, PATIENT_INDEX, RELAYER_INDEX, StackConfig
from .procfs import stat_fields

__all__ = ["StackInfo", "seconds_since_process_start", "summary"]


@dataclass
class StackInfo:
    """What is running, for the summary (and tests)."""

    url: str | None = None
    status: dict[str, Any] | None = None
    chain_id: int | None = None
    rpc_url: str | None = None
    local_chain: bool = True
    factory: str | None = None
    implementation: str | None = None
    bill_payments: str | None = None
    bill_token: str | None = None
    tusd_minted_now: bool = False  # 10,000 TestUSD minted to the demo patient in this run
    deployed_now: bool = False
    redeploy_reason: list[str] = field(default_factory=list)
    lost_blocks: ChainLoss | None = None
    doctor_registered_now: bool = False
    ipfs_api_url: str | None = None
    ipfs_external: bool = False
    mongodb_uri: str | None = None
    mongodb_external: bool = False
    timings: dict[str, float] = field(default_factory=dict)
    api_env: dict[str, str] = field(default_factory=dict)
    api_instances: int = 1


def seconds_since_process_start() -> float | None:
    """How long this process has existed (so the start-up time includes Python's own start and imports)."""
    try:
        start_ticks = int(stat_fields("self")[19])
        return time.clock_gettime(time.CLOCK_BOOTTIME) - start_ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, AttributeError):
        return None


def summary(config: StackConfig, info: StackInfo) -> str:
    t = info.timings
    steps = [f"{name} {t[name]:.1f} s" for name in ("chain", "mongodb") if name in t]
    if "ipfs" in t:
        steps.append(f"ipfs {t['ipfs']:.1f} s (alongside those)")
    if "api" in t:
        steps.append(f"then api {t['api']:.1f} s")
    parts = ", ".join(steps)
    lines = [""]
    if config.start_api:
        state = (info.status or {}).get("status", "?")
        lines.append(f"HealthLedger is running: {info.url}   (started in {t['total']:.1f} s: {parts})")
        lines.append(f"  API instances   {info.api_instances} (processes behind {info.url}; set API_INSTANCES)")
        lines.append(f"  API status      {info.url}/api/system/status ({state})")
        down = [
            name
            for name, dep in ((info.status or {}).get("dependencies") or {}).items()
            if isinstance(dep, dict) and dep.get("state") != "ok"
        ]
        if down:
            lines.append(f"  warning: not ok: {', '.join(down)} (see the status URL)")
    else:
        lines.append(f"HealthLedger services are running, API not started   (started in {t['total']:.1f} s: {parts})")
        lines.append(f"  API settings    {config.short(config.files.api_env)} (mode 0600). Run the API yourself, e.g.:")
        lines.append(
            f"    set -a; . {config.short(config.files.api_env)}; set +a; "
            f"uvicorn --factory {APP_FACTORY} --http {UVICORN_HTTP} --reload --port {config.port}"
        )
    lines.append(f"  Data            {config.short(config.data_dir)} (logs in {config.short(config.files.logs)}/)")
    lines.append("")
    if info.local_chain:
        lines.append(f"Chain             local Anvil, chain id {info.chain_id}, RPC {info.rpc_url}")
        if info.lost_blocks is not None:
            lost = info.lost_blocks
            which = "was replaced" if lost.replaced else f"lost {lost.blocks}"
            lines.append(f"  warning: the chain {which} since the last run (see the warning above)")
    else:
        lines.append(f"Chain             ETH_RPC_URL ({info.rpc_url}), chain id {info.chain_id}")
    if info.deployed_now:
        origin = "deployed now"
        if info.redeploy_reason:
            origin += " (the recorded deployment did not match the chain: " + "; ".join(info.redeploy_reason) + ")"
    elif info.local_chain:
        origin = f"reused from {config.short(config.files.deployment)}"
    else:
        origin = "FACTORY_ADDRESS"
    lines.append(f"  Factory         {info.factory}   ({origin})")
    lines.append(f"  Implementation  {info.implementation}")
    bills_off = "(not set: bills disabled; set BILL_PAYMENTS_ADDRESS)"
    lines.append(f"  BillPayments    {info.bill_payments or bills_off}")
    if info.bill_token:
        token = "TestUSD, 6 decimals" if info.local_chain else "BILL_TOKEN_ADDRESS"
        lines.append(f"  Bill token      {info.bill_token}   ({token})")
    ipfs_origin = "IPFS_API_URL" if info.ipfs_external else f"js-ipfs, repo {config.short(config.data_dir / 'ipfs')}"
    mongo_origin = "MONGODB_URI" if info.mongodb_external else f"SecantusDB, {config.short(config.data_dir / 'mongo')}"
    lines.append(f"IPFS              {info.ipfs_api_url}   ({ipfs_origin})")
    lines.append(f"MongoDB           {info.mongodb_uri}   ({mongo_origin})")
    if info.local_chain:
        accounts = dev_accounts()

        def account(index: int, role: str, with_key: bool = True) -> str:
            acct = accounts[index]
            return f"  #{index} {role:<28} {acct.address}  " + (f"key {acct.private_key}" if with_key else "(the API's)")

        lines += [
            "",
            "Demo accounts: Anvil's dev keys. LOCAL ONLY: these keys are public, never use them on a real network.",
            account(DEPLOYER_INDEX, "deployer, registrar"),
            account(DOCTOR_INDEX, "demo doctor (" + ("registered now" if info.doctor_registered_now else "registered") + ")"),
            account(PATIENT_INDEX, "demo patient" + (", holds TestUSD" if info.bill_token else "")),
            account(RELAYER_INDEX, "relayer (pays the gas)", with_key=False),
            "  MetaMask: account menu > Add account or hardware wallet > Import account, paste a key.",
            "",
            "Add the local chain to MetaMask (Settings > Networks > Add a network manually):",
            "  Network name      HealthLedger Local (Anvil)",
            f"  RPC URL           {info.rpc_url}",
            f"  Chain ID          {info.chain_id}",
            "  Currency symbol   ETH",
            f"  (after deleting {config.short(config.data_dir)}, clear MetaMask's activity data: Settings > Advanced)",
        ]
        if info.bill_token:
            lines += [
                "",
                "See the demo patient's TestUSD in MetaMask (Tokens > Import tokens > Custom token):",
                f"  Token contract    {info.bill_token}",
                "  Symbol, decimals  filled in by MetaMask (Test USD, 6 decimals)"
                + ("   (10,000 minted to the demo patient now)" if info.tusd_minted_now else ""),
            ]
    lines += ["", "Press Ctrl-C to stop."]
    return "\n".join(lines)

