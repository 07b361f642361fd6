"""Bills (issue 17) end to end through /api/bills, against the real Anvil, js-ipfs and SecantusDB.

A doctor with a write grant uploads a bill record (an FHIR Invoice) and issues a bill for it with one
EIP-712 IssueBill signature (relayed: the doctor needs no ETH); the patient, who holds TestUSD but no
ETH, pays it with an EIP-2612 permit and a PayBill signature (relayed `payBillWithPermit`). ETH bills
are paid from the patient's wallet with the transaction the API builds, then synced; refunds come from
the payee's wallet the same way. Receipts are FHIR PaymentReconciliations; the audit trail shows it all.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fhir.resources.R4B.paymentreconciliation import PaymentReconciliation
from healthledger.chain.bills import ETH
from healthledger.chain.deployment import Deployment
from healthledger.devstack.anvil import AnvilNode, DevAccount
from pydantic import SecretStr
from web3 import HTTPProvider, Web3

from .support import access
from .support.doctor_records import doctor_upload
from .support.fhir import encoded, invoice
from .support.responses import expect_error, expect_ok
from .support.wallet import Wallet

DAY = 86400
FHIR_JSON = "application/fhir+json"


def _bill_record(client: httpx.Client, patient: Wallet, doctor: Wallet) -> int:
    body = encoded(invoice(patient.address, doctor.address))
    added = expect_ok(doctor_upload(client, doctor, patient.address, body, "bill", "invoice.json", content_type=FHIR_JSON), 201)
    return int(added["record_id"])


def _issue(client: httpx.Client, doctor: Wallet, patient: str, record_id: int, token: str, amount: int) -> dict[str, Any]:
    payload = expect_ok(client.post("/api/bills/issue/typed-data", headers=doctor.headers, json={
        "patientAddress": patient, "recordId": record_id, "token": token, "amount": str(amount),
        "dueDate": 4_000_000_000,
    }))["payload"]
    assert payload["primaryType"] == "IssueBill" and payload["domain"]["name"] == "BillPayments"
    return expect_ok(client.post("/api/bills", headers=doctor.headers,
                                 json={"payload": payload, "signature": doctor.sign_typed_data(payload)}), 201)


def _as_a_browser_reads(value: Any) -> Any:
    """`value` after JSON.parse and JSON.stringify in a browser: every number a double, so an integer
    above 2**53 comes back rounded (1e21 and above in exponent form). The web app signs and sends
    the payloads it got this way (regression: a bill id sent as a number was refused as 9.0e+75)."""
    def js(item: Any) -> Any:
        if isinstance(item, float):
            return int(item) if item.is_integer() and abs(item) < 1e21 else item
        if isinstance(item, dict):
            return {k: js(v) for k, v in item.items()}
        return [js(v) for v in item] if isinstance(item, list) else item
    return js(json.loads(json.dumps(value), parse_int=float))


def _signed_pay(client: httpx.Client, patient: Wallet, bill_id: str, signer: Wallet | None = None, **body: Any) -> dict[str, Any]:
    payloads = _as_a_browser_reads(
        expect_ok(client.post(f"/api/bills/{bill_id}/pay/typed-data", headers=patient.headers, json=body)))
    signer = signer or patient
    return {name: {"payload": p, "signature": signer.sign_typed_data(p)} for name, p in payloads.items()}


def _send(rpc_url: str, wallet: Wallet, tx: dict[str, Any]) -> str:
    w3 = Web3(HTTPProvider(rpc_url))
    fields = {"to": tx["to"], "data": tx["data"], "value": int(tx["value"]), "chainId": tx["chainId"],
              "nonce": w3.eth.get_transaction_count(wallet.address), "gas": 300_000,
              "maxFeePerGas": 2 * w3.eth.gas_price + 10**9, "maxPriorityFeePerGas": 10**9}
    signed = wallet.account.sign_transaction(fields)
    tx_hash = w3.eth.send_raw_transaction(signed.raw_transaction)
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=30)
    assert receipt["status"] == 1
    return "0x" + bytes(tx_hash).hex()


def _fund(rpc_url: str, address: str, wei: int) -> None:
    Web3(HTTPProvider(rpc_url)).provider.make_request("anvil_setBalance", [address, hex(wei)])


@pytest.mark.asyncio
async def test_a_token_bill_is_issued_paid_without_eth_receipted_and_refunded(
    client: httpx.Client, keyed_patient: Wallet, writer: Wallet, doctor_wallet: Wallet,
    deployment: Deployment, mint_tusd: Callable[[str, int], str], anvil: AnvilNode,
) -> None:
    patient = keyed_patient
    token = deployment.bill_token
    assert token
    config = expect_ok(client.get("/api/bills/config", headers=patient.headers))
    assert config["billPayments"] == deployment.bill_payments
    eth, tusd = config["tokens"]
    assert (eth["symbol"], tusd["address"], tusd["decimals"], tusd["permit"]) == ("ETH", token, 6, True)
    symbol = tusd["symbol"]

    expect_ok(access.write_grant(client, patient, writer.address, DAY))
    record_id = _bill_record(client, patient, writer)
    mint_tusd(patient.address, 100_000_000)
    assert Web3(HTTPProvider(anvil.rpc_url)).eth.get_balance(patient.address) == 0  # no ETH at all

    bill = _issue(client, writer, patient.address, record_id, token, 25_000_000)
    bill_id = bill["billId"]
    assert (bill["status"], bill["amount"], bill["remaining"], bill["recordId"]) == ("open", "25000000", "25000000", record_id)
    assert bill["issuer"] == bill["payee"] == writer.address and bill["token"]["symbol"] == symbol

    # A stranger (a registered doctor without a grant) cannot see it, nor bill the patient.
    expect_error(client.get(f"/api/bills/{bill_id}", headers=doctor_wallet.headers), 404, "bill_not_found")
    expect_error(client.post("/api/bills/issue/typed-data", headers=doctor_wallet.headers, json={
        "patientAddress": patient.address, "recordId": record_id, "token": token, "amount": "1", "dueDate": 4_000_000_000,
    }), 403, "not_authorised_issuer")
    # No receipt before a payment.
    expect_error(client.get(f"/api/bills/{bill_id}/receipt", headers=patient.headers), 409, "bill_not_paid")

    # Refused before anything is sent: another signer, a deadline that cannot land.
    forged = _signed_pay(client, patient, bill_id, signer=Wallet.random())
    expect_error(client.post(f"/api/bills/{bill_id}/pay", headers=patient.headers, json=forged), 422, "invalid_signature")
    expired = _signed_pay(client, patient, bill_id, deadlineSeconds=1)
    expect_error(client.post(f"/api/bills/{bill_id}/pay", headers=patient.headers, json=expired), 422, "signature_expired")
    expect_error(client.get(f"/api/bills/{bill_id}/pay/transaction", headers=patient.headers), 422, "wrong_payment_method")

    # A partial payment leaves it open; the rest pays it.
    part = expect_ok(client.post(f"/api/bills/{bill_id}/pay", headers=patient.headers,
                                 json=_signed_pay(client, patient, bill_id, amount="10000000")))
    assert (part["status"], part["paid"], part["remaining"]) == ("open", "10000000", "15000000")
    assert part["payments"][0]["partial"] is True
    paid = expect_ok(client.post(f"/api/bills/{bill_id}/pay", headers=patient.headers, json=_signed_pay(client, patient, bill_id)))
    assert (paid["status"], paid["paid"], paid["remaining"]) == ("paid", "25000000", "0")
    last_tx = paid["payments"][-1]["txHash"]
    assert [p["amount"] for p in paid["payments"]] == ["10000000", "15000000"]

    # Both lists show it paid, with the transaction.
    mine = expect_ok(client.get("/api/bills?role=patient", headers=patient.headers))["bills"]
    issued = expect_ok(client.get("/api/bills?role=issuer", headers=writer.headers))["bills"]
    for listed in (mine, issued):
        [entry] = [b for b in listed if b["billId"] == bill_id]
        assert entry["status"] == "paid" and entry["payments"][-1]["txHash"] == last_tx

    # A second payment is refused.
    expect_error(client.post(f"/api/bills/{bill_id}/pay/typed-data", headers=patient.headers, json={}), 409, "bill_not_open")

    # The receipt: a valid PaymentReconciliation with the amount and the transaction.
    receipt = client.get(f"/api/bills/{bill_id}/receipt", headers=writer.headers)
    assert receipt.status_code == 200 and receipt.headers["content-type"].startswith(FHIR_JSON)
    reconciliation = PaymentReconciliation.model_validate(receipt.json())
    assert float(reconciliation.paymentAmount.value) == 25.0 and reconciliation.paymentAmount.currency == symbol
    assert reconciliation.paymentIdentifier.value == last_tx
    assert len(reconciliation.detail) == 2
    assert reconciliation.request.identifier.value.endswith(f"/{record_id}")
    # ... and the patient's FHIR export carries it beside the Invoice record.
    bundle = client.get("/api/fhir/bundle", headers={**patient.headers, "X-Wallet-Signature": patient.key_signature(client)})
    assert bundle.status_code == 200, bundle.text
    resources = [e["resource"] for e in bundle.json()["entry"]]
    assert [r["resourceType"] for r in resources] == ["Invoice", "PaymentReconciliation"]
    assert resources[1]["paymentIdentifier"]["value"] == last_tx

    # The audit trail shows the issue and the payments, for the patient and for the issuer.
    trail = expect_ok(client.get("/api/audit/patient", headers=patient.headers))["events"]
    actions = [e["action"] for e in trail if e["action"].startswith("bill_")]
    assert actions == ["bill_paid", "bill_paid", "bill_issued"]
    assert {e["details"]["token_symbol"] for e in trail if e["action"].startswith("bill_")} == {symbol}
    # Decimals and the issuer's name, so the trail reads "Dr. Writer asked you to pay 25 tUSD" (regression).
    assert {(e["details"]["token_decimals"], e["details"]["doctor_name"]) for e in trail
            if e["action"].startswith("bill_")} == {(6, "Dr. Writer")}
    issuer_trail = expect_ok(client.get("/api/audit/bills", headers=writer.headers))
    assert [e["action"] for e in issuer_trail["events"]] == ["bill_paid", "bill_paid", "bill_issued"]
    assert issuer_trail["events"][0]["tx_hash"] == last_tx
    assert issuer_trail["events"][0]["details"]["doctor_name"] == "Dr. Writer"

    # Refund by the payee from its wallet: approve, then refund; then sync.
    _fund(anvil.rpc_url, writer.address, 10**18)
    txs = expect_ok(client.get(f"/api/bills/{bill_id}/refund/transactions?amount=5000000", headers=writer.headers))["transactions"]
    assert [t["to"] for t in txs] == [token, deployment.bill_payments]
    expect_error(client.get(f"/api/bills/{bill_id}/refund/transactions", headers=patient.headers), 404, "bill_not_found")
    hashes = [_send(anvil.rpc_url, writer, tx) for tx in txs]
    refunded = expect_ok(client.post(f"/api/bills/{bill_id}/sync", headers=writer.headers, json={"txHash": hashes[-1]}))
    assert refunded["refunded"] == "5000000" and refunded["refunds"][0]["txHash"] == hashes[-1]
    trail = expect_ok(client.get("/api/audit/bills", headers=patient.headers))["events"]
    assert trail[0]["action"] == "bill_refunded"


@pytest.mark.asyncio
async def test_an_eth_bill_paid_from_the_wallet_and_a_cancelled_bill(
    client: httpx.Client, keyed_patient: Wallet, writer: Wallet, anvil: AnvilNode
) -> None:
    patient = keyed_patient
    expect_ok(access.write_grant(client, patient, writer.address, DAY))
    record_id = _bill_record(client, patient, writer)
    bill = _issue(client, writer, patient.address, record_id, ETH, 3 * 10**15)
    bill_id = bill["billId"]
    assert bill["token"] == {"address": ETH, "symbol": "ETH", "name": "Ether", "decimals": 18, "permit": False}
    expect_error(client.post(f"/api/bills/{bill_id}/pay/typed-data", headers=patient.headers, json={}), 422, "wrong_payment_method")

    _fund(anvil.rpc_url, patient.address, 10**18)
    tx = expect_ok(client.get(f"/api/bills/{bill_id}/pay/transaction", headers=patient.headers))
    assert tx["value"] == str(3 * 10**15)
    expect_error(client.post(f"/api/bills/{bill_id}/sync", headers=patient.headers, json={"txHash": "0x" + "ab" * 32}),
                 409, "transaction_pending")
    tx_hash = _send(anvil.rpc_url, patient, tx)
    synced = expect_ok(client.post(f"/api/bills/{bill_id}/sync", headers=patient.headers, json={"txHash": tx_hash}))
    assert synced["status"] == "paid" and synced["payments"][0]["txHash"] == tx_hash

    # A record that is not a bill record cannot be billed.
    rx = expect_ok(doctor_upload(client, writer, patient.address, b"%PDF rx"), 201)
    expect_error(client.post("/api/bills/issue/typed-data", headers=writer.headers, json={
        "patientAddress": patient.address, "recordId": rx["record_id"], "token": ETH, "amount": "1", "dueDate": 4_000_000_000,
    }), 422, "not_a_bill_record")

    # The same signed IssueBill sent again (its answer lost) is that bill, not a refusal of its spent nonce.
    payload = expect_ok(client.post("/api/bills/issue/typed-data", headers=writer.headers, json={
        "patientAddress": patient.address, "recordId": record_id, "token": ETH, "amount": str(10**15), "dueDate": 4_000_000_000,
    }))["payload"]
    signed = {"payload": payload, "signature": writer.sign_typed_data(payload)}
    other = expect_ok(client.post("/api/bills", headers=writer.headers, json=signed), 201)
    again = expect_ok(client.post("/api/bills", headers=writer.headers, json=signed), 201)
    assert again["billId"] == other["billId"] and again["issuedTx"] == other["issuedTx"]
    issued = expect_ok(client.get("/api/bills?role=issuer", headers=writer.headers))["bills"]
    assert [b["billId"] for b in issued] == [other["billId"], bill_id]  # newest first, once each

    # The issuer cancels an unpaid bill with a signature (relayed).
    expect_error(client.post(f"/api/bills/{other['billId']}/cancel/typed-data", headers=patient.headers), 404, "bill_not_found")
    payload = expect_ok(client.post(f"/api/bills/{other['billId']}/cancel/typed-data", headers=writer.headers))["payload"]
    cancelled = expect_ok(client.post(f"/api/bills/{other['billId']}/cancel", headers=writer.headers,
                                      json={"payload": payload, "signature": writer.sign_typed_data(payload)}))
    assert cancelled["status"] == "cancelled" and cancelled["cancelledTx"]
    expect_error(client.get(f"/api/bills/{other['billId']}/pay/transaction", headers=patient.headers), 409, "bill_not_open")


@pytest.mark.asyncio
async def test_a_token_payment_under_interval_mining(
    client: httpx.Client, keyed_patient: Wallet, writer: Wallet, deployment: Deployment,
    mint_tusd: Callable[[str, int], str], anvil: AnvilNode,
) -> None:
    """Blocks every second instead of one per transaction: the relayed payment waits for its block."""
    patient = keyed_patient
    expect_ok(access.write_grant(client, patient, writer.address, DAY))
    record_id = _bill_record(client, patient, writer)
    mint_tusd(patient.address, 5_000_000)
    bill = _issue(client, writer, patient.address, record_id, str(deployment.bill_token), 5_000_000)
    w3 = Web3(HTTPProvider(anvil.rpc_url))
    w3.provider.make_request("evm_setAutomine", [False])
    w3.provider.make_request("evm_setIntervalMining", [1])
    try:
        start = w3.eth.block_number
        paid = expect_ok(client.post(f"/api/bills/{bill['billId']}/pay", headers=patient.headers,
                                     json=_signed_pay(client, patient, bill["billId"])))
        assert paid["status"] == "paid" and paid["payments"][0]["blockNumber"] > start
    finally:
        w3.provider.make_request("evm_setIntervalMining", [0])
        w3.provider.make_request("evm_setAutomine", [True])


def test_bills_disabled_answer_503(other_api_server: Callable[..., Any], keyed_patient: Wallet) -> None:
    with other_api_server(bill_payments_address="") as server, httpx.Client(base_url=server.url, timeout=30) as http:
        keyed_patient.login(http)
        expect_error(http.get("/api/bills/config", headers=keyed_patient.headers), 503, "bills_unavailable")
        expect_error(http.get("/api/bills", headers=keyed_patient.headers), 503, "bills_unavailable")


def test_a_registrar_approves_and_revokes_a_clinic_through_the_relayer(
    client: httpx.Client, other_api_server: Callable[..., Any], registrar_wallet: Wallet, doctor_wallet: Wallet,
    deployment: Deployment, anvil: AnvilNode, deployer_account: DevAccount,
) -> None:
    clinic = Wallet.random().address
    contract = Web3(HTTPProvider(anvil.rpc_url)).eth.contract(
        address=deployment.bill_payments, abi=[{"type": "function", "name": "isApprovedClinic", "stateMutability": "view",
                                                "inputs": [{"name": "", "type": "address"}],
                                                "outputs": [{"name": "", "type": "bool"}]}])
    # The session's relayer holds no REGISTRAR_ROLE (on purpose): refused, nothing sent.
    expect_error(client.post("/api/bills/clinics", headers=registrar_wallet.headers, json={"clinic": clinic, "approved": True}),
                 503, "relayer_not_registrar")
    expect_error(client.post("/api/bills/clinics", headers=doctor_wallet.headers, json={"clinic": clinic, "approved": True}),
                 403, "wrong_role")
    # An API whose relayer is a registrar (the deployer) sends it.
    key = SecretStr(deployer_account.private_key)
    with other_api_server(relayer_private_key=key) as server, httpx.Client(base_url=server.url, timeout=60) as http:
        registrar_wallet.login(http)
        post = lambda approved: http.post(  # noqa: E731
            "/api/bills/clinics", headers=registrar_wallet.headers, json={"clinic": clinic, "approved": approved})
        approved = expect_ok(post(True))
        assert approved["status"] == "mined" and contract.functions.isApprovedClinic(clinic).call() is True
        expect_error(post(True), 409, "clinic_status_unchanged")
        expect_ok(post(False))
        assert contract.functions.isApprovedClinic(clinic).call() is False
