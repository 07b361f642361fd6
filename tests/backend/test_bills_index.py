"""Bills issued outside the API (issueBill from the doctor's own wallet), against the real Anvil,
js-ipfs and SecantusDB: the lists find them with their catch-up log scan (never past head -
CONFIRMATIONS), `POST /api/bills/index` indexes them by transaction, and their audit events carry
the token's symbol and decimals."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from web3 import HTTPProvider, Web3

from healthledger.chain.artifacts import bill_payments
from healthledger.chain.bills import ETH
from healthledger.chain.deployment import Deployment
from healthledger.devstack.anvil import AnvilNode

from .support import access
from .support.responses import expect_error, expect_ok
from .support.wallet import Wallet
from .test_bills_api import DAY, _bill_record, _fund

DUE = 4_000_000_000


def _issue_directly(rpc_url: str, deployment: Deployment, issuer: Wallet, patient: str, record_id: int,
                    amount: int, *, gas: int | None = None) -> str:
    """`issueBill` sent from the issuer's own wallet (no API involved); the tx hash (the receipt may be a revert)."""
    w3 = Web3(HTTPProvider(rpc_url))
    contract = w3.eth.contract(address=deployment.bill_payments, abi=bill_payments().abi)
    call = contract.functions.issueBill(patient, issuer.address, ETH, amount, DUE, record_id)
    fields: dict[str, Any] = {"from": issuer.address, "nonce": w3.eth.get_transaction_count(issuer.address),
                              "chainId": w3.eth.chain_id, "maxFeePerGas": 2 * w3.eth.gas_price + 10**9,
                              "maxPriorityFeePerGas": 10**9, "gas": gas or 300_000}
    signed = issuer.account.sign_transaction(call.build_transaction(fields))
    tx_hash = w3.eth.send_raw_transaction(signed.raw_transaction)
    w3.eth.wait_for_transaction_receipt(tx_hash, timeout=30)
    return "0x" + bytes(tx_hash).hex()


def _ids(client: httpx.Client, wallet: Wallet, role: str) -> tuple[list[str], bool]:
    body = expect_ok(client.get(f"/api/bills?role={role}", headers=wallet.headers))
    return [b["billId"] for b in body["bills"]], body["partial"]


@pytest.mark.asyncio
async def test_a_bill_issued_from_the_doctors_wallet_is_listed_and_indexed_by_transaction(
    client: httpx.Client, keyed_patient: Wallet, writer: Wallet, doctor_wallet: Wallet,
    deployment: Deployment, anvil: AnvilNode, mint_tusd: Callable[[str, int], str],
) -> None:
    patient = keyed_patient
    expect_ok(access.write_grant(client, patient, writer.address, DAY))
    record_id = _bill_record(client, patient, writer)
    _fund(anvil.rpc_url, writer.address, 10**18)
    tx_hash = _issue_directly(anvil.rpc_url, deployment, writer, patient.address, record_id, 2 * 10**15)

    # Both lists find it with their log scan (nothing indexed it before).
    [bill_id], partial = _ids(client, patient, "patient")
    assert partial is False
    assert _ids(client, writer, "issuer") == ([bill_id], False)
    bill = expect_ok(client.get(f"/api/bills/{bill_id}", headers=patient.headers))
    assert (bill["issuedTx"], bill["issuer"], bill["amount"], bill["status"]) == (tx_hash, writer.address, str(2 * 10**15), "open")

    # Indexing the transaction answers the same bill, again and again (one entry).
    first = expect_ok(client.post("/api/bills/index", headers=writer.headers, json={"txHash": tx_hash}))
    again = expect_ok(client.post("/api/bills/index", headers=patient.headers, json={"txHash": tx_hash}))
    assert [b["billId"] for b in first["bills"]] == [b["billId"] for b in again["bills"]] == [bill_id]
    assert _ids(client, patient, "patient")[0] == [bill_id]

    # A second direct bill, indexed by its transaction before any list sees it.
    second_tx = _issue_directly(anvil.rpc_url, deployment, writer, patient.address, record_id, 10**15)
    [second] = expect_ok(client.post("/api/bills/index", headers=patient.headers, json={"txHash": second_tx}))["bills"]
    assert second["issuedTx"] == second_tx and second["billId"] != bill_id
    assert _ids(client, patient, "patient")[0] == [second["billId"], bill_id]  # newest first, once each

    # Not a party of it, a transaction of another contract, an unknown one, a reverted one.
    expect_error(client.post("/api/bills/index", headers=doctor_wallet.headers, json={"txHash": tx_hash}),
                 404, "no_bill_in_transaction")
    mint_tx = mint_tusd(patient.address, 1)
    expect_error(client.post("/api/bills/index", headers=patient.headers, json={"txHash": mint_tx}), 404, "no_bill_in_transaction")
    expect_error(client.post("/api/bills/index", headers=patient.headers, json={"txHash": "0x" + "cd" * 32}),
                 409, "transaction_pending")
    expect_error(client.post("/api/bills/index", headers=patient.headers, json={"txHash": "0x12"}), 400, "invalid_tx_hash")
    _fund(anvil.rpc_url, doctor_wallet.address, 10**18)  # no write grant: issueBill reverts on chain
    reverted = _issue_directly(anvil.rpc_url, deployment, doctor_wallet, patient.address, record_id, 1, gas=200_000)
    expect_error(client.post("/api/bills/index", headers=doctor_wallet.headers, json={"txHash": reverted}),
                 422, "transaction_reverted")

    # The audit events of an ETH bill say how to show its amount: ETH, 18 decimals.
    trail = expect_ok(client.get("/api/audit/patient", headers=patient.headers))["events"]
    issued = [e["details"] for e in trail if e["action"] == "bill_issued"]
    assert len(issued) == 2
    assert {(d["token_symbol"], d["token_decimals"]) for d in issued} == {("ETH", 18)}


def test_the_scan_stops_at_head_minus_confirmations(
    client: httpx.Client, other_api_server: Callable[..., Any], keyed_patient: Wallet, writer: Wallet,
    deployment: Deployment, anvil: AnvilNode,
) -> None:
    """With CONFIRMATIONS=3 a bill mined at the head is not indexed (a reorg could still remove it),
    and the scan cursor does not pass it: once 3 blocks are on top, the next list shows it."""
    patient = keyed_patient
    expect_ok(access.write_grant(client, patient, writer.address, DAY))
    record_id = _bill_record(client, patient, writer)
    _fund(anvil.rpc_url, writer.address, 10**18)
    w3 = Web3(HTTPProvider(anvil.rpc_url))
    # A fresh database: the first scan starts at BillPayments' deployment block.
    with other_api_server(confirmations=3) as server, httpx.Client(base_url=server.url, timeout=60) as http:
        patient.login(http)
        old_tx = _issue_directly(anvil.rpc_url, deployment, writer, patient.address, record_id, 10**15)
        w3.provider.make_request("anvil_mine", [hex(3)])
        new_tx = _issue_directly(anvil.rpc_url, deployment, writer, patient.address, record_id, 10**15)
        listed = expect_ok(http.get("/api/bills?role=patient", headers=patient.headers))
        assert [b["issuedTx"] for b in listed["bills"]] == [old_tx] and listed["partial"] is False
        expect_error(http.post("/api/bills/index", headers=patient.headers, json={"txHash": new_tx}), 409, "transaction_pending")
        w3.provider.make_request("anvil_mine", [hex(3)])
        listed = expect_ok(http.get("/api/bills?role=patient", headers=patient.headers))
        assert [b["issuedTx"] for b in listed["bills"]] == [new_tx, old_tx]
