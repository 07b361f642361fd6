"""Shapes of /api/keys: accounts' encryption public keys and their EIP-712 bindings (keys v2)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class AccountKeyMessage(BaseModel):
    message: str = Field(description="The exact text to personal_sign; its signature seeds your key pair")
    version: str
    method: str


class PrepareKeyBody(BaseModel):
    """Your wallet's personal_sign of the text from GET /api/keys/message (a secret: sent, never stored)."""

    walletSignature: str = Field(max_length=200, description="0x-hex personal_sign signature of the key message")


class BindingField(BaseModel):
    name: str
    type: str


class BindingDomain(BaseModel):
    """No verifyingContract: the binding is about an account's key, not a contract (see the README)."""

    name: str
    version: str
    chainId: int


class BindingMessage(BaseModel):
    account: str
    publicKey: str


class BindingTypedData(BaseModel):
    """The EIP-712 `EncryptionKey(address account,bytes32 publicKey)` payload for eth_signTypedData_v4."""

    types: dict[str, list[BindingField]]
    domain: BindingDomain
    primaryType: str
    message: BindingMessage


class PreparedKey(BaseModel):
    publicKey: str = Field(description="Your X25519 public key, 0x + 64 hex digits")
    typedData: BindingTypedData


class RegisterKeyBody(BaseModel):
    publicKey: str = Field(max_length=200, description="The publicKey from POST /api/keys")
    signature: str = Field(max_length=200, description="Your eth_signTypedData_v4 signature of its typedData")


class RegisteredKey(BaseModel):
    account: str
    publicKey: str


class AccountKey(BaseModel):
    """An account's public key and the binding signature anyone can check against the typed data."""

    account: str
    publicKey: str
    signature: str
