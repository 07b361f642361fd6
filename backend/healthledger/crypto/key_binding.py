"""The signed statement "this X25519 public key is mine": an EIP-712 `EncryptionKey` by the account.

Why a signature and not just a database row: the server encrypts records to the public key it finds
for an account, so whoever can change that row could have records encrypted to a key of their own.
With the account's signature over `(account, publicKey)` stored beside the key, a swapped key no
longer matches its signature, and `binding_signer` recovering anyone but the account refuses it;
the services re-check it every time the key is used, not only when it is registered.

The domain is `{name: "HealthLedger", version: "1", chainId}` with no `verifyingContract`: the
binding speaks about an account's key, not about any contract, so it stays valid when the factory
is redeployed; `chainId` keeps a binding made on one network (a test chain) from being presented on
another. Its `name` differs from the contracts' domain ("HealthRecord"), so a binding can never be
replayed as an on-chain action, nor the reverse.

Errors never contain the signature (InvalidKeyMaterial messages are generic).
"""

from __future__ import annotations

from typing import Any

from eth_account.messages import encode_typed_data
from eth_utils import is_address, to_checksum_address

from .account_keys import public_key_bytes
from .ecdsa import normalize_signature, recover_signer, signature_from_hex
from .errors import InvalidKeyMaterial

__all__ = [
    "BINDING_DOMAIN_NAME",
    "BINDING_DOMAIN_VERSION",
    "BINDING_PRIMARY_TYPE",
    "binding_signer",
    "binding_typed_data",
    "canonical_binding_signature",
    "is_binding_by",
]

BINDING_DOMAIN_NAME = "HealthLedger"
BINDING_DOMAIN_VERSION = "1"
BINDING_PRIMARY_TYPE = "EncryptionKey"

_TYPES: dict[str, list[dict[str, str]]] = {
    "EIP712Domain": [
        {"name": "name", "type": "string"},
        {"name": "version", "type": "string"},
        {"name": "chainId", "type": "uint256"},
    ],
    BINDING_PRIMARY_TYPE: [
        {"name": "account", "type": "address"},
        {"name": "publicKey", "type": "bytes32"},
    ],
}


def _account(account: str) -> str:
    if not isinstance(account, str) or not is_address(account):
        raise InvalidKeyMaterial("account must be an Ethereum address")
    return to_checksum_address(account)


def binding_typed_data(account: str, public_key: bytes | str, chain_id: int) -> dict[str, Any]:
    """The complete `eth_signTypedData_v4` payload binding `public_key` to `account` on `chain_id`."""
    if isinstance(chain_id, bool) or not isinstance(chain_id, int) or chain_id <= 0:
        raise InvalidKeyMaterial("chain id must be a positive integer")
    return {
        "types": {name: [dict(field) for field in fields] for name, fields in _TYPES.items()},
        "domain": {"name": BINDING_DOMAIN_NAME, "version": BINDING_DOMAIN_VERSION, "chainId": chain_id},
        "primaryType": BINDING_PRIMARY_TYPE,
        "message": {"account": _account(account), "publicKey": "0x" + public_key_bytes(public_key).hex()},
    }


def canonical_binding_signature(signature: bytes | str) -> bytes:
    """The 65-byte canonical form (low s, v in {27, 28}) of a binding signature, as stored.

    A high s is flipped rather than refused: the binding is checked here, never on chain, and any
    encoding of the account's one signature states the same thing.
    """
    return normalize_signature(signature_from_hex(signature), high_s="flip")


def binding_signer(account: str, public_key: bytes | str, chain_id: int, signature: bytes | str) -> str:
    """The checksummed address that signed the binding of `public_key` to `account` on `chain_id`.

    Recovery always yields *some* address: compare it with `account` (or use `is_binding_by`).
    Raises InvalidKeyMaterial for a malformed signature, key or account.
    """
    payload = binding_typed_data(account, public_key, chain_id)
    canonical = canonical_binding_signature(signature)
    return recover_signer(encode_typed_data(full_message=payload), canonical, "binding signature")


def is_binding_by(account: str, public_key: bytes | str, chain_id: int, signature: bytes | str) -> bool:
    """Whether `signature` is `account`'s own EIP-712 binding of `public_key` (False for anything malformed)."""
    try:
        return binding_signer(account, public_key, chain_id, signature) == _account(account)
    except InvalidKeyMaterial:
        return False
