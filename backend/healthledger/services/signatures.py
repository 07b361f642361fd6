"""Parsing and checking the wallet signatures clients send, with errors that say what to fix."""

from __future__ import annotations

from eth_utils import to_checksum_address

from ..crypto import key_signature_signer
from ..crypto.ecdsa import SIGNATURE_LENGTH, normalize_signature
from ..domain_errors import bad_request


def parse_signature(value: str, field: str) -> bytes:
    """A 65-byte `0x`-hex signature, or a 400 naming the field."""
    text = (value or "").strip()
    if text.startswith(("0x", "0X")):
        text = text[2:]
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        raw = b""
    if len(raw) != SIGNATURE_LENGTH:
        raise bad_request("malformed_signature", f"{field} must be a 65-byte 0x-hex signature")
    try:
        # v as 27/28 (some wallets send 0/1) and low s: the only form the contract accepts.
        return normalize_signature(raw, high_s="reject")
    except ValueError as exc:
        raise bad_request("malformed_signature", f"{field} is not a canonical signature: {exc}") from exc


def check_key_signature(signature: bytes, patient: str) -> None:
    """The key-derivation signature must be the patient's own, over the published message.

    Anything else would derive a key the patient cannot regenerate, locking them out of their file.
    """
    try:
        signer = key_signature_signer(signature)
    except Exception:
        signer = None
    if signer is None or to_checksum_address(signer) != to_checksum_address(patient):
        raise bad_request(
            "invalid_wallet_signature",
            "walletSignature is not your wallet's signature of the key-derivation message "
            "(GET /api/signing/key-derivation-message)",
        )
