"""chain/typed_data.py: payloads match the contract, signatures recover, bad input is refused."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount

from healthledger.chain import typed_data as td
from healthledger.chain.actions import ACTIONS
from healthledger.chain.client import ChainClient
from healthledger.crypto.ecdsa import SECP256K1_N
from healthledger.devstack.anvil import AnvilNode

from .fixtures.chain import sign_typed_data

CHAIN_ID = 31337
CLONE = "0x58be084F7b1cB43D9d2E363462AD3f517B8F9171"
DOCTOR = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
HASH = "0x" + "ab" * 32

# One example message per action (nonce and deadline added by `all_payloads`).
EXAMPLES: dict[str, dict] = {
    "addRecord": {"kind": "prescription", "contentHash": HASH},
    "approveAccess": {"doctor": DOCTOR, "duration": 3600, "recordIds": [0, 2, 300]},
    "denyAccess": {"doctor": DOCTOR},
    "revokeAccess": {"doctor": DOCTOR},
    "revokeRecords": {"doctor": DOCTOR, "recordIds": [2]},
    "approveExtension": {"doctor": DOCTOR, "extra": 600, "generation": 3},
    "requestAccess": {"doctor": DOCTOR},
    "requestExtension": {"doctor": DOCTOR, "extra": 600},
    "approveRecords": {"doctor": DOCTOR, "duration": 3600, "startWord": 0, "words": [5, 0, 2**255 + 1]},
    "approveWrite": {"doctor": DOCTOR, "duration": 3600},
    "revokeWrite": {"doctor": DOCTOR},
    "addRecordAsDoctor": {"doctor": DOCTOR, "kind": "bill", "contentHash": HASH},
    "invalidateNonce": {"account": DOCTOR},
}


def build(action: str, chain_id: int = 1, contract: str = CLONE, **message: object) -> dict:
    return td.build_payload(action, chain_id, contract, message)


def all_payloads(chain_id: int = CHAIN_ID, contract: str = CLONE, nonce: int = 0) -> dict[str, dict]:
    assert set(EXAMPLES) == set(ACTIONS)  # a new action needs an example here
    return {
        action: td.build_payload(action, chain_id, contract, {**example, "nonce": nonce, "deadline": 2**40})
        for action, example in EXAMPLES.items()
    }


@pytest.mark.asyncio
async def test_domain_and_digest_match_the_clone(
    chain_client: ChainClient, patient: LocalAccount, anvil: AnvilNode
) -> None:
    """The clone's DOMAIN_SEPARATOR equals our domain's hash, so digests agree with `_hashTypedDataV4`."""
    from eth_account.messages import encode_typed_data

    contract = await chain_client.vault_contract(patient.address)
    payload = build("revokeAccess", await chain_client.chain_id(), contract.address, doctor=DOCTOR, nonce=0, deadline=1)
    on_chain = await contract.functions.DOMAIN_SEPARATOR().call()
    assert encode_typed_data(full_message=payload).header == on_chain
    fields = await contract.functions.eip712Domain().call()
    assert (fields[1], fields[2], fields[3], fields[4]) == ("HealthRecord", "1", 31337, contract.address)


def test_payloads_are_complete_and_json_serialisable() -> None:
    for action, payload in all_payloads().items():
        primary = ACTIONS[action].primary_type
        assert payload["primaryType"] == primary
        assert payload["types"]["EIP712Domain"] == td.EIP712_DOMAIN_TYPE
        assert payload["types"][primary] == td.MESSAGE_TYPES[primary]
        assert payload["domain"] == {
            "name": "HealthRecord",
            "version": "1",
            "chainId": CHAIN_ID,
            "verifyingContract": CLONE,
        }
        assert json.loads(json.dumps(payload)) == payload
        assert [f["name"] for f in td.MESSAGE_TYPES[primary]] == list(payload["message"])
    add = all_payloads()["addRecord"]["message"]
    assert add == {"kind": 0, "contentHash": HASH, "nonce": 0, "deadline": 2**40}
    assert all_payloads()["approveAccess"]["message"]["recordIds"] == [0, 2, 300]
    # Bitmap words use all 256 bits: decimal strings survive a JavaScript client's JSON.parse.
    assert all_payloads()["approveRecords"]["message"]["words"] == ["5", "0", str(2**255 + 1)]
    assert all_payloads()["approveExtension"]["message"]["generation"] == 3
    assert all_payloads()["addRecordAsDoctor"]["message"]["kind"] == 1


def test_builders_normalise_and_reject() -> None:
    lower = build("denyAccess", contract=CLONE.lower(), doctor=DOCTOR.lower(), nonce=0, deadline=0)
    assert lower["domain"]["verifyingContract"] == CLONE and lower["message"]["doctor"] == DOCTOR
    assert build(
        "addRecord", kind=2, contentHash=bytes.fromhex("ab" * 32), nonce=0, deadline=0
    )["message"]["contentHash"] == HASH
    assert [td.record_kind(k) for k in ("prescription", "Bill", "report", 0, 1, 2)] == [0, 1, 2, 0, 1, 2]
    bad_calls: list[Callable[[], object]] = [
        lambda: td.record_kind("xray"),
        lambda: td.record_kind(3),
        lambda: td.record_kind(True),
        lambda: build("addRecord", kind=0, contentHash="0x1234", nonce=0, deadline=0),
        lambda: build("addRecord", kind=0, contentHash="zz" * 32, nonce=0, deadline=0),
        lambda: build("addRecord", kind=0, contentHash=HASH, nonce=-1, deadline=0),
        lambda: build("denyAccess", contract="0x12", doctor=DOCTOR, nonce=0, deadline=0),
        lambda: build("denyAccess", doctor="bob", nonce=0, deadline=0),
        lambda: build("approveAccess", doctor=DOCTOR, duration=2**64, recordIds=[0], nonce=0, deadline=0),
        lambda: build("approveAccess", doctor=DOCTOR, duration=1, recordIds=[-1], nonce=0, deadline=0),
        lambda: build("requestExtension", doctor=DOCTOR, extra=2**64, nonce=0, deadline=0),
        lambda: build("approveExtension", doctor=DOCTOR, extra=1, generation=2**32, nonce=0, deadline=0),
        lambda: build("approveRecords", doctor=DOCTOR, duration=1, startWord=0, words=[], nonce=0, deadline=0),
        lambda: build("approveRecords", doctor=DOCTOR, duration=1, startWord=0, words=[2**256], nonce=0, deadline=0),
        lambda: build("approveRecords", doctor=DOCTOR, duration=1, startWord=0, words=["0x1"], nonce=0, deadline=0),
        lambda: td.build_payload("DenyAccess", 1, CLONE, {"doctor": DOCTOR}),
        lambda: td.build_payload("Nope", 1, CLONE, {}),
    ]
    for call in bad_calls:
        with pytest.raises(ValueError):
            call()


def test_recover_and_verify() -> None:
    signer = Account.create()
    other = Account.create()
    for payload in all_payloads().values():
        signature = sign_typed_data(signer.key, payload)
        assert td.recover_typed_data_signer(payload, signature) == signer.address
        assert td.recover_typed_data_signer(payload, "0x" + signature.hex()) == signer.address
        assert td.verify(payload, signature, signer.address)
        assert td.verify(payload, signature, signer.address.lower())
        assert not td.verify(payload, signature, other.address)
    payload = all_payloads()["addRecord"]
    signature = sign_typed_data(signer.key, payload)
    # Any change to the message, the domain's contract or chain breaks the signature.
    assert not td.verify({**payload, "message": {**payload["message"], "nonce": 1}}, signature, signer.address)
    assert not td.verify(all_payloads(contract=DOCTOR)["addRecord"], signature, signer.address)
    assert not td.verify(all_payloads(chain_id=1)["addRecord"], signature, signer.address)
    # Malformed signatures are False from verify and ValueError from recover.
    for bad in (b"", b"\x00" * 65, signature[:64], "0xzz", signature + b"\x00"):
        assert not td.verify(payload, bad, signer.address)
        with pytest.raises(ValueError):
            td.recover_typed_data_signer(payload, bad)


def test_signatures_must_be_canonical_like_on_chain() -> None:
    """v 0/1 and high s are refused (the contract's ECDSA refuses them); normalize_signature fixes v."""
    signer = Account.create()
    payload = all_payloads()["revokeAccess"]
    signature = sign_typed_data(signer.key, payload)
    v01 = signature[:64] + bytes([signature[64] - 27])
    assert not td.verify(payload, v01, signer.address)
    assert td.normalize_signature(v01) == signature
    assert td.normalize_signature(signature) == signature
    assert td.verify(payload, td.normalize_signature(v01), signer.address)
    s = int.from_bytes(signature[32:64], "big")
    high_s = signature[:32] + (SECP256K1_N - s).to_bytes(32, "big") + bytes([55 - signature[64]])
    assert not td.verify(payload, high_s, signer.address)
    with pytest.raises(ValueError):
        td.normalize_signature(high_s)
    assert len(td.typed_data_digest(payload)) == 32
