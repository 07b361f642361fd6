"""Accounts' encryption key pairs (keys v2, step 1): derive, bind, register and serve public keys.

The flow a client follows, and why each step is where it is:

1. `GET /api/keys/message`: the exact text to `personal_sign` (crypto/account_keys.py). Its signature
   is the seed of the account's X25519 key pair.
2. `POST /api/keys` with that signature: the server checks it is the caller's, derives the public
   key and answers it with the EIP-712 `EncryptionKey` payload binding it to the caller. Nothing is
   stored, and the signature (a secret) is forgotten when the request ends.
3. `PUT /api/keys` with the public key and the binding signature: stored once the binding is the
   caller's own. Re-registering the same key is idempotent; a different key replaces it. Rotation
   (re-wrapping what was sealed to the old key) is a later version's job, not this one's.
4. Whoever needs an account's public key gets it from `verified_public_key`, which checks the stored
   binding again on every use: a row changed in the database (a swapped key) no longer matches its
   signature and is refused (409 `key_binding_invalid`), never served or encrypted to.
"""

from __future__ import annotations

import logging
from typing import Any

from eth_utils import to_checksum_address

from ..container import Services
from ..crypto import (
    ACCOUNT_KEY_MESSAGE,
    InvalidKeyMaterial,
    binding_typed_data,
    canonical_binding_signature,
    check_public_key,
    derive_account_keypair,
    is_account_key_signature_by,
    is_binding_by,
)
from ..crypto.account_keys import ACCOUNT_KEY_INFO
from ..domain_errors import NotFound, bad_request, conflict, not_found
from ..validation import address as checked_address

log = logging.getLogger(__name__)

__all__ = ["account_key_message", "get_key", "prepare_key", "register_key", "sealing_key", "verified_public_key"]


def _hex(raw: bytes) -> str:
    return "0x" + raw.hex()


def account_key_message() -> dict[str, str]:
    """The exact text an account personal_signs to derive its encryption key pair, and its version."""
    return {"message": ACCOUNT_KEY_MESSAGE, "version": ACCOUNT_KEY_INFO.decode(), "method": "personal_sign"}


def prepare_key(services: Services, caller: str, wallet_signature: str) -> dict[str, Any]:
    """The caller's public key and the EIP-712 binding to sign for it; nothing is stored.

    The signature must be the caller's own signature of ACCOUNT_KEY_MESSAGE: anything else would
    derive a key the caller's wallet cannot reproduce, so nothing sealed to it could ever be opened.
    """
    if not is_account_key_signature_by(wallet_signature, caller):
        raise bad_request(
            "invalid_wallet_signature",
            "walletSignature is not your wallet's signature of the encryption-key message (GET /api/keys/message)",
        )
    _, public = derive_account_keypair(wallet_signature)
    return {"publicKey": _hex(bytes(public)), "typedData": binding_typed_data(caller, bytes(public), services.chain_id)}


async def register_key(services: Services, caller: str, public_key: str, signature: str) -> dict[str, str]:
    """Register `public_key` for the caller once their EIP-712 binding of it checks out.

    Idempotent for the same key; a different key replaces the current one (no rotation of what was
    sealed to the old key yet: a later version's job).
    """
    try:
        raw = check_public_key(public_key)
    except InvalidKeyMaterial:
        raise bad_request(
            "invalid_public_key", "publicKey must be 0x + 64 hex digits, an X25519 public key that can be encrypted to"
        ) from None
    if not is_binding_by(caller, raw, services.chain_id, signature):
        raise bad_request(
            "invalid_key_binding",
            "signature is not your EIP-712 EncryptionKey signature binding this publicKey to your account "
            "(sign the typedData from POST /api/keys)",
        )
    stored = await services.account_keys.put(
        caller, _hex(raw), _hex(canonical_binding_signature(signature)), services.chain_id
    )
    log.info("encryption key registered")
    return {"account": to_checksum_address(stored.account), "publicKey": stored.public_key}


async def _verified(services: Services, account: str) -> tuple[bytes, str]:
    stored = await services.account_keys.get(account)
    if stored is None:
        raise not_found("key_not_found", f"{account} has no registered encryption key")
    # The chain id is this server's, not the row's: a row cannot vouch for itself.
    try:
        bound = is_binding_by(account, stored.public_key, services.chain_id, stored.signature)
        public_key = check_public_key(stored.public_key)
    except InvalidKeyMaterial:
        bound = False
    if not bound:
        log.warning("a stored encryption key does not match its binding signature: refused")
        raise conflict(
            "key_binding_invalid",
            f"the stored encryption key of {account} is not bound to it by its signature; it must be registered again",
        )
    return public_key, stored.signature


async def verified_public_key(services: Services, account: str) -> bytes:
    """`account`'s registered X25519 public key, its binding checked now (never only at registration).

    Raises NotFound `key_not_found` without a registered key, and Conflict `key_binding_invalid` if
    the stored key does not match the account's signature (the database row was changed).
    """
    public_key, _ = await _verified(services, checked_address(account))
    return public_key


async def get_key(services: Services, address: str) -> dict[str, str]:
    """An account's public key with its binding signature, so any client can check it too."""
    account = checked_address(address)
    public_key, signature = await _verified(services, account)
    return {"account": account, "publicKey": _hex(public_key), "signature": signature}


async def sealing_key(services: Services, account: str, missing_code: str, who: str) -> bytes:
    """`account`'s verified public key to seal data keys to, checked before anything is sealed.

    No registered key is a 409 `missing_code` (the account must sign in once to set it up); a row
    that no longer matches its binding signature stays 409 `key_binding_invalid` (`verified_public_key`).
    """
    try:
        return await verified_public_key(services, account)
    except NotFound as exc:
        raise conflict(
            missing_code,
            f"the {who} has no encryption key yet: they must sign in to HealthLedger once to set it up",
        ) from exc
