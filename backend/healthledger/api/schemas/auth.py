"""Shapes of /api/auth: the SIWE nonce, sign-in and token refresh."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field


class NonceResponse(BaseModel):
    nonce: str
    expires_at: datetime
    domain: str
    uri: str
    chain_id: int
    statement: str


class LoginRequest(BaseModel):
    message: str = Field(min_length=1, max_length=4096, description="The EIP-4361 message, as signed")
    signature: str = Field(min_length=1, max_length=1024, description="personal_sign signature of the message")


class RefreshRequest(BaseModel):
    refresh_token: str = Field(min_length=1, max_length=4096)


class TokenResponse(BaseModel):
    access_token: str
    refresh_token: str
    token_type: str = "bearer"
    role: Literal["patient", "doctor", "registrar"]
    address: str
