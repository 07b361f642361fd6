"""Accounts' encryption keys (keys v2, step 1): the message to sign, deriving and registering a
public key under the account's EIP-712 binding, and reading anyone's verified public key.

- `GET /api/keys/message`: the exact text to personal_sign (public, like the KEK's message);
- `POST /api/keys`: your public key and the typed data binding it to you (nothing stored);
- `PUT /api/keys`: register it with your binding signature (same key: idempotent; another: replaces);
- `GET /api/keys/{address}`: an account's key and binding, checked again before it is served.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from ..services import keys
from .deps import CallerDep, ServicesDep
from .schemas.errors import AUTH, BODY, DATABASE, WRITE, errors
from .schemas.keys import (
    AccountKey,
    AccountKeyMessage,
    PreparedKey,
    PrepareKeyBody,
    RegisteredKey,
    RegisterKeyBody,
)

router = APIRouter(prefix="/api/keys", tags=["keys"])


# Declared before /{address}, which would otherwise take "message" for an address.
@router.get(
    "/message",
    response_model=AccountKeyMessage,
    summary="The exact text to personal_sign to derive your encryption key pair",
    responses=errors(validation=False),
)
async def account_key_message() -> dict[str, str]:
    return keys.account_key_message()


@router.post(
    "",
    response_model=PreparedKey,
    summary="Your public key from your signature of the key message, and the typed data binding it to you",
    responses=errors(BODY, AUTH, {400: ("invalid_wallet_signature",)}),
)
async def prepare_key(body: PrepareKeyBody, caller: CallerDep, services: ServicesDep) -> dict[str, Any]:
    return keys.prepare_key(services, caller.address, body.walletSignature)


@router.put(
    "",
    response_model=RegisteredKey,
    summary="Register your public key with your EIP-712 binding signature (replaces a different one)",
    responses=errors(BODY, AUTH, {400: ("invalid_public_key", "invalid_key_binding")}, DATABASE, WRITE),
)
async def register_key(body: RegisterKeyBody, caller: CallerDep, services: ServicesDep) -> dict[str, str]:
    return await keys.register_key(services, caller.address, body.publicKey, body.signature)


@router.get(
    "/{address}",
    response_model=AccountKey,
    summary="An account's encryption public key and binding, verified before it is served",
    responses=errors(AUTH, {400: ("invalid_address",), 404: ("key_not_found",), 409: ("key_binding_invalid",)}, DATABASE),
)
async def get_key(address: str, caller: CallerDep, services: ServicesDep) -> dict[str, str]:
    return await keys.get_key(services, address)
