"""Signing payloads for any client, and the dependency status endpoint."""

from __future__ import annotations

import httpx
import pytest
from eth_account import Account
from eth_account.messages import encode_typed_data

from healthledger.crypto import KEY_DERIVATION_MESSAGE
from healthledger.settings import Settings

from .support.wallet import Wallet


def test_key_derivation_message(client: httpx.Client) -> None:
    body = client.get("/api/signing/key-derivation-message").json()
    assert body["message"] == KEY_DERIVATION_MESSAGE
    assert body["method"] == "personal_sign"
    assert body["version"].endswith("v1")


def test_typed_data_payloads_are_complete_and_signable(client: httpx.Client, patient_wallet: Wallet, deployment) -> None:
    doctor = Wallet.random().address
    cases = {
        "addRecord": ({"recordType": "bill", "contentHash": "0x" + "11" * 32}, "AddRecord"),
        "approveAccess": ({"doctor": doctor, "recordIds": [0, 2], "duration": 86400}, "ApproveAccess"),
        "revokeAccess": ({"doctor": doctor}, "RevokeAccess"),
    }
    for action, (params, primary_type) in cases.items():
        payload = patient_wallet.typed_data(client, action, params)
        assert payload["primaryType"] == primary_type
        assert payload["domain"]["chainId"] == 31337
        assert payload["domain"]["name"] == "HealthRecord"
        assert payload["message"]["nonce"] == 0
        assert payload["message"]["deadline"] > 0
        signature = patient_wallet.sign_typed_data(payload)
        assert Account.recover_message(encode_typed_data(full_message=payload), signature=signature) == patient_wallet.address
    revoke_some = patient_wallet.typed_data(client, "revokeRecords", {"doctor": doctor, "recordIds": [1]})
    assert revoke_some["primaryType"] == "RevokeRecords"
    assert revoke_some["message"]["recordIds"] == [1]


@pytest.mark.parametrize(
    ("action", "params", "code"),
    [
        ("launchRocket", {}, "unknown_action"),
        ("addRecord", {"recordType": "xray", "contentHash": "0x" + "11" * 32}, "invalid_record_type"),
        ("addRecord", {"recordType": "bill", "contentHash": "0x1234"}, "invalid_params"),
        ("approveAccess", {"doctor": "nobody", "recordIds": [0], "duration": 60}, "invalid_params"),
        ("approveAccess", {"doctor": "0x" + "22" * 20, "recordIds": [], "duration": 60}, "invalid_params"),
        ("approveAccess", {"doctor": "0x" + "22" * 20, "recordIds": [0], "duration": 0}, "invalid_params"),
        # Past MongoDB's int64, where the issued payload is remembered (these used to answer 500).
        ("approveAccess", {"doctor": "0x" + "22" * 20, "recordIds": [0], "duration": 2**63}, "invalid_params"),
        ("approveAccess", {"doctor": "0x" + "22" * 20, "recordIds": [0, 2**64 - 1], "duration": 60}, "invalid_params"),
        ("revokeRecords", {"doctor": "0x" + "22" * 20, "recordIds": [2**63]}, "invalid_params"),
        ("approveExtension", {"doctor": "0x" + "22" * 20, "extra": 2**64 - 1}, "invalid_params"),
    ],
)
def test_typed_data_bad_params(client: httpx.Client, patient_wallet: Wallet, action, params, code) -> None:
    response = client.post(
        "/api/signing/typed-data", json={"action": action, "params": params}, headers=patient_wallet.headers
    )
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == code


def test_typed_data_largest_stored_integer_is_accepted(client: httpx.Client, patient_wallet: Wallet) -> None:
    params = {"doctor": "0x" + "22" * 20, "recordIds": [2**63 - 1], "duration": 2**63 - 1}
    payload = patient_wallet.typed_data(client, "approveAccess", params)
    assert payload["message"]["recordIds"] == [2**63 - 1] and payload["message"]["duration"] == 2**63 - 1


def test_status_reports_every_dependency(client: httpx.Client, deployment) -> None:
    body = client.get("/api/system/status").json()
    assert body["status"] == "ok"
    deps = body["dependencies"]
    assert set(deps) == {"mongodb", "ipfs", "chain", "relayer"}
    assert all(dep["state"] == "ok" and dep["latency_ms"] >= 0 for dep in deps.values())
    assert deps["chain"]["chain_id"] == 31337
    assert deps["chain"]["factory_address"] == deployment.factory
    assert deps["relayer"]["funded"] is True


def test_liveness_and_readiness_for_supervisors_and_load_balancers(client: httpx.Client) -> None:
    live = client.get("/api/system/live")  # no token: a load balancer has none
    assert live.status_code == 200, live.text
    assert live.json() == {"status": "live"}
    ready = client.get("/api/system/ready")
    assert ready.status_code == 200, ready.text
    body = ready.json()
    assert body["status"] == "ready"
    assert set(body["dependencies"]) == {"mongodb", "ipfs", "chain"}
    assert all(dep["state"] == "ok" for dep in body["dependencies"].values())
    assert body["dependencies"]["chain"]["block_number"] >= 0


def test_client_config_is_public_and_does_not_leak_the_rpc_url(client: httpx.Client, api_settings: Settings) -> None:
    response = client.get("/api/system/config")  # no token: the page asks before anyone signs in
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["chain_id"] == 31337
    assert body.get("rpc_url") == (api_settings.wallet_rpc_url or None)
    # The upload screen states the limit before a file is picked, and counts confirmations with it.
    assert body["max_upload_bytes"] == api_settings.max_upload_bytes
    assert body["confirmations"] == api_settings.confirmations
    if not api_settings.wallet_rpc_url:
        assert api_settings.eth_rpc_url not in response.text


def test_openapi_docs_are_served(client: httpx.Client) -> None:
    assert client.get("/docs").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    assert "/api/medical-records/upload" in paths


def test_unknown_route_is_json(client: httpx.Client) -> None:
    response = client.get("/api/nope")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_transaction_confirmations_count_blocks_against_the_setting(client: httpx.Client, anvil, api_settings: Settings) -> None:
    """The "confirming (n of m)" step: the true depth of a transaction out of CONFIRMATIONS + 1."""
    sender, receiver = anvil.accounts[8].address, anvil.accounts[9].address
    tx_hash = anvil.rpc("eth_sendTransaction", [{"from": sender, "to": receiver, "value": "0x1"}])
    needed = api_settings.confirmations + 1
    # The shared node may be mining on an interval (an earlier test's setting): mine the block
    # ourselves rather than assume automine.
    if anvil.rpc("eth_getTransactionReceipt", [tx_hash]) is None:
        anvil.rpc("evm_mine")
    mined_in = int(anvil.rpc("eth_getTransactionReceipt", [tx_hash])["blockNumber"], 16)

    first = client.get(f"/api/system/transactions/{tx_hash}")  # public: no token
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["tx_hash"] == tx_hash.lower()
    assert body["block_number"] == mined_in
    assert body["needed"] == needed
    assert body["seen"] == anvil.block_number() - mined_in + 1

    anvil.rpc("evm_mine")
    anvil.rpc("evm_mine")
    deeper = client.get(f"/api/system/transactions/{tx_hash}").json()
    assert deeper["seen"] == body["seen"] + 2
    assert deeper["confirmed"] is (deeper["seen"] >= needed)


def test_transaction_confirmations_unknown_and_malformed_hashes(client: httpx.Client, api_settings: Settings) -> None:
    unknown = client.get("/api/system/transactions/0x" + "ab" * 32)
    assert unknown.status_code == 200, unknown.text
    assert unknown.json() == {
        "tx_hash": "0x" + "ab" * 32,
        "block_number": None,
        "seen": 0,
        "needed": api_settings.confirmations + 1,
        "confirmed": False,
    }
    bad = client.get("/api/system/transactions/0x1234")
    assert bad.status_code == 422
    assert bad.json()["error"]["code"] == "invalid_request"
