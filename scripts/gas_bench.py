"""Gas benchmark for HealthRecordFactory / HealthRecord / BillPayments on a fresh local Anvil (through ape-foundry).

Run with the project venv: `python scripts/gas_bench.py` (or `make bench`). It starts its own Anvil
(`ethereum:local:foundry`, random port), deploys everything from ape's compiled artifacts and reads
the gas of every step from its receipt (`getApprovedRecords` is a view: eth_estimateGas, which
includes the 21,000 base cost of a transaction).

Prints a table and the JSON, writes the JSON to `.cache/bench/gas.json`, and exits with status 1 when a
target is missed (2 when the benchmark itself cannot run).

Every "approveAccess k" row is a first approval for a fresh doctor (new grant slot and new bitmap
word: the expensive case) over record ids 0..k-1; ids below 256 share one bitmap word. Every
"approveRecords k" row answers a fresh doctor's pending request (the product's flow) with a bitmap
selecting records 0..k-1 in one word: its cost must not grow with k.
"""

from __future__ import annotations

import os
import sys

from bench_support import ROOT, print_result, save_and_check

OUT = ROOT / ".cache" / "bench" / "gas.json"

# Gas ceilings the contracts must stay under.
TARGETS = {
    "createVault": 75_000,
    "addRecord (10th)": 78_000,
    "requestAccess": 55_000,
    "approveRecords k=1 (pending request)": 60_000,
    "approveRecords k=20 (pending request)": 60_000,
    "approveRecords k=200 (pending request)": 60_000,
    "approveRecords k=256 (pending request)": 60_000,
    "addRecordAsDoctor (10th)": 90_000,
    "addRecordAsDoctorBySig": 120_000,
    "approveAccess k=20": 120_000,
    "approveAccess k=200": 200_000,
    "issueBill": 80_000,
    "payBill (ETH)": 60_000,
    "payBillWithPermit (relayed)": 110_000,
}
APPROVE_KS = (1, 5, 20, 200)
BITMAP_KS = (1, 20, 200, 256)
DAY = 24 * 3600


def _prepare_environment() -> None:
    """ape-foundry finds `anvil` on PATH and ape reads the project from the working directory."""
    os.chdir(ROOT)
    path = os.environ.get("PATH", "")
    extra = [str(ROOT / "bin"), str(ROOT / ".venv" / "bin")]
    os.environ["PATH"] = os.pathsep.join([*extra, path])
    os.environ.setdefault("APE_DATA_FOLDER", str(ROOT / ".cache" / "ape"))


def _content_hash(i: int) -> bytes:
    return (i + 1).to_bytes(32, "big")


def measure() -> dict:
    import ape
    from eth_account import Account

    project = ape.project
    chain = ape.chain
    accounts = ape.accounts.test_accounts
    deployer, patient, relayer = accounts[0], accounts[1], accounts[2]
    doctors = {k: accounts[3 + i] for i, k in enumerate(APPROVE_KS)}
    spare_doctor = accounts[3 + len(APPROVE_KS)]
    writer = accounts[4 + len(APPROVE_KS)]
    bitmap_doctors = {k: ape.accounts.test_accounts.generate_test_account() for k in BITMAP_KS}

    gas: dict[str, int] = {}

    def used(receipt) -> int:
        if receipt.failed:
            raise RuntimeError(f"transaction {receipt.txn_hash} failed")
        return int(receipt.gas_used)

    factory = deployer.deploy(project.HealthRecordFactory, 0, deployer, deployer)
    gas["factory deploy"] = used(chain.get_receipt(factory.txn_hash))

    gas["createVault"] = used(factory.createVault(patient, sender=relayer))
    record = project.HealthRecord.at(factory.predictVaultAddress(patient))

    for doctor in (*doctors.values(), *bitmap_doctors.values(), spare_doctor, writer):
        factory.registerDoctor(doctor, sender=deployer)
    for doctor in bitmap_doctors.values():  # generated accounts start empty
        deployer.transfer(doctor, 10**18)

    receipts = [record.addRecord(i % 3, _content_hash(i), sender=patient) for i in range(10)]
    gas["addRecord (1st)"] = used(receipts[0])
    gas["addRecord (10th)"] = used(receipts[9])

    # addRecordBySig: the patient signs, the relayer submits.
    patient_key = _dev_key(1)
    assert Account.from_key(patient_key).address == patient.address
    nonce = record.nonces(patient)
    deadline = chain.pending_timestamp + 3600
    content = _content_hash(10)
    payload = _typed_data(
        "AddRecord",
        [("kind", "uint8"), ("contentHash", "bytes32"), ("nonce", "uint256"), ("deadline", "uint256")],
        {"kind": 2, "contentHash": content, "nonce": nonce, "deadline": deadline},
        chain.chain_id,
        record.address,
    )
    signature = bytes(Account.sign_typed_data(patient_key, full_message=payload).signature)
    gas["addRecordBySig"] = used(record.addRecordBySig(2, content, nonce, deadline, signature, sender=relayer))

    # Fill up to 200 records (cheapest direct path; not measured).
    for i in range(int(record.recordCount()), max(*APPROVE_KS, *BITMAP_KS)):
        record.addReport(_content_hash(i), sender=patient)
    assert record.recordCount() >= max(APPROVE_KS)

    gas["requestAccess"] = used(record.requestAccess(sender=spare_doctor))

    for k, doctor in doctors.items():
        receipt = record.approveAccess(doctor, 30 * DAY, list(range(k)), sender=patient)
        gas[f"approveAccess k={k}"] = used(receipt)
        assert record.canRead(doctor, k - 1) and not record.canRead(doctor, k)

    # Replacing an existing grant (grant slot already non-zero, new generation's word is fresh).
    gas["approveAccess k=20 (replacing a grant)"] = used(
        record.approveAccess(doctors[20], 30 * DAY, list(range(20)), sender=patient)
    )

    estimate = record.getApprovedRecords.estimate_gas_cost(doctors[20], sender=relayer)
    gas["getApprovedRecords k=20 (estimateGas)"] = int(estimate)
    ids, _hashes, _expires = record.getApprovedRecords(doctors[20])
    assert list(ids) == list(range(20))

    gas["revokeAccess"] = used(record.revokeAccess(doctors[5], sender=patient))

    for k, doctor in bitmap_doctors.items():
        record.requestAccess(sender=doctor)
        receipt = record.approveRecords(doctor, 30 * DAY, 0, [(1 << k) - 1], sender=patient)
        gas[f"approveRecords k={k} (pending request)"] = used(receipt)
        assert record.canRead(doctor, k - 1) and not record.canRead(doctor, k)

    # A doctor writing under a write grant: the tenth of their records, then one through a signature.
    gas["approveWrite"] = used(record.approveWrite(writer, 30 * DAY, sender=patient))
    writes = [record.addRecordAsDoctor(i % 3, _content_hash(1000 + i), sender=writer) for i in range(10)]
    gas["addRecordAsDoctor (10th)"] = used(writes[9])
    writer_key = _dev_key(4 + len(APPROVE_KS))
    assert Account.from_key(writer_key).address == writer.address
    nonce = record.nonces(writer)
    content = _content_hash(2000)
    payload = _typed_data(
        "AddRecordAsDoctor",
        [("doctor", "address"), ("kind", "uint8"), ("contentHash", "bytes32"),
         ("nonce", "uint256"), ("deadline", "uint256")],
        {"doctor": writer.address, "kind": 0, "contentHash": content, "nonce": nonce, "deadline": deadline},
        chain.chain_id,
        record.address,
    )
    signature = bytes(Account.sign_typed_data(writer_key, full_message=payload).signature)
    gas["addRecordAsDoctorBySig"] = used(
        record.addRecordAsDoctorBySig(writer, 0, content, nonce, deadline, signature, sender=relayer)
    )
    gas.update(_measure_bills(project, chain, factory, deployer, patient, relayer, writer, writer_key, used))
    gas["revokeWrite"] = used(record.revokeWrite(writer, sender=patient))
    gas["invalidateNonce"] = used(record.invalidateNonce(sender=patient))
    return gas


def _measure_bills(project, chain, factory, deployer, patient, relayer, writer, writer_key, used) -> dict[str, int]:
    """BillPayments: `writer` (live write grant in the patient's vault) bills the patient, who pays.

    The targeted rows are the steady state: not the very first bill of the deployment (bill counter
    0 -> 1) and, for the permit, not the patient's first permit nor the payee's first tokens (fresh
    storage slots in the token); those first-time costs are reported as separate, untargeted rows.
    """
    from eth_account import Account

    gas: dict[str, int] = {}
    billing = deployer.deploy(project.BillPayments, factory)
    gas["BillPayments deploy"] = used(chain.get_receipt(billing.txn_hash))
    usd = deployer.deploy(project.TestUSD, deployer)
    usd.mint(patient, 10**12, sender=deployer)
    patient_key = _dev_key(1)
    zero = "0x" + "00" * 20

    def issue(token, amount) -> tuple[tuple, int, object]:
        """Issue a bill; return its terms (from `BillIssued`: later calls pass them back), id and receipt."""
        receipt = billing.issueBill(patient, writer, token, amount, chain.pending_timestamp + 30 * DAY, 3, sender=writer)
        event = next(iter(billing.BillIssued.from_receipt(receipt)))
        terms = tuple(event[name] for name in (
            "patient", "payee", "issuer", "token", "amount", "dueDate", "recordId", "nonce"))
        return terms, int(event["billId"]), receipt

    *_, first = issue(zero, 10**17)
    gas["issueBill (first bill of the deployment)"] = used(first)
    eth_bill, _, receipt = issue(zero, 10**17)
    gas["issueBill"] = used(receipt)
    gas["payBill (ETH)"] = used(billing.payBill(eth_bill, sender=patient, value=10**17))

    # The issuer's gasless variants, relayed (a steady-state bill: not the deployment's first).
    deadline = chain.pending_timestamp + 3600
    due = chain.pending_timestamp + 30 * DAY
    issue_message = {"patient": patient.address, "payee": writer.address, "token": zero, "amount": 10**17,
                     "dueDate": due, "recordId": 3, "issuer": writer.address, "nonce": billing.nonces(writer),
                     "deadline": deadline}
    issue_payload = _typed_data(
        "IssueBill",
        [("patient", "address"), ("payee", "address"), ("token", "address"), ("amount", "uint256"),
         ("dueDate", "uint256"), ("recordId", "uint256"), ("issuer", "address"), ("nonce", "uint256"),
         ("deadline", "uint256")],
        issue_message, chain.chain_id, billing.address, name="BillPayments",
    )
    signature = bytes(Account.sign_typed_data(writer_key, full_message=issue_payload).signature)
    receipt = billing.issueBillBySig(*issue_message.values(), signature, sender=relayer)
    gas["issueBillBySig (relayed)"] = used(receipt)
    event = next(iter(billing.BillIssued.from_receipt(receipt)))
    relayed_bill = tuple(event[name] for name in (
        "patient", "payee", "issuer", "token", "amount", "dueDate", "recordId", "nonce"))
    cancel_payload = _typed_data(
        "CancelBill",
        [("billId", "uint256"), ("issuer", "address"), ("nonce", "uint256"), ("deadline", "uint256")],
        {"billId": int(event["billId"]), "issuer": writer.address, "nonce": billing.nonces(writer),
         "deadline": deadline},
        chain.chain_id, billing.address, name="BillPayments",
    )
    signature = bytes(Account.sign_typed_data(writer_key, full_message=cancel_payload).signature)
    gas["cancelBillBySig (relayed)"] = used(
        billing.cancelBillBySig(relayed_bill, billing.nonces(writer), deadline, signature, sender=relayer))

    def pay_with_permit(amount: int):
        terms, bill_id, _ = issue(usd.address, amount)
        deadline = chain.pending_timestamp + 3600
        permit = {
            "types": {
                "EIP712Domain": _DOMAIN_FIELDS,
                "Permit": [{"name": n, "type": t} for n, t in (
                    ("owner", "address"), ("spender", "address"), ("value", "uint256"),
                    ("nonce", "uint256"), ("deadline", "uint256"))],
            },
            "primaryType": "Permit",
            "domain": {"name": "Test USD", "version": "1", "chainId": chain.chain_id, "verifyingContract": usd.address},
            "message": {"owner": patient.address, "spender": billing.address, "value": amount,
                        "nonce": usd.nonces(patient), "deadline": deadline},
        }
        signed = Account.sign_typed_data(patient_key, full_message=permit)
        consent = _typed_data(
            "PayBill",
            [("billId", "uint256"), ("amount", "uint256"), ("nonce", "uint256"), ("deadline", "uint256")],
            {"billId": bill_id, "amount": amount, "nonce": billing.nonces(patient), "deadline": deadline},
            chain.chain_id,
            billing.address,
            name="BillPayments",
        )
        signature = bytes(Account.sign_typed_data(patient_key, full_message=consent).signature)
        return billing.payBillWithPermit(
            terms, amount, deadline, signed.v, signed.r.to_bytes(32, "big"), signed.s.to_bytes(32, "big"),
            patient, signature, sender=relayer,
        )

    gas["payBillWithPermit (relayed, first ever)"] = used(pay_with_permit(25 * 10**6))
    gas["payBillWithPermit (relayed)"] = used(pay_with_permit(40 * 10**6))
    assert usd.balanceOf(writer) == 65 * 10**6 and usd.balanceOf(billing) == 0 and billing.balance == 0
    return gas


_DOMAIN_FIELDS = [
    {"name": "name", "type": "string"},
    {"name": "version", "type": "string"},
    {"name": "chainId", "type": "uint256"},
    {"name": "verifyingContract", "type": "address"},
]


def _dev_key(index: int) -> bytes:
    from eth_account import Account

    Account.enable_unaudited_hdwallet_features()
    mnemonic = "test test test test test test test test test test test junk"
    return bytes(Account.from_mnemonic(mnemonic, account_path=f"m/44'/60'/0'/0/{index}").key)


def _typed_data(
    primary: str,
    fields: list[tuple[str, str]],
    message: dict,
    chain_id: int,
    contract: str,
    name: str = "HealthRecord",
) -> dict:
    return {
        "types": {
            "EIP712Domain": _DOMAIN_FIELDS,
            primary: [{"name": n, "type": t} for n, t in fields],
        },
        "primaryType": primary,
        "domain": {"name": name, "version": "1", "chainId": chain_id, "verifyingContract": contract},
        "message": message,
    }


def report(gas: dict[str, int], meta: dict) -> dict:
    targets = {
        name: {"limit": limit, "gas": gas.get(name), "ok": gas.get(name) is not None and gas[name] <= limit}
        for name, limit in TARGETS.items()
    }
    return {"gas": gas, "targets": targets, "ok": all(t["ok"] for t in targets.values()), **meta}


def print_table(result: dict) -> None:
    width = max(len(name) for name in result["gas"])
    print(f"{'operation':<{width}}  {'gas':>9}  {'target':>9}  status")
    print(f"{'-' * width}  {'-' * 9}  {'-' * 9}  ------")
    for name, value in result["gas"].items():
        target = result["targets"].get(name)
        limit = f"{target['limit']:>9,}" if target else " " * 9
        status = ("ok" if target["ok"] else "FAIL") if target else ""
        print(f"{name:<{width}}  {value:>9,}  {limit}  {status}")


def main() -> int:
    _prepare_environment()
    try:
        import ape
        from ape.logging import logger

        logger.set_level("WARNING")  # no per-transaction "Confirmed ..." lines
        with ape.networks.parse_network_choice("ethereum:local:foundry") as provider:
            gas = measure()
            meta = {
                "network": "ethereum:local:foundry",
                "chain_id": ape.chain.chain_id,
                "client": str(provider.make_request("web3_clientVersion", [])),
                "hardfork": provider.make_request("anvil_nodeInfo", []).get("hardFork"),
                "solc": _solc_settings(),
            }
    except Exception as exc:  # noqa: BLE001 - any failure here means no figures
        print(f"gas benchmark could not run: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2

    result = report(gas, meta)
    print_table(result)
    return save_and_check(print_result(result), OUT, result, "gas targets missed")


def _solc_settings() -> dict:
    try:
        import yaml

        config = yaml.safe_load((ROOT / "ape-config.yaml").read_text())
        solidity = config.get("solidity", {})
        keys = ("version", "evm_version", "optimize", "optimization_runs", "via_ir")
        return {k: solidity[k] for k in keys if k in solidity}
    except Exception:  # noqa: BLE001 - informational only
        return {}


if __name__ == "__main__":
    sys.exit(main())
