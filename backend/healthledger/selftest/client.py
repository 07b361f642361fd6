"""A throwaway wallet talking to the HTTP API as the web app does (SIWE, keys, EIP-712 actions).

The wallet is generated per run with eth-account and lives only in memory: its key, its
key-derivation signature and its tokens are never stored or logged, and are gone when the run ends
(records it uploaded can then never be decrypted by anyone).
"""

from __future__ import annotations

import hashlib
import os
from datetime import UTC, datetime
from typing import Any

import httpx
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount
from siwe import SiweMessage


class StepFailed(Exception):
    """A step's call did not answer as the workflow needs; the message says what came back."""


def expect(response: httpx.Response, *statuses: int) -> Any:
    """The JSON body of `response` if its status is one of `statuses`, else StepFailed naming the error code."""
    if response.status_code not in statuses:
        code = ""
        try:
            code = response.json().get("error", {}).get("code", "")
        except ValueError:
            pass
        what = f"{response.request.method} {response.request.url.path}"
        raise StepFailed(f"{what} answered {response.status_code} {code}".rstrip())
    return response.json() if response.content and response.headers.get("content-type", "").startswith("application/json") else None


class SyntheticWallet:
    """One throwaway account signed in to the API (see the module docstring)."""

    def __init__(self, http: httpx.AsyncClient, account: LocalAccount | None = None) -> None:
        self.http = http
        self.account = account or Account.create()
        self.role = ""
        self._access_token = ""
        self._key_signature = ""

    def __repr__(self) -> str:  # never the key
        return f"SyntheticWallet({self.address})"

    @property
    def address(self) -> str:
        return self.account.address

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._access_token}"}

    def personal_sign(self, text: str) -> str:
        return "0x" + bytes(self.account.sign_message(encode_defunct(text=text)).signature).hex()

    def sign_typed_data(self, payload: dict[str, Any]) -> str:
        return "0x" + bytes(Account.sign_typed_data(self.account.key, full_message=payload).signature).hex()

    async def sign_in(self) -> str:
        """Sign-In with Ethereum; returns the role the API gives this address."""
        info = expect(await self.http.get("/api/auth/nonce"), 200)
        message = SiweMessage(
            domain=info["domain"],
            address=self.address,
            statement=info["statement"],
            uri=info["uri"],
            version="1",
            chain_id=info["chain_id"],
            nonce=info["nonce"],
            issued_at=datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        ).prepare_message()
        body = expect(await self.http.post("/api/auth/login", json={"message": message, "signature": self.personal_sign(message)}), 200)
        self._access_token, self.role = body["access_token"], body["role"]
        return self.role

    async def key_signature(self) -> str:
        if not self._key_signature:
            message = expect(await self.http.get("/api/signing/key-derivation-message"), 200)["message"]
            self._key_signature = self.personal_sign(message)
        return self._key_signature

    async def set_up_key(self) -> None:
        """Register this account's encryption key (keys v2), as the app does at first sign-in."""
        prepared = expect(await self.http.post("/api/keys", json={"walletSignature": await self.key_signature()}, headers=self.headers), 200)
        signature = self.sign_typed_data(prepared["typedData"])
        expect(await self.http.put("/api/keys", json={"publicKey": prepared["publicKey"], "signature": signature}, headers=self.headers), 200)

    async def typed_data(self, action: str, params: dict[str, Any]) -> dict[str, Any]:
        return expect(await self.http.post("/api/signing/typed-data", json={"action": action, "params": params}, headers=self.headers), 200)

    async def signed(self, action: str, params: dict[str, Any], field: str = "signature") -> dict[str, Any]:
        payload = await self.typed_data(action, params)
        message = payload["message"]
        return {field: self.sign_typed_data(payload), "nonce": message["nonce"], "deadline": message["deadline"]}

    async def upload(self, content: bytes, name: str) -> dict[str, Any]:
        """Upload `content` as a report with a fresh salt; the record's metadata (201 or 202)."""
        salt = "0x" + os.urandom(32).hex()
        content_hash = "0x" + hashlib.sha256(bytes.fromhex(salt[2:]) + content).hexdigest()
        signed = await self.signed("addRecord", {"recordType": "report", "contentHash": content_hash}, "recordSignature")
        form = {
            "recordType": "report",
            "name": name,
            "walletSignature": await self.key_signature(),
            "salt": salt,
            "recordSignature": signed["recordSignature"],
            "nonce": str(signed["nonce"]),
            "deadline": str(signed["deadline"]),
        }
        response = await self.http.post(
            "/api/medical-records/upload", data=form, files={"file": (name, content, "text/plain")}, headers=self.headers
        )
        return expect(response, 201, 202)

    async def records(self) -> list[dict[str, Any]]:
        return expect(await self.http.get("/api/medical-records/patient-records", headers=self.headers), 200)["records"]

    async def verify(self, cid: str) -> dict[str, Any]:
        headers = {**self.headers, "X-Wallet-Signature": await self.key_signature()}
        return expect(await self.http.get(f"/api/medical-records/verify/{cid}", headers=headers), 200)

    async def view(self, cid: str) -> httpx.Response:
        headers = {**self.headers, "X-Wallet-Signature": await self.key_signature()}
        return await self.http.get(f"/api/medical-records/view/{cid}", headers=headers)
