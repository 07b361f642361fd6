"""Property test: random sequences of grant operations and time travel against a Python model.

Hypothesis draws sequences of, for two doctors over six patient records:
- read grants: approveAccess (id lists) and approveRecords (bitmaps, directly or signed), revokeAccess,
  revokeRecords, requestExtension + approveExtension (directly, or signed with the grant's current or a
  stale generation), requestAccess + denyAccess;
- write grants: approveWrite, revokeWrite, addRecordAsDoctor (which adds records, so ids move);
- nonce invalidation: the patient or a doctor signs an action, cancels it with invalidateNonce (or its
  signed variant), and the signature must then fail;
- the registry: unregistering and re-registering a doctor, separately or back to back (grants do
  not come back);
- time travel, including landing exactly on an expiry.

Every transaction is mined at an exact, known timestamp. After each step the contract's `canRead`,
`getApprovedRecords`, `getGrant`, `canWrite`, `getWriteGrant`, `nonces` and `recordCount` must equal
the model's, and every transaction the model says must fail must revert with the model's error.

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

from . import eip712
from .helpers import addr, hex_data, revert_of, rpc, send_raw, succeeded, transact_fast

N_RECORDS = 6
RECORD_HASHES = [bytes([i + 1]) * 32 for i in range(N_RECORDS)]
DOCTOR_HASH = bytes.fromhex("d0" * 32)
PATIENT_KEY_INDEX, DOCTOR_KEY_INDEXES = 1, (2, 3)
PATIENT = "patient"
SIG_TTL = 3600


# ------------------------------------------------------------------ the model


@dataclass
class GrantModel:
    expires_at: int = 0
    pending_extension: int = 0
    request_pending: bool = False
    generation: int = 0
    registration: int = 0
    ids: set[int] = field(default_factory=set)


@dataclass
class WriteModel:
    expires_at: int = 0
    registration: int = 0


@dataclass
class DoctorModel:
    registered: bool = True
    registration_id: int = 1

    @property
    def current(self) -> int:
        """What `registrationOf` answers: the latest registration's id, 0 while unregistered."""
        return self.registration_id if self.registered else 0


@dataclass
class Model:
    """The rules, written independently of the contract's data layout."""

    grants: dict[int, GrantModel] = field(default_factory=lambda: {0: GrantModel(), 1: GrantModel()})
    writes: dict[int, WriteModel] = field(default_factory=lambda: {0: WriteModel(), 1: WriteModel()})
    doctors: dict[int, DoctorModel] = field(default_factory=lambda: {0: DoctorModel(), 1: DoctorModel()})
    nonces: dict[object, int] = field(default_factory=lambda: {PATIENT: 0, 0: 0, 1: 0})
    hashes: list[bytes] = field(default_factory=lambda: list(RECORD_HASHES))

    # Each method applies one action at block time `t` and returns the expected error name, or None.

    def _read_live(self, d: int, t: int) -> bool:
        g = self.grants[d]
        return g.expires_at > t and g.registration == self.doctors[d].current

    def _new_grant(self, d: int, t: int, duration: int, ids: set[int]) -> str | None:
        """What every approval shares: the registration it binds, a new generation, a new id set."""
        g = self.grants[d]
        registration = g.registration if g.request_pending else self.doctors[d].current
        if registration == 0 and not g.request_pending:
            return "NotRegisteredDoctor"
        self.grants[d] = GrantModel(
            expires_at=t + duration, generation=g.generation + 1, registration=registration, ids=ids
        )
        return None

    def approve(self, d: int, t: int, duration: int, ids: list[int]) -> str | None:
        if not self.grants[d].request_pending and self.doctors[d].current == 0:
            return "NotRegisteredDoctor"
        if any(i >= len(self.hashes) for i in ids):
            return "UnknownRecord"
        return self._new_grant(d, t, duration, set(ids))

    def approve_records(self, d: int, t: int, duration: int, bits: int) -> str | None:
        if not self.grants[d].request_pending and self.doctors[d].current == 0:
            return "NotRegisteredDoctor"
        ids = {i for i in range(256) if bits >> i & 1}
        if any(i >= len(self.hashes) for i in ids):
            return "UnknownRecord"
        if not ids:
            return "NoRecordsSelected"
        return self._new_grant(d, t, duration, ids)

    def revoke(self, d: int, t: int) -> str | None:
        g = self.grants[d]
        if g.expires_at <= t:
            return "NoActiveGrant"
        g.expires_at, g.pending_extension = 0, 0
        return None

    def revoke_records(self, d: int, t: int, ids: list[int]) -> str | None:
        g = self.grants[d]
        if g.expires_at <= t:
            return "NoActiveGrant"
        if any(i >= len(self.hashes) for i in ids):
            return "UnknownRecord"
        g.ids -= set(ids)
        return None

    def request_extension(self, d: int, t: int, extra: int) -> str | None:
        if self.doctors[d].current == 0:
            return "NotRegisteredDoctor"
        if not self._read_live(d, t):
            return "NoActiveGrant"
        self.grants[d].pending_extension = extra
        return None

    def approve_extension(self, d: int, t: int, agreed: int, generation: int | None = None) -> str | None:
        g = self.grants[d]
        if generation is not None and generation != g.generation:
            return "GrantChanged"
        if self.doctors[d].current == 0:
            return "NotRegisteredDoctor"
        if g.pending_extension == 0:
            return "NoPendingExtension"
        if agreed != g.pending_extension:
            return "ExtensionMismatch"
        if not self._read_live(d, t):
            return "NoActiveGrant"
        g.expires_at += g.pending_extension
        g.pending_extension = 0
        return None

    def request_access(self, d: int, t: int) -> str | None:
        current = self.doctors[d].current
        if current == 0:
            return "NotRegisteredDoctor"
        g = self.grants[d]
        if g.registration != current:  # a request under a new registration ends the old grant
            g.expires_at, g.pending_extension, g.registration = 0, 0, current
        g.request_pending = True
        return None

    def deny(self, d: int, t: int) -> str | None:
        g = self.grants[d]
        if not g.request_pending:
            return "NoPendingRequest"
        g.request_pending = False
        return None

    def approve_write(self, d: int, t: int, duration: int) -> str | None:
        if self.doctors[d].current == 0:
            return "NotRegisteredDoctor"
        self.writes[d] = WriteModel(t + duration, self.doctors[d].current)
        return None

    def revoke_write(self, d: int, t: int) -> str | None:
        if self.writes[d].expires_at <= t:
            return "NoWriteGrant"
        self.writes[d] = WriteModel()
        return None

    def add_record_as_doctor(self, d: int, t: int) -> str | None:
        if self.doctors[d].current == 0:
            return "NotRegisteredDoctor"
        if not self.can_write(d, t):
            return "NoWriteGrant"
        self.hashes.append(DOCTOR_HASH)
        return None

    def unregister(self, d: int) -> str | None:
        if not self.doctors[d].registered:
            return "DoctorNotRegistered"
        self.doctors[d].registered = False
        return None

    def register(self, d: int) -> str | None:
        if self.doctors[d].registered:
            return "DoctorAlreadyRegistered"
        self.doctors[d] = DoctorModel(registered=True, registration_id=self.doctors[d].registration_id + 1)
        return None

    def use_nonce(self, who: object) -> None:
        self.nonces[who] += 1

    # Expected views at time `now`.

    def can_read(self, d: int, record_id: int, now: int) -> bool:
        return record_id < len(self.hashes) and self._read_live(d, now) and record_id in self.grants[d].ids

    def approved(self, d: int, now: int) -> tuple[list[int], list[bytes], int]:
        if not self._read_live(d, now):
            return [], [], 0
        ids = sorted(self.grants[d].ids)
        return ids, [self.hashes[i] for i in ids], self.grants[d].expires_at

    def grant_view(self, d: int) -> tuple[int, int, bool, int, int]:
        g = self.grants[d]
        return g.expires_at, g.pending_extension, g.request_pending, g.generation, g.registration

    def can_write(self, d: int, now: int) -> bool:
        w = self.writes[d]
        return w.expires_at > now and w.registration == self.doctors[d].current


# ------------------------------------------------------------------ strategies

doctor_st = st.integers(0, 1)
# Mostly existing ids; one list in five also names an id that (probably) does not exist.
ids_st = st.tuples(st.lists(st.integers(0, N_RECORDS - 1), min_size=1, max_size=6), st.integers(0, 4)).map(
    lambda pair: pair[0] + [N_RECORDS + 1] if pair[1] == 0 else pair[0]
)
# One bitmap word: bits 0..5 are the patient's records, 6 and 7 exist only after doctors add records.
bits_st = st.one_of(st.integers(1, 2**N_RECORDS - 1), st.integers(1, 2**N_RECORDS - 1), st.integers(0, 255), st.just(0))
seconds_st = st.integers(1, 600)
approve_st = st.tuples(st.just("approve"), doctor_st, seconds_st, ids_st)
who_st = st.sampled_from([PATIENT, 0, 1])

step_st = st.one_of(
    approve_st,
    st.tuples(st.just("approveRecords"), doctor_st, seconds_st, bits_st),
    st.tuples(st.just("approveRecordsBySig"), doctor_st, seconds_st, bits_st),
    st.tuples(st.just("revoke"), doctor_st),
    st.tuples(st.just("revokeRecords"), doctor_st, ids_st),
    st.tuples(st.just("requestExtension"), doctor_st, seconds_st),
    st.tuples(st.just("approveExtension"), doctor_st, st.booleans()),  # False: agree to a wrong amount
    # requestExtension immediately followed by the patient's approval (signed with a stale generation
    # when the last flag is False)
    st.tuples(st.just("extend"), doctor_st, seconds_st, st.booleans()),
    st.tuples(st.just("extendBySig"), doctor_st, seconds_st, st.booleans()),
    st.tuples(st.just("requestAccess"), doctor_st),
    st.tuples(st.just("deny"), doctor_st),
    st.tuples(st.just("approveWrite"), doctor_st, seconds_st),
    st.tuples(st.just("revokeWrite"), doctor_st),
    st.tuples(st.just("addRecordAsDoctor"), doctor_st),
    # sign an action, cancel it (directly, or by signature when the flag is True), relay it: it fails
    st.tuples(st.just("invalidate"), who_st, st.booleans()),
    st.tuples(st.just("unregister"), doctor_st),
    st.tuples(st.just("register"), doctor_st),
    # unregister and register again at once: the old grants must stay dead
    st.tuples(st.just("reregister"), doctor_st),
    st.tuples(st.just("warp"), st.integers(1, 400)),
    # land exactly on (or one second around) a doctor's expiry, where off-by-one bugs live
    st.tuples(st.just("warpToExpiry"), doctor_st, st.integers(-1, 1)),
)


# ------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def env(factory, project, deployer, patient, doctor, doctor2, relayer, chain_id):
    transact_fast(factory, "createVault", patient, sender=relayer)
    vault = project.HealthRecord.at(factory.vaultOf(patient))
    for content in RECORD_HASHES:
        transact_fast(vault, "addReport", content, sender=patient)
    assert vault.recordCount() == N_RECORDS
    assert [factory.registrationOf(d) for d in (doctor, doctor2)] == [1, 1]
    return {
        "vault": vault,
        "factory": factory,
        "deployer": deployer,
        "patient": patient,
        "relayer": relayer,
        "doctors": [doctor, doctor2],
        "keys": {PATIENT: eip712.dev_private_key(PATIENT_KEY_INDEX)}
        | {d: eip712.dev_private_key(i) for d, i in enumerate(DOCTOR_KEY_INDEXES)},
        "dom": {"chain_id": chain_id, "verifying_contract": vault.address},
    }


def _head() -> tuple[int, int]:
    block = rpc("eth_getBlockByNumber", ["latest", False])
    return int(block["number"], 16), int(block["timestamp"], 16)


_RETURN_TYPES = {
    "canRead": ["bool"],
    "getApprovedRecords": ["uint256[]", "bytes32[]", "uint64"],
    "getGrant": ["uint64", "uint64", "bool", "uint32", "uint32"],
    "canWrite": ["bool"],
    "getWriteGrant": ["uint64"],
    "nonces": ["uint256"],
    "recordCount": ["uint256"],
}


def _read_all(env, n_ids: int) -> list:
    """Every view the model predicts, as one JSON-RPC batch (one HTTP round trip), at `latest`."""
    vault, doctors = env["vault"], [addr(d) for d in env["doctors"]]
    calls: list[tuple[str, tuple]] = [("recordCount", ()), ("nonces", (addr(env["patient"]),))]
    for d in doctors:
        calls += [("canRead", (d, i)) for i in range(n_ids)]
        calls += [("getApprovedRecords", (d,)), ("getGrant", (d,))]
        calls += [("canWrite", (d,)), ("getWriteGrant", (d,)), ("nonces", (d,))]
    calls += [("canRead", (addr(env["patient"]), i)) for i in range(n_ids)]
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
    n_ids = len(model.hashes) + 1  # every record, and the first id that does not exist
    results = iter(_read_all(env, n_ids))
    where = f"at t={now} after {history}"
    assert next(results) == len(model.hashes), f"recordCount {where}"
    assert next(results) == model.nonces[PATIENT], f"nonces(patient) {where}"
    for d in range(2):
        for i in range(n_ids):
            assert next(results) == model.can_read(d, i, now), f"canRead(doctor{d}, {i}) {where}"
        ids, hashes, expires_at = next(results)
        exp_ids, exp_hashes, exp_expiry = model.approved(d, now)
        assert (list(ids), [HexBytes(h) for h in hashes], expires_at) == (
            exp_ids,
            [HexBytes(h) for h in exp_hashes],
            exp_expiry,
        ), f"getApprovedRecords(doctor{d}) {where}"
        assert tuple(next(results)) == model.grant_view(d), f"getGrant(doctor{d}) {where}"
        can_write = model.can_write(d, now)
        assert next(results) == can_write, f"canWrite(doctor{d}) {where}"
        assert next(results) == (model.writes[d].expires_at if can_write else 0), f"getWriteGrant(doctor{d}) {where}"
        assert next(results) == model.nonces[d], f"nonces(doctor{d}) {where}"
    for i in range(n_ids):
        assert next(results) == (i < len(model.hashes)), f"patient canRead({i}) {where}"


def _send(env, contract, method: str, args: tuple, sender, t: int, expected: str | None) -> dict:
    """Send one transaction mined at block time `t` and check it against the model's verdict."""
    rpc("evm_setNextBlockTimestamp", [t])
    tx_hash, receipt = send_raw(contract, method, *args, sender=sender)
    if expected is None:
        assert succeeded(receipt), f"{method}{args} at t={t} reverted with {revert_of(contract, tx_hash)}"
    else:
        assert not succeeded(receipt), f"{method}{args} at t={t} succeeded; model expected {expected}"
        assert revert_of(contract, tx_hash)[0] == expected, f"{method}{args} at t={t}"
    event(f"{method}: {expected or 'ok'}")  # shown by --hypothesis-show-statistics
    return receipt


def _sign(env, who: object, payload_builder, *args, t: int) -> tuple[int, int, bytes]:
    """(nonce, deadline, signature) of `who`'s current nonce over `payload_builder(*args, ...)`."""
    nonce, deadline = env["model"].nonces[who], t + SIG_TTL
    payload = payload_builder(*args, nonce, deadline, **env["dom"])
    return nonce, deadline, eip712.sign(env["keys"][who], payload)


def _run(env, model: Model, step: tuple, t: int) -> None:
    """Send `step` mined at block time `t` (signed steps: relayed by the relayer)."""
    vault, patient, doctors, relayer = env["vault"], env["patient"], env["doctors"], env["relayer"]
    kind, d = step[0], step[1]
    doctor = doctors[d] if isinstance(d, int) else None
    contract = vault
    if kind == "approve":
        expected = model.approve(d, t, step[2], step[3])
        call = ("approveAccess", (doctor, step[2], step[3]), patient)
    elif kind == "approveRecords":
        expected = model.approve_records(d, t, step[2], step[3])
        call = ("approveRecords", (doctor, step[2], 0, [step[3]]), patient)
    elif kind == "approveRecordsBySig":
        nonce, deadline, sig = _sign(env, PATIENT, eip712.approve_records, doctor.address, step[2], 0, [step[3]], t=t)
        expected = model.approve_records(d, t, step[2], step[3])
        if expected is None:
            model.use_nonce(PATIENT)
        call = ("approveRecordsBySig", (doctor, step[2], 0, [step[3]], nonce, deadline, sig), relayer)
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
    elif kind == "approveExtensionBySig":
        agreed = max(model.grants[d].pending_extension, 1)
        current = model.grants[d].generation
        generation = current if step[2] else (current - 1 if current else current + 1)
        nonce, deadline, sig = _sign(env, PATIENT, eip712.approve_extension, doctor.address, agreed, generation, t=t)
        expected = model.approve_extension(d, t, agreed, generation)
        if expected is None:
            model.use_nonce(PATIENT)
        call = ("approveExtensionBySig", (doctor, agreed, generation, nonce, deadline, sig), relayer)
    elif kind == "requestAccess":
        expected = model.request_access(d, t)
        call = ("requestAccess", (), doctor)
    elif kind == "deny":
        expected = model.deny(d, t)
        call = ("denyAccess", (doctor,), patient)
    elif kind == "approveWrite":
        expected = model.approve_write(d, t, step[2])
        call = ("approveWrite", (doctor, step[2]), patient)
    elif kind == "revokeWrite":
        expected = model.revoke_write(d, t)
        call = ("revokeWrite", (doctor,), patient)
    elif kind == "addRecordAsDoctor":
        expected = model.add_record_as_doctor(d, t)
        call = ("addRecordAsDoctor", (0, DOCTOR_HASH), doctor)
    elif kind in ("unregister", "register"):
        expected = model.unregister(d) if kind == "unregister" else model.register(d)
        contract = env["factory"]
        call = (f"{kind}Doctor", (doctor,), env["deployer"])
    else:
        raise AssertionError(kind)

    method, args, sender = call
    receipt = _send(env, contract, method, args, sender, t, expected)
    if kind == "addRecordAsDoctor" and expected is None:
        # RecordAdded(recordId, kind, author, contentHash): the author topic is the doctor.
        (log,) = receipt["logs"]
        assert HexBytes(log["topics"][3])[-20:] == HexBytes(doctor.address)


def _invalidate(env, model: Model, who: object, by_sig: bool, t: int) -> None:
    """`who` signs an action with their current nonce, cancels it, and the relayed signature fails."""
    vault, relayer = env["vault"], env["relayer"]
    account = env["patient"] if who == PATIENT else env["doctors"][who]
    if who == PATIENT:
        doctor = env["doctors"][0]
        nonce, deadline, sig = _sign(env, PATIENT, eip712.approve_write, doctor.address, 600, t=t)
        held = ("approveWriteBySig", (doctor, 600, nonce, deadline, sig))
    else:
        nonce, deadline, sig = _sign(env, who, eip712.request_access, account.address, t=t)
        held = ("requestAccessBySig", (account, nonce, deadline, sig))
    if by_sig:
        n, dl, cancel = _sign(env, who, eip712.invalidate_nonce, account.address, t=t)
        _send(env, vault, "invalidateNonceBySig", (account, n, dl, cancel), relayer, t, None)
    else:
        _send(env, vault, "invalidateNonce", (), account, t, None)
    model.use_nonce(who)
    _send(env, vault, *held, relayer, t + 1, "InvalidAccountNonce")


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
        env["model"] = model
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
            elif step[0] in ("extend", "extendBySig"):
                _, d, extra, flag = step
                now += 1
                _run(env, model, ("requestExtension", d, extra), now)
                now += 1
                if step[0] == "extend":
                    _run(env, model, ("approveExtension", d, flag), now)
                else:
                    _run(env, model, ("approveExtensionBySig", d, flag), now)
            elif step[0] == "reregister":
                now += 1
                _run(env, model, ("unregister", step[1]), now)
                now += 1
                _run(env, model, ("register", step[1]), now)
            elif step[0] == "invalidate":
                now += 1
                _invalidate(env, model, step[1], step[2], now)
                now += 1
            else:
                now += 1
                _run(env, model, step, now)
            history.append(step)
            assert _head()[1] == now, "the step was not mined at the intended time"
            _check_views(env, model, now, history)
    finally:
        chain.restore(snapshot)
