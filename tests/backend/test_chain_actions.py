"""chain/actions.py against the compiled contract: every declared action exists there as declared.

What is checked, per action: the type string derived from the declaration hashes to the contract's
``*_TYPEHASH`` constant (read from the deployed implementation), and the ``...BySig`` function is
in the ABI with the message fields, in order and with their types, then ``bytes signature``. And
the other way round: every ``*_TYPEHASH`` and every ``...BySig`` function of the contract has its
declaration, so an action added to the contract but not to the table fails here.
"""

from __future__ import annotations

import pytest
from healthledger.chain import typed_data as td
from healthledger.chain.actions import ACTIONS, SIGNED_ACTIONS, action
from healthledger.chain.artifacts import health_record
from healthledger.chain.deployment import Deployment
from healthledger.devstack.anvil import AnvilNode
from web3 import Web3


def _abi_functions() -> dict[str, dict]:
    return {entry["name"]: entry for entry in health_record().abi if entry.get("type") == "function"}


def test_typehashes_match_the_deployed_contract(anvil: AnvilNode, deployment: Deployment) -> None:
    w3 = Web3(Web3.HTTPProvider(anvil.rpc_url))
    implementation = w3.eth.contract(address=deployment.implementation, abi=health_record().abi)
    for entry in SIGNED_ACTIONS:
        on_chain = getattr(implementation.functions, entry.typehash_constant)().call()
        assert on_chain == td.typehash(entry.primary_type), entry.name
    constants = {name for name in _abi_functions() if name.endswith("_TYPEHASH")}
    assert constants == {entry.typehash_constant for entry in SIGNED_ACTIONS}


@pytest.mark.parametrize("entry", SIGNED_ACTIONS, ids=lambda entry: entry.name)
def test_by_sig_function_takes_the_message_then_the_signature(entry) -> None:
    function = _abi_functions()[entry.function]
    inputs = [(i["name"], i["type"]) for i in function["inputs"]]
    assert inputs == [(f.name, f.type) for f in entry.message_fields] + [("signature", "bytes")]
    assert function["stateMutability"] == "nonpayable"


def test_every_by_sig_function_is_declared() -> None:
    by_sig = {name for name in _abi_functions() if name.endswith("BySig")}
    assert by_sig == {entry.function for entry in SIGNED_ACTIONS}


def test_table_is_consistent() -> None:
    assert len(ACTIONS) == len(SIGNED_ACTIONS)  # names are unique
    assert len({entry.primary_type for entry in SIGNED_ACTIONS}) == len(SIGNED_ACTIONS)
    for entry in SIGNED_ACTIONS:
        assert action(entry.name) is entry and action(entry.primary_type) is entry
        names = [f.name for f in entry.message_fields]
        assert len(names) == len(set(names)) and names[-2:] == ["nonce", "deadline"]
        # A doctor signs for themself: their own address is never a param.
        if entry.signer == "doctor":
            assert [f.param for f in entry.fields if f.name == "doctor"] == [None]
        assert len(entry.params) == len(set(entry.params))
    assert td.typehash("RevokeAccess") == Web3.keccak(text="RevokeAccess(address doctor,uint256 nonce,uint256 deadline)")
