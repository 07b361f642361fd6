"""What a wallet must sign: the key-derivation text, and EIP-712 payloads for signed actions.

The routers reach the table of signed actions (`chain/actions.py`) through here, so the API's
request schemas are derived from the same declaration as the payloads and the relayer's calls
without the HTTP layer importing an adapter.
"""

from __future__ import annotations

from typing import Any

from ..chain.actions import SIGNED_ACTIONS, SignedAction, ValueKind
from ..container import Services
from ..crypto import KEY_DERIVATION_MESSAGE
from ..crypto.kek import KEK_INFO
from .anchoring import RecordAnchoring

__all__ = ["SIGNED_ACTIONS", "SignedAction", "ValueKind", "issue_typed_data", "key_derivation_message"]


def key_derivation_message() -> dict[str, str]:
    """The exact text a patient personal_signs to derive their encryption key, and its version."""
    return {"message": KEY_DERIVATION_MESSAGE, "version": KEK_INFO.decode(), "method": "personal_sign"}


async def issue_typed_data(
    services: Services, caller: str, role: str, action: str, params: dict[str, Any]
) -> dict[str, Any]:
    """The payload `caller` must sign for `action` (current nonce, a fresh deadline).

    A patient's record the chain lost is sent again first, with its own signature: a new signature
    must not take the nonce it needs (services/anchoring.py).
    """
    if role == "patient":
        await RecordAnchoring(services).repair_lost(caller)
    return await services.typed_data.for_action(caller, role, action, params)
