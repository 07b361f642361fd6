"""Schemathesis against the running API: generated requests for every operation, 0 server errors,
and every answer as the OpenAPI document says (status, body schema, content type, headers).

What runs: the API's own OpenAPI schema (`/openapi.json`) is loaded from a live server, and
schemathesis' pytest integration (`schemathesis.pytest.from_fixture` + `parametrize`) turns every
operation into a Hypothesis test whose cases go over real HTTP (`case.call`) to that server, which
runs on the session's real Anvil, js-ipfs and SecantusDB. The same operations are fuzzed four
times, once per caller: anonymous (generated bearer tokens for the `HTTPBearer` scheme, or none), a patient, a
registered doctor and the registrar (dev account #0), each signed in over SIWE with `Wallet`. A
signed-in caller's bearer token replaces whatever `Authorization` value was generated, so cases get
past authentication and reach each role's validation and services (except the coverage phase's few
cases per operation that leave the header out on purpose: those check the 401 `missing_token`).

What is checked on every response: our own two checks, and schemathesis' four conformance checks
(not its whole default set, whose negative-data and auth checks test the generator's guesses):

- `no_server_error`: no 5xx. The one exception is the documented configuration state of
  `POST /api/admin/doctors` and `DELETE /api/admin/doctors/{address}`: 503 `relayer_not_registrar`,
  since the session's relayer (dev #9) deliberately holds no REGISTRAR_ROLE. Dependency outages
  (502/503/504 such as `chain_unavailable`) count as failures: every service is up, so such an
  answer would mean bad input was taken for an outage.
- `error_shape`: every 4xx/5xx is JSON `{"error": {"code": str, "message": str}}`.
- `status_code_conformance`: the operation documents the status (each route lists its error
  statuses with `errors(...)`, api/schemas/errors.py); `response_schema_conformance`: the body
  validates against the documented schema (the routes' response models, the ErrorResponse model);
  `content_type_conformance` and `response_headers_conformance`: the documented media type and
  headers.

Getting past the first check: random strings never make a valid address, signature or CID, so a
small world is set up first (a patient with one uploaded record, a registered doctor who asked that
patient for access) and schemathesis draws, some of the time, from dictionaries of its real values
(`parameters` in the config): addresses, well-formed signatures (the patient's real key-derivation
signature among them), the record's CID, the access request's id; integers are drawn some of the
time from the edges of JSON, MongoDB's int64 and EIP-712's uint64/uint256. The free-form `params`
of `POST /api/signing/typed-data` get structured bodies from a `flatmap_body` hook (an action the
caller may sign, with the fields it needs), and that operation gets more examples.

Bounds, so the module stays under 2 minutes on a 2-core machine (10,320 requests to 64 operations
in 107 s here, measured while the machine ran about 40% slower than usual):
`generation.max-examples` per operation and caller in the fuzzing phase, plus schemathesis'
coverage phase (boundary values, missing and wrongly typed fields, for valid and invalid data); a
fixed seed with `deterministic` generation, so the same choices are made on every
run (the wallets, hence the addresses, are new each run); no shrinking (a failure report already
carries a curl command to replay it); no example database (nothing written to `.hypothesis/`);
Hypothesis' `too_slow` health check off (generation time on a busy machine is not what this tests).
Generated framing headers (`Content-Length` and the like) are dropped before a case is sent: the
HTTP client sets those (FRAMING_HEADERS says why).
The stateful phase is off: the schema declares no OpenAPI links.

Chain state: every operation that makes the relayer send a transaction first checks an EIP-712
signature by the caller's own wallet over exactly the requested action, which the fuzzer cannot
produce (its signatures are key-derivation signatures or junk), so nothing is relayed or paid
for; `test_fuzzing_made_the_relayer_send_nothing` checks the relayer's transaction count. The registry operations (`/api/admin/doctors`) need the API's relayer to hold REGISTRAR_ROLE,
which the world's fixture asserts it does not, so they stop at the 503 above. One operation is
excluded: `GET /api/system/selftest` takes no input to fuzz, and what it does is run a real
workflow whose throwaway wallets sign real actions (so the relayer would send transactions); it
has its own tests (tests/backend/test_observability_api.py). The fuzzed API has a database of its own on the session's MongoDB server: profiles
and rate-limit counters it creates are invisible to other tests. On chain it
adds what other tests add too: one registered doctor, one patient's vault, one record
and one access request.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections import Counter
from collections.abc import Iterator, MutableMapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from eth_account import Account
from hypothesis import strategies as st
from schemathesis import Case
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from healthledger.chain import typed_data
from healthledger.chain.client import ChainClient
from healthledger.chain.deployment import Deployment
from healthledger.chain.relayer import Relayer
from healthledger.devstack.anvil import AnvilNode
from healthledger.devstack.process import free_port
from healthledger.settings import Settings

from .fixtures.api import ApiServer, serve
from .support.access import pending_requests, request_access
from .support.records import content_hash as commitment, upload
from .support.wallet import Wallet

# Generated cases per operation and caller in the fuzzing phase; the coverage phase adds its own
# deterministic cases on top (a few to a few dozen per operation).
MAX_EXAMPLES = 10
TYPED_DATA_MAX_EXAMPLES = 60
SEED = 20260514

ROLES = ("anonymous", "patient", "doctor", "registrar")
# Not fuzzed (see the module docstring): it runs a real signed workflow, and takes no input.
SELFTEST_PATH = "/api/system/selftest"

# The one 5xx the API may give with every service up: the registry operations, while the API's
# relayer holds no REGISTRAR_ROLE (the session's deployment gives it none, on purpose).
ALLOWED_SERVER_ERRORS = {
    ("POST", "/api/admin/doctors"): {(503, "relayer_not_registrar")},
    ("DELETE", "/api/admin/doctors/{address}"): {(503, "relayer_not_registrar")},
}

# Integers at the edges of what the API's layers hold: JSON (none), MongoDB (int64), EIP-712 (uint64
# durations, uint256 ids, nonces and deadlines), and just past them.
EDGE_INTEGERS = [-1, 0, 1, 2**31, 2**53 + 1, 2**63 - 1, 2**63, 2**64 - 1, 2**64, 2**256 - 1, 2**256]
ZERO_ADDRESS = "0x" + "00" * 20


@dataclass
class FuzzStats:
    """What the module sent: shown at the end of the run (and handy when tuning the bounds)."""

    requests: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    operations: set[str] = field(default_factory=set)


STATS = FuzzStats()


# ----------------------------------------------------------------------------- the server and its world


@dataclass(frozen=True)
class FuzzWorld:
    """The fuzzed API, and what exists in it, so generated requests can name real things."""

    server: ApiServer
    wallets: dict[str, Wallet]  # role -> signed-in wallet
    record_cid: str
    content_hash: str
    request_id: str
    addresses: list[str]  # the three callers', one lower-cased, the zero address, a stranger's
    signatures: list[str]  # well-formed: the patient's and doctor's key-derivation signatures, and others
    relayer_transactions: int  # what the API's relayer had sent when fuzzing began


async def _register_doctor_without_registrar_relayer(
    rpc_url: str, factory: str, registrar_key: str, doctor: str, api_relayer: str
) -> None:
    """Register the fuzzing doctor, and check that the API's relayer can register nobody itself."""
    chain = ChainClient(rpc_url, factory, timeout_seconds=10.0)
    try:
        assert not await chain.has_registrar_role(api_relayer), (
            "the API's relayer holds REGISTRAR_ROLE: fuzzing /api/admin/doctors would register random doctors"
        )
        await Relayer(chain, registrar_key).register_doctor(doctor)
    finally:
        await chain.aclose()


@pytest.fixture(scope="module")
def fuzz_world(
    api_settings: Settings, anvil: AnvilNode, deployment: Deployment, dev_accounts, relayer_account,
    request: pytest.FixtureRequest,
) -> Iterator[FuzzWorld]:
    """The API on the session's services, on its own port and with its own database, with a patient
    who has one record, a registered doctor who asked that patient for access, and the registrar."""
    update = {"port": free_port(), "mongodb_database": f"healthledger_fuzz_{secrets.token_hex(4)}"}
    registrar_key = dev_accounts[0].private_key
    wallets = {"patient": Wallet.random(), "doctor": Wallet.random(), "registrar": Wallet.from_key(registrar_key)}
    asyncio.run(
        _register_doctor_without_registrar_relayer(
            anvil.rpc_url, deployment.factory, registrar_key, wallets["doctor"].address, relayer_account.address
        )
    )
    settings = api_settings.model_copy(update=update)
    with serve(settings) as server, httpx.Client(base_url=server.url, timeout=60.0) as http:
        for role, wallet in wallets.items():
            assert wallet.login(http)["role"] == role
        patient, doctor = wallets["patient"], wallets["doctor"]
        content = b"fuzzing target record"
        uploaded = upload(http, patient, content)
        assert uploaded.status_code == 201, uploaded.text
        assert request_access(http, doctor, patient.address).status_code == 201
        (pending,) = pending_requests(http, patient)
        yield FuzzWorld(
            server=server,
            wallets=wallets,
            record_cid=uploaded.json()["cid"],
            content_hash=commitment(content),
            request_id=pending["id"],
            addresses=[
                *(wallet.address for wallet in wallets.values()),
                patient.address.lower(),
                ZERO_ADDRESS,
                Account.create().address,
            ],
            signatures=[
                patient.key_signature(http),
                doctor.key_signature(http),
                "0x" + "00" * 65,
                "0x" + "ff" * 64 + "1b",
                Wallet.random().personal_sign("not the key-derivation message"),
            ],
            relayer_transactions=_transactions_sent(anvil, relayer_account.address),
        )
    _report(request)


def _transactions_sent(anvil: AnvilNode, address: str) -> int:
    return int(anvil.rpc("eth_getTransactionCount", [address, "pending"]), 16)


def _report(request: pytest.FixtureRequest) -> None:
    """One line at the end: how many requests the module sent, by status."""
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is None or capture is None or not STATS.requests:
        return
    statuses = ", ".join(f"{status}: {count}" for status, count in sorted(STATS.statuses.items()))
    with capture.global_and_fixture_disabled():
        reporter.write_line(f"\napi fuzz: {STATS.requests} requests to {len(STATS.operations)} operations ({statuses})")


@pytest.fixture(params=ROLES)
def fuzz_role(request: pytest.FixtureRequest) -> str:
    """Who calls: the whole test runs once per role."""
    return request.param


@pytest.fixture
def fuzz_headers(fuzz_role: str, fuzz_world: FuzzWorld) -> dict[str, str]:
    """Headers every generated request of this caller carries: a bearer token, or nothing."""
    wallet = fuzz_world.wallets.get(fuzz_role)
    return wallet.headers if wallet else {}


def _config(world: FuzzWorld) -> schemathesis.Config:
    def bind(dictionary: str, probability: float = 0.5) -> dict[str, Any]:
        return {"dictionary": dictionary, "probability": probability}

    return schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "generation": {
                "max-examples": MAX_EXAMPLES,
                "deterministic": True,
                "no-shrink": True,
                "database": "none",
                "dictionaries": {"integer": bind("integers", 0.3)},
            },
            "phases": {"stateful": {"enabled": False}},
            "suppress-health-check": ["too_slow"],
            "operations": [
                # Its free-form `params` get structured values from `flatmap_body` below: more of them.
                {"include-path": "/api/signing/typed-data", "generation": {"max-examples": TYPED_DATA_MAX_EXAMPLES}},
                {"include-path": SELFTEST_PATH, "enabled": False},
            ],
            # Values drawn for these fields some of the time, so requests get past the first checks.
            "dictionaries": {
                "addresses": {"values": world.addresses},
                "signatures": {"values": world.signatures},
                "cids": {"values": [world.record_cid]},
                "request_ids": {"values": [world.request_id, "0" * 24]},
                "integers": {"values": EDGE_INTEGERS},
            },
            "parameters": {
                **{f"body.{name}": bind("addresses") for name in ("patientAddress", "doctorAddress", "address")},
                "path.address": bind("addresses"),
                **{
                    f"body.{name}": bind("signatures")
                    for name in ("signature", "approvalSignature", "walletSignature", "recordSignature")
                },
                "header.x-wallet-signature": bind("signatures"),
                "path.cid": bind("cids"),
                "body.requestId": bind("request_ids"),
            },
        }
    )


def _typed_data_requests(world: FuzzWorld, role: str) -> st.SearchStrategy[dict[str, Any]]:
    """Bodies for POST /api/signing/typed-data: `params` is a free-form object in the schema, so
    schemathesis alone would seldom name an action this caller may sign with the params it needs;
    these do, with the world's addresses and edge integers."""
    addresses = st.sampled_from(world.addresses)
    numbers = st.one_of(st.sampled_from(EDGE_INTEGERS), st.integers(min_value=0, max_value=10**6))
    record_ids = st.lists(numbers, min_size=1, max_size=3)
    params = {
        "addRecord": {
            "recordType": st.sampled_from([*typed_data.RECORD_KINDS, "x-ray"]),
            "contentHash": st.sampled_from([world.content_hash, "0x" + "00" * 32, "0x1234"]),
        },
        "requestAccess": {"patientAddress": addresses},
        "requestExtension": {"patientAddress": addresses, "extra": numbers},
        "approveAccess": {"doctor": addresses, "recordIds": record_ids, "duration": numbers},
        "denyAccess": {"doctor": addresses},
        "revokeAccess": {"doctor": addresses},
        "revokeRecords": {"doctor": addresses, "recordIds": record_ids},
        "approveExtension": {"doctor": addresses, "extra": numbers},
        "approveRecords": {"doctor": addresses, "recordIds": record_ids, "duration": numbers},
        "approveWrite": {"doctor": addresses, "duration": numbers},
        "revokeWrite": {"doctor": addresses},
        "addRecordAsDoctor": {
            "patientAddress": addresses,
            "recordType": st.sampled_from([*typed_data.RECORD_KINDS, "x-ray"]),
            "contentHash": st.sampled_from([world.content_hash, "0x1234"]),
        },
        "invalidateNonce": {"patientAddress": addresses} if role == "doctor" else {},
    }
    signer = {"patient": "patient", "doctor": "doctor"}.get(role)
    actions = sorted(a for a in params if signer is None or typed_data.ACTION_SIGNER[a] in (signer, "caller"))
    return st.one_of(
        [
            st.fixed_dictionaries({"action": st.just(action), "params": st.fixed_dictionaries(fields)})
            for action in actions
            for fields in [params[action]]
        ]
    )


@pytest.fixture
def api_schema(fuzz_world: FuzzWorld, fuzz_role: str) -> schemathesis.BaseSchema:
    # Depends on `fuzz_role`, so the test below runs once per caller.
    schema = schemathesis.openapi.from_url(f"{fuzz_world.server.url}/openapi.json", config=_config(fuzz_world))
    structured = _typed_data_requests(fuzz_world, fuzz_role)

    @schema.hook
    def flatmap_body(context: schemathesis.HookContext, body: Any) -> st.SearchStrategy[Any]:
        if context.operation is not None and context.operation.path == "/api/signing/typed-data":
            return st.one_of(st.just(body), structured)
        return st.just(body)

    return schema


@pytest.fixture
def http_session() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


# ----------------------------------------------------------------------------- checks


def _error_of(response: schemathesis.Response) -> dict[str, Any] | None:
    try:
        body = json.loads(response.content or b"")
    except ValueError:
        return None
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, dict) else None


def no_server_error(ctx: schemathesis.CheckContext, response: schemathesis.Response, case: Case) -> None:
    """No 5xx, except the documented ones in ALLOWED_SERVER_ERRORS."""
    if response.status_code < 500:
        return
    error = _error_of(response) or {}
    allowed = ALLOWED_SERVER_ERRORS.get((case.operation.method.upper(), case.operation.path), set())
    if (response.status_code, error.get("code")) in allowed:
        return
    raise AssertionError(f"server error {response.status_code}: {response.content[:500]!r}")


def error_shape(ctx: schemathesis.CheckContext, response: schemathesis.Response, case: Case) -> None:
    """Every error is `{"error": {"code": str, "message": str}}`."""
    if response.status_code < 400:
        return
    error = _error_of(response)
    if error is None or not isinstance(error.get("code"), str) or not isinstance(error.get("message"), str):
        raise AssertionError(
            f'{response.status_code} without an {{"error": {{"code", "message"}}}} body: {response.content[:500]!r}'
        )


CHECKS = [
    no_server_error,
    error_shape,
    status_code_conformance,
    response_schema_conformance,
    content_type_conformance,
    response_headers_conformance,
]


# ----------------------------------------------------------------------------- the test

schema = schemathesis.pytest.from_fixture("api_schema")


# Headers that frame the HTTP message itself. The HTTP client sets them from the body it sends; a
# generated value (schemathesis once sent `content-length: @` on a GET) makes a request that is not
# HTTP, and the server refuses it before any application sees it: uvicorn with a plain-text 400, a
# proxy in front of it with its own page. That is the server's part, not the API's: left to the client.
FRAMING_HEADERS = frozenset({"content-length", "transfer-encoding", "host", "connection", "upgrade"})


def leave_framing_to_the_client(headers: MutableMapping[str, str] | None) -> None:
    """Drop generated framing headers (FRAMING_HEADERS) from a case's headers, in place."""
    for name in [name for name in (headers or {}) if name.lower() in FRAMING_HEADERS]:
        del headers[name]  # type: ignore[index]


def test_generated_framing_headers_are_left_to_the_client() -> None:
    headers = {"Content-Length": "@", "QGE`+": "8", "transfer-encoding": "x", "Authorization": "Bearer a"}
    leave_framing_to_the_client(headers)
    assert headers == {"QGE`+": "8", "Authorization": "Bearer a"}


@schema.parametrize()
def test_api_fuzz(case: Case, fuzz_headers: dict[str, str], http_session: requests.Session) -> None:
    leave_framing_to_the_client(case.headers)
    response = case.call(session=http_session, headers=fuzz_headers, timeout=30)
    STATS.requests += 1
    STATS.statuses[response.status_code] += 1
    STATS.operations.add(case.operation.label)
    case.validate_response(response, checks=CHECKS, headers=fuzz_headers)


def test_fuzzing_made_the_relayer_send_nothing(fuzz_world: FuzzWorld, anvil: AnvilNode, relayer_account) -> None:
    # Runs after test_api_fuzz (file order): no generated request got the relayer to pay for anything.
    if not STATS.requests:
        pytest.skip("checks what test_api_fuzz sent: run the two together")
    assert _transactions_sent(anvil, relayer_account.address) == fuzz_world.relayer_transactions
