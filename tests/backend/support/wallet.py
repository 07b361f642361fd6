"""A test wallet: what MetaMask does for a user, done with eth-account and a dev or random key."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount
from siwe import SiweMessage


@dataclass
class Wallet:
    """Signs like a browser wallet and keeps the API tokens of its session."""

    account: LocalAccount
    access_token: str = ""
    refresh_token: str = ""
    role: str = ""
    _key_signature: str = field(default="", repr=False)

    @classmethod
    def random(cls) -> "Wallet":
        return cls(Account.create())

    @classmethod
    def from_key(cls, private_key: str) -> "Wallet":
        return cls(Account.from_key(private_key))

    @property
    def address(self) -> str:
        return self.account.address

    def personal_sign(self, text: str) -> str:
        return "0x" + bytes(self.account.sign_message(encode_defunct(text=text)).signature).hex()

    def sign_typed_data(self, payload: dict[str, Any]) -> str:
        return "0x" + bytes(Account.sign_typed_data(self.account.key, full_message=payload).signature).hex()

    def siwe_message(self, nonce_info: dict[str, Any], **overrides: Any) -> str:
        fields = {
            "domain": nonce_info["domain"],
            "address": self.address,
            "statement": nonce_info["statement"],
            "uri": nonce_info["uri"],
            "version": "1",
            "chain_id": nonce_info["chain_id"],
            "nonce": nonce_info["nonce"],
            "issued_at": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        }
        fields.update(overrides)
        return SiweMessage(**fields).prepare_message()

    def login(self, client: httpx.Client) -> dict[str, Any]:
        nonce_info = client.get("/api/auth/nonce").json()
        message = self.siwe_message(nonce_info)
        response = client.post("/api/auth/login", json={"message": message, "signature": self.personal_sign(message)})
        response.raise_for_status()
        body = response.json()
        self.access_token, self.refresh_token, self.role = body["access_token"], body["refresh_token"], body["role"]
        return body

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}

    def key_signature(self, client: httpx.Client) -> str:
        """The key-derivation signature (deterministic, so computing it again gives the same value)."""
        if not self._key_signature:
            message = client.get("/api/signing/key-derivation-message").json()["message"]
            self._key_signature = self.personal_sign(message)
        return self._key_signature

    def typed_data(self, client: httpx.Client, action: str, params: dict[str, Any]) -> dict[str, Any]:
        response = client.post("/api/signing/typed-data", json={"action": action, "params": params}, headers=self.headers)
        response.raise_for_status()
        return response.json()
