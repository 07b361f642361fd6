"""Shapes of /api/signing: the key-derivation message and EIP-712 payloads."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class KeyDerivationMessage(BaseModel):
    message: str = Field(description="The exact text to personal_sign")
    version: str
    method: str


class TypedDataField(BaseModel):
    name: str
    type: str


class TypedDataDomain(BaseModel):
    name: str
    version: str
    chainId: int
    verifyingContract: str


class TypedDataPayload(BaseModel):
    """A complete EIP-712 payload for eth_signTypedData_v4."""

    types: dict[str, list[TypedDataField]]
    domain: TypedDataDomain
    primaryType: str
    message: dict[str, Any] = Field(description="The action's fields, with nonce and deadline")
