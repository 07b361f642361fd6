"""A patient's verification bundle: everything needed to check one record against the chain alone.

The on-chain anchor is SHA-256(salt ‖ file) (crypto/salt.py), so the chain alone no longer lets
anyone confirm a file. The bundle gives the patient what public verification needs: the file, its
salt, the vault, the record id and the transaction. `healthledger verify-bundle` (services/
bundle_check.py) checks it with nothing but an RPC URL. The bundle reveals the file: the patient
decides whom to give it to.

It is built only from a fully verified read (the same checks and audit entry as a view), and it is
streamed: the base64 file is written chunk by chunk, so memory stays flat whatever the file size.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from typing import Any

from eth_utils import to_checksum_address

from ..container import Services
from ..crypto import salt_hex
from ..db.records import RecordDoc
from .reading import open_verified

BUNDLE_VERSION = 1
# A multiple of 3: each piece base64-encodes without padding, so the pieces concatenate.
_B64_PIECE = 3 * 256 * 1024


def bundle_head(record: RecordDoc, salt: bytes | None, chain_id: int) -> dict[str, Any]:
    """The bundle's fields but the file."""
    return {
        "version": BUNDLE_VERSION,
        "fileName": record.name,
        "contentType": record.content_type,
        "salt": salt_hex(salt) if salt is not None else None,
        "contentHash": record.content_hash.lower(),
        "chainId": chain_id,
        "contract": to_checksum_address(record.vault_address),
        "recordId": record.record_id,
        "txHash": record.tx_hash,
        "blockNumber": record.block_number,
    }


async def open_bundle(
    services: Services, patient: str, cid: str, wallet_signature: str | None
) -> tuple[RecordDoc, AsyncIterator[bytes]]:
    """The record and its bundle as JSON bytes, once every check of a view passed (the view is logged)."""
    record, salt, chunks = await open_verified(services, patient, "patient", cid, wallet_signature)
    try:
        head = bundle_head(record, salt, await services.chain.chain_id())
    except BaseException:
        await chunks.aclose()  # type: ignore[attr-defined]
        raise
    return record, _json_stream(head, chunks)


async def _json_stream(head: dict[str, Any], chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """`head` with a `file` member (base64 of `chunks`) added last, as one JSON document."""
    yield json.dumps(head)[:-1].encode() + b', "file": "'
    carry = b""
    async for chunk in chunks:
        carry += chunk
        cut = len(carry) - len(carry) % 3
        if cut:
            for start in range(0, cut, _B64_PIECE):
                yield base64.b64encode(carry[start : min(start + _B64_PIECE, cut)])
            carry = carry[cut:]
    yield base64.b64encode(carry) + b'"}'
