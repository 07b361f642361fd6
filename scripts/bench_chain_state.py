"""What saving `make run`'s chain after every block costs (devstack/chainstate.py), as the chain grows.

Run with the project venv: `python scripts/bench_chain_state.py [--records 50 --records 500]`. It starts
its own Anvil in a temporary directory, deploys the contracts, then adds signed records through the
relayer (each new patient's first record also creates its vault: 2 transactions), and at
each size measures, median of `--repeat` runs:

- save: one `save_chain` as the saver does it per block (head RPC, marker write, `anvil_dumpState`,
  gunzip, atomic write with fsync of file and directory);
- dump: the `anvil_dumpState` RPC and gunzip alone; write: `write_atomic` of the state alone;
- parse: the JSON check of the state file at start (`prepare_state_dir`);
and the state file's size. Prints a table and the JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "backend"))

from healthledger.devstack.anvil import AnvilNode, dev_accounts  # noqa: E402
from healthledger.devstack.chainstate import ChainFiles, chain_head, prepare_state_dir, save_chain, write_atomic  # noqa: E402

RECORDS_PER_PATIENT = 4
SIGNATURE_TTL_SECONDS = 3600


def _median_ms(step: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        step()
        times.append((time.perf_counter() - began) * 1000)
    return round(statistics.median(times), 2)


def measure_point(node: AnvilNode, files: ChainFiles, label: str, repeat: int) -> dict[str, object]:
    """The costs at the chain's current size."""
    save_ms = _median_ms(lambda: save_chain(node.rpc_url, files), repeat)
    state = node.dump_state()
    dump_ms = _median_ms(node.dump_state, repeat)
    write_ms = _median_ms(lambda: write_atomic(files.state, state), repeat)
    parse_ms = _median_ms(lambda: prepare_state_dir(files, print), repeat)
    return {
        "point": label,
        "block": chain_head(node.rpc_url).number,
        "transactions": len(json.loads(state)["transactions"]),
        "state_bytes": files.state.stat().st_size,
        "save_ms": save_ms,
        "dump_ms": dump_ms,
        "write_ms": write_ms,
        "parse_at_start_ms": parse_ms,
    }


async def add_records(rpc_url: str, factory: str, count: int, first_patient: int) -> None:
    """`count` signed records, RECORDS_PER_PATIENT per fresh patient, relayed by dev account #9."""
    from eth_account import Account

    from healthledger.chain import typed_data
    from healthledger.chain.client import ChainClient
    from healthledger.chain.relayer import Relayer

    client = ChainClient(rpc_url, factory, timeout_seconds=30.0)
    relayer = Relayer(client, dev_accounts()[9].private_key)
    chain_id = await client.chain_id()
    try:
        for i in range(count):
            patient = Account.from_key((first_patient + i // RECORDS_PER_PATIENT + 1).to_bytes(32, "big"))
            await relayer.ensure_vault(patient.address)
            nonce = await client.nonce_of(patient.address, patient.address)
            deadline = await client.latest_timestamp() + SIGNATURE_TTL_SECONDS
            content_hash = (first_patient + i + 1).to_bytes(32, "big")
            payload = typed_data.build_payload(
                "addRecord",
                chain_id,
                await client.vault_address(patient.address),
                {"kind": "report", "contentHash": content_hash, "nonce": nonce, "deadline": deadline},
            )
            signature = bytes(Account.sign_typed_data(patient.key, full_message=dict(payload)).signature)
            await relayer.relay_signed("addRecord", patient.address, payload["message"], signature)
    finally:
        await client.aclose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, action="append", help="records to add before each next point")
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    steps = args.records or [50]

    from web3 import Web3

    from healthledger.chain.deployment import deploy

    points = []
    with tempfile.TemporaryDirectory() as tmp:
        files = ChainFiles.in_dir(Path(tmp) / "anvil")
        with AnvilNode(load_state_path=files.state, log_path=Path(tmp) / "anvil.log") as node:
            accounts = dev_accounts()
            w3 = Web3(Web3.HTTPProvider(node.rpc_url, request_kwargs={"timeout": 30}))
            deployment = deploy(w3, accounts[0].private_key, registrar=accounts[9].address)
            points.append(measure_point(node, files, "after deploy", args.repeat))
            added = 0
            for count in steps:
                asyncio.run(add_records(node.rpc_url, deployment.factory, count, added))
                added += count
                points.append(measure_point(node, files, f"after {added} records", args.repeat))

    header = f"{'point':<20} {'block':>6} {'txs':>5} {'state KB':>9} {'save ms':>8} {'dump ms':>8} {'write ms':>9} {'parse ms':>9}"
    print(header)
    for p in points:
        print(
            f"{p['point']:<20} {p['block']:>6} {p['transactions']:>5} {p['state_bytes'] / 1024:>9.0f} "
            f"{p['save_ms']:>8} {p['dump_ms']:>8} {p['write_ms']:>9} {p['parse_at_start_ms']:>9}"
        )
    print(json.dumps(points, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
