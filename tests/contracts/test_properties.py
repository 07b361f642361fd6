"""Property test: random sequences of grant operations and time travel against a Python model.

Hypothesis draws sequences of approveAccess / revokeAccess / revokeRecords / requestExtension +
approveExtension / requestAccess + denyAccess / time travel for two doctors over six records (ids
0..5; id 6 does not exist). Every transaction is mined at an exact, known timestamp. After each step
the contract's `canRead`, `getApprovedRecords` and `getGrant` must equal the model's, and every
transaction the model says must fail must revert with the model's error.

Each example runs between `chain.snapshot()` and `chain.restore()`. Transactions and reads use raw
JSON-RPC (reads in one batch) because ape's per-call overhead would make a few hundred steps slow.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import ape
import pytest
from eth_abi import decode as abi_decode
from hexbytes import HexBytes
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from .helpers import addr, hex_data, revert_of, rpc, send_raw, succeeded, transact_fast

N_RECORDS = 6
RECORD_HASHES = [bytes([i + 1]) * 32 for i in range(N_RECORDS)]


# ------------------------------------------------------------------ the model


@dataclass
class GrantModel:
    expires_at: int = 0
    pending_extension: int = 0
    request_pending: bool = False
    ids: set[int] = field(default_factory=set)

    def live(self, now: int) -> bool:
        return self.expires_at > now


@dataclass
class Model:
    """The rules, written independently of the contract's data layout."""

    grants: dict[int, GrantModel] = field(default_factory=lambda: {0: GrantModel(), 1: GrantModel()})

    # Each method applies one action at block time `t` and returns the expected error name, or None.

    def approve(self, d: int, t: int, duration: int, ids: list[int]) -> str | None:
        if any(i >= N_RECORDS for i in ids):
            return "UnknownRecord"
        self.grants[d] = GrantModel(expires_at=t + duration, ids=set(ids))  # replaces everything
        return None

    def revoke(self, d: int, t: int) -> str | None:
        g = self.grants[d]
        if not g.live(t):
            return "NoActiveGrant"
        g.expires_at, g.pending_extension = 0, 0
        return None

    def revoke_records(self, d: int, t: int, ids: list[int]) -> str | None:
        g = self.grants[d]
        if not g.live(t):
            return "NoActiveGrant"
        if any(i >= N_RECORDS for i in ids):
            return "UnknownRecord"
        g.ids -= set(ids)
        return None

    def request_extension(self, d: int, t: int, extra: int) -> str | None:
        g = self.grants[d]
        if not g.live(t):
            return "NoActiveGrant"
        g.pending_extension = extra
        return None

    def approve_extension(self, d: int, t: int, agreed: int) -> str | None:
        g = self.grants[d]
        if g.pending_extension == 0:
            return "NoPendingExtension"
        if agreed != g.pending_extension:
            return "ExtensionMismatch"
        if not g.live(t):
            return "NoActiveGrant"
        g.expires_at += g.pending_extension
        g.pending_extension = 0
        return None

    def request_access(self, d: int, t: int) -> str | None:
        self.grants[d].request_pending = True
        return None

    def deny(self, d: int, t: int) -> str | None:
        g = self.grants[d]
        if not g.request_pending:
            return "NoPendingRequest"
        g.request_pending = False
        return None

    # Expected views at time `now`.

    def can_read(self, d: int, record_id: int, now: int) -> bool:
        g = self.grants[d]
        return g.live(now) and record_id in g.ids

    def approved(self, d: int, now: int) -> tuple[list[int], list[bytes], int]:
        g = self.grants[d]
        if not g.live(now):
            return [], [], 0
        ids = sorted(g.ids)
        return ids, [RECORD_HASHES[i] for i in ids], g.expires_at

    def grant_view(self, d: int) -> tuple[int, int, bool]:
        g = self.grants[d]
        return g.expires_at, g.pending_extension, g.request_pending


# ------------------------------------------------------------------ strategies

doctor_st = st.integers(0, 1)
# Mostly existing ids; one list in five also names the id that does not exist.
ids_st = st.tuples(st.lists(st.integers(0, N_RECORDS - 1), min_size=1, max_size=6), st.integers(0, 4)).map(
    lambda pair: pair[0] + [N_RECORDS] if pair[1] == 0 else pair[0]
)
seconds_st = st.integers(1, 600)
approve_st = st.tuples(st.just("approve"), doctor_st, seconds_st, ids_st)

step_st = st.one_of(
    approve_st,
    approve_st,  # twice: most interesting sequences need a grant
    st.tuples(st.just("revoke"), doctor_st),
    st.tuples(st.just("revokeRecords"), doctor_st, ids_st),
    st.tuples(st.just("requestExtension"), doctor_st, seconds_st),
    st.tuples(st.just("approveExtension"), doctor_st, st.booleans()),  # False: agree to a wrong amount
    # requestExtension immediately followed by the patient's approveExtension
    st.tuples(st.just("extend"), doctor_st, seconds_st, st.booleans()),
    st.tuples(st.just("requestAccess"), doctor_st),
    st.tuples(st.just("deny"), doctor_st),
    st.tuples(st.just("warp"), st.integers(1, 400)),
    # land exactly on (or one second around) a doctor's expiry, where off-by-one bugs live
    st.tuples(st.just("warpToExpiry"), doctor_st, st.integers(-1, 1)),
)


# ------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def env(factory, project, patient, doctor, doctor2, relayer):
    transact_fast(factory, "createVault", patient, sender=relayer)
    vault = project.HealthRecord.at(factory.vaultOf(patient))
    for content in RECORD_HASHES:
        transact_fast(vault, "addReport", content, sender=patient)
    assert vault.recordCount() == N_RECORDS
    return {
        "vault": vault,
        "patient": patient,
        "doctors": [doctor, doctor2],
    }


def _head() -> tuple[int, int]:
    block = rpc("eth_getBlockByNumber", ["latest", False])
    return int(block["number"], 16), int(block["timestamp"], 16)


_RETURN_TYPES = {
    "canRead": ["bool"],
    "getApprovedRecords": ["uint256[]", "bytes32[]", "uint64"],
    "getGrant": ["uint64", "uint64", "bool", "uint32"],
}


def _read_all(env) -> list:
    """Every view the model predicts, as one JSON-RPC batch (one HTTP round trip), at `latest`."""
    vault, doctors = env["vault"], [addr(d) for d in env["doctors"]]
    calls: list[tuple[str, tuple]] = []
    for d in doctors:
        calls += [("canRead", (d, i)) for i in range(N_RECORDS + 1)]
        calls += [("getApprovedRecords", (d,)), ("getGrant", (d,))]
    calls += [("canRead", (addr(env["patient"]), i)) for i in range(N_RECORDS + 1)]
    batch = [
        ("eth_call", [{"to": vault.address, "data": hex_data(getattr(vault, method).encode_input(*args))}, "latest"])
        for method, args in calls
    ]
    responses = ape.chain.provider.web3.provider.make_batch_request(batch)
    assert isinstance(responses, list) and len(responses) == len(calls), responses
    results = []
    for (method, _), response in zip(calls, responses, strict=True):
        assert "error" not in response, f"{method}: {response['error']}"
        values = abi_decode(_RETURN_TYPES[method], HexBytes(response["result"]))
        results.append(values[0] if len(values) == 1 else values)
    return results


def _check_views(env, model: Model, now: int, history: list) -> None:
    results = iter(_read_all(env))
    for d in range(2):
        for i in range(N_RECORDS + 1):
            assert next(results) == model.can_read(d, i, now), f"canRead(doctor{d}, {i}) at t={now} after {history}"
        ids, hashes, expires_at = next(results)
        exp_ids, exp_hashes, exp_expiry = model.approved(d, now)
        assert (list(ids), [HexBytes(h) for h in hashes], expires_at) == (
            exp_ids,
            [HexBytes(h) for h in exp_hashes],
            exp_expiry,
        ), f"getApprovedRecords(doctor{d}) at t={now} after {history}"
        assert tuple(next(results))[:3] == model.grant_view(d), f"getGrant(doctor{d}) at t={now} after {history}"
    for i in range(N_RECORDS + 1):
        assert next(results) == (i < N_RECORDS), f"patient canRead({i})"


def _run(env, model: Model, step: tuple, t: int) -> str | None:
    """Send `step` mined at block time `t`; returns the model's expected error (already checked)."""
    vault, patient, doctors = env["vault"], env["patient"], env["doctors"]
    kind, d = step[0], step[1]
    doctor = doctors[d]
    if kind == "approve":
        expected = model.approve(d, t, step[2], step[3])
        call = ("approveAccess", (doctor, step[2], step[3]), patient)
    elif kind == "revoke":
        expected = model.revoke(d, t)
        call = ("revokeAccess", (doctor,), patient)
    elif kind == "revokeRecords":
        expected = model.revoke_records(d, t, step[2])
        call = ("revokeRecords", (doctor, step[2]), patient)
    elif kind == "requestExtension":
        expected = model.request_extension(d, t, step[2])
        call = ("requestExtension", (step[2],), doctor)
    elif kind == "approveExtension":
        pending = model.grants[d].pending_extension
        agreed = max(pending, 1) if step[2] else pending + 7
        expected = model.approve_extension(d, t, agreed)
        call = ("approveExtension", (doctor, agreed), patient)
    elif kind == "requestAccess":
        expected = model.request_access(d, t)
        call = ("requestAccess", (), doctor)
    elif kind == "deny":
        expected = model.deny(d, t)
        call = ("denyAccess", (doctor,), patient)
    else:
        raise AssertionError(kind)

    method, args, sender = call
    rpc("evm_setNextBlockTimestamp", [t])
    tx_hash, receipt = send_raw(vault, method, *args, sender=sender)
    if expected is None:
        assert succeeded(receipt), f"{method}{args} at t={t} reverted with {revert_of(vault, tx_hash)}"
    else:
        assert not succeeded(receipt), f"{method}{args} at t={t} succeeded; model expected {expected}"
        assert revert_of(vault, tx_hash)[0] == expected
    event(f"{method}: {expected or 'ok'}")  # shown by --hypothesis-show-statistics
    return expected


valid_ids_st = st.lists(st.integers(0, N_RECORDS - 1), min_size=1, max_size=6)
# Every sequence starts by granting both doctors something, then runs random steps.
opening_st = st.tuples(
    st.tuples(st.just("approve"), st.just(0), seconds_st, valid_ids_st),
    st.tuples(st.just("approve"), st.just(1), seconds_st, valid_ids_st),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(opening=opening_st, rest=st.lists(step_st, min_size=2, max_size=16))
def test_grants_match_model(env, opening, rest):
    steps = [*opening, *rest]
    chain = ape.chain
    snapshot = chain.snapshot()
    try:
        model = Model()
        _, now = _head()
        history: list = []
        for step in steps:
            if step[0] in ("warp", "warpToExpiry"):
                if step[0] == "warp":
                    target = now + step[1]
                else:
                    target = max(model.grants[step[1]].expires_at + step[2], now + 1)
                now = target
                rpc("evm_setNextBlockTimestamp", [now])
                rpc("evm_mine", [])
            elif step[0] == "extend":
                _, d, extra, agree = step
                now += 1
                _run(env, model, ("requestExtension", d, extra), now)
                now += 1
                _run(env, model, ("approveExtension", d, agree), now)
            else:
                now += 1
                _run(env, model, step, now)
            history.append(step)
            assert _head()[1] == now, "the step was not mined at the intended time"
            _check_views(env, model, now, history)
    finally:
        chain.restore(snapshot)
