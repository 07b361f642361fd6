"""Check a client's EIP-712 signature against the payload the server expects, then relay it.

The relayer pays gas but decides nothing: it only ever submits what a patient or doctor signed,
and only after the signature was checked here against the action the request body describes
(the contract checks it once more).
"""

from __future__ import annotations

from typing import Any

from ..chain.actions import SignedAction
from ..chain.actions import action as find_action
from ..chain.relayer import (
    RelayerUnavailable,
    TransactionReverted,
    TransactionTimeout,
    TxResult,
)
from ..chain.typed_data import recover_typed_data_signer
from ..container import Services
from ..domain_errors import (
    Conflict,
    DomainError,
    InvalidInput,
    NotAllowed,
    TimedOut,
    Unavailable,
    bad_request,
    conflict,
)
from .deadlines import require_landable
from .signatures import parse_signature


async def find_signed_payload(
    services: Services,
    *,
    action: SignedAction | str,
    patient: str,
    signer: str,
    fields: dict[str, Any],
    signature: str,
    nonce: int,
    deadline: int,
) -> tuple[dict[str, Any], bytes]:
    """The payload `signature` was made over, if it authorises exactly `action` with `fields`.

    The payload is rebuilt from the request (`fields`, and the `nonce` and `deadline` the client
    signed), so the signature is checked against exactly what the body says should happen.
    """
    raw = parse_signature(signature, "signature")
    payload = await services.typed_data.payload(action, patient, signer, fields, nonce=nonce, deadline=deadline)
    if not services.typed_data.verify(payload, raw, signer):
        raise bad_request(
            "invalid_signature",
            f"the signature does not authorise this {payload['primaryType']}: request the payload from "
            "/api/signing/typed-data with exactly these parameters and sign it with your wallet",
        )
    check_signer_nonce(int(payload["message"]["nonce"]), await services.chain.nonce_of(patient, signer),
                       services.settings.relay_max_nonces_ahead)
    await require_landable(services.chain, int(payload["message"]["deadline"]), services.settings.deadline_margin_seconds)
    return payload, raw


def check_signer_nonce(nonce: int, current: int, max_ahead: int) -> None:
    """A signature's nonce may be the signer's current one or up to `max_ahead` past it (the queue
    holds it until the earlier ones are mined): 409 `stale_nonce` behind, 409 `nonce_too_far_ahead` beyond."""
    if nonce < current:
        raise conflict("stale_nonce", f"this signature's nonce {nonce} was already used (the current one is {current}): sign again")
    if nonce > current + max_ahead:
        raise conflict(
            "nonce_too_far_ahead",
            f"this signature's nonce {nonce} is more than {max_ahead} past the current one ({current}): "
            "wait for your earlier actions to land, or sign again",
        )


async def relay(services: Services, patient: str, payload: dict[str, Any], signature: bytes) -> TxResult:
    """Submit a checked payload through the relayer queue and wait for it; contract refusals become 4xx errors."""
    try:
        return await services.relay_queue.relay_signed(
            find_action(payload["primaryType"]),
            patient,
            payload["message"],
            signature,
            signer=recover_typed_data_signer(payload, signature),
            timeout=services.settings.tx_timeout_seconds,
        )
    except TransactionReverted as exc:
        raise revert_to_domain_error(exc) from exc


def relayer_unavailable(exc: RelayerUnavailable) -> Unavailable:
    """502 `relayer_unavailable`: the relayer could not get the transaction to the chain."""
    if exc.maybe_sent:
        message = "the chain node did not confirm the transaction; it may still land: check again shortly"
    else:
        message = "the relayer could not send the transaction; nothing was done: try again"
    return Unavailable("relayer_unavailable", message)


def transaction_timeout(exc: TransactionTimeout) -> TimedOut:
    """504: sent, not mined in time (it may still be mined)."""
    return TimedOut(
        "transaction_timeout",
        f"the transaction {exc.tx_hash} was sent but not mined in time; check again shortly",
        tx_hash=exc.tx_hash,
    )


def revert_to_domain_error(exc: TransactionReverted) -> DomainError:
    """What a contract refusal means for the client."""
    name = exc.error_name or "reverted"
    messages = {
        "InvalidAccountNonce": (409, "stale_nonce", "the signature's nonce was already used: sign again"),
        "SignatureExpired": (400, "signature_expired", "the signature's deadline has passed: sign again"),
        "InvalidSignature": (400, "invalid_signature", "the chain rejected the signature"),
        "NotRegisteredDoctor": (403, "not_registered_doctor", "the doctor is not registered in the provider registry"),
        "UnknownRecord": (400, "unknown_record", "a selected record does not exist on chain"),
        "NoPendingRequest": (409, "no_pending_request", "the doctor has no pending request"),
        "NoActiveGrant": (409, "no_active_grant", "the doctor has no live grant (expired or revoked)"),
        "NoPendingExtension": (409, "no_pending_extension", "the doctor has not asked for an extension"),
        "ExtensionMismatch": (409, "extension_mismatch", "the doctor changed the extension request: sign again"),
        "ZeroDuration": (400, "invalid_duration", "the duration must be more than zero"),
        "NoRecordsSelected": (400, "no_records_selected", "select at least one record"),
        "NoWriteGrant": (409, "no_write_grant", "the doctor has no live write grant on this vault"),
        "GrantChanged": (409, "grant_changed", "the grant changed since this was signed: sign again"),
    }
    status, code, message = messages.get(name, (409, "transaction_rejected", f"the chain rejected the action ({name})"))
    kind: type[DomainError] = {400: InvalidInput, 403: NotAllowed}.get(status, Conflict)
    return kind(code, message)
