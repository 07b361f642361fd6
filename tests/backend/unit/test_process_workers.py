"""CPU-heavy pure work runs in worker processes (process_workers.py), so a C call that holds the GIL
(`json.loads` of a Bundle) does not hold the API's event loop; domain errors cross back as themselves,
and a worker that dies costs its call a 503, not the instance its pool."""

from __future__ import annotations

import os
import pickle

import pytest
from healthledger.domain_errors import DomainError, RateLimited, ServiceUnavailable, TooLarge, bad_request
from healthledger.fhir.import_plan import plan_json
from healthledger.process_workers import ProcessWorkers



@pytest.mark.asyncio
async def test_work_runs_in_another_process(workers: ProcessWorkers) -> None:
    assert await workers.run(os.getpid) != os.getpid()
    assert await workers.run(plan_json, b'{"resourceType": "Bundle", "type": "collection"}', "0x" + "ab" * 20, 1024) == (
        b'{"records":[],"refused":[]}'
    )


@pytest.mark.asyncio
async def test_a_domain_error_in_a_worker_reaches_the_caller_as_itself(workers: ProcessWorkers) -> None:
    with pytest.raises(DomainError) as raised:
        await workers.run(plan_json, b"not json", "0x" + "ab" * 20, 1024)
    assert type(raised.value).__name__ == "InvalidInput"
    assert (raised.value.code, raised.value.message) == ("invalid_fhir", "invalid FHIR: the Bundle is not UTF-8 JSON")


@pytest.mark.parametrize(
    "error",
    [
        bad_request("invalid_fhir", "invalid FHIR at entry: must be a list", field="entry"),
        TooLarge("bundle_too_large", "too much for one Bundle"),
        RateLimited("rate_limited", "slow down", retry_after_seconds=3),
    ],
)
def test_domain_errors_pickle_with_kind_code_message_and_details(error: DomainError) -> None:
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is type(error)
    assert (copy.code, copy.message, copy.details, str(copy)) == (error.code, error.message, error.details, str(error))


@pytest.mark.asyncio
async def test_a_dead_worker_fails_its_call_with_503_and_the_next_call_gets_a_new_pool(workers: ProcessWorkers) -> None:
    first_worker = await workers.run(os.getpid)
    with pytest.raises(ServiceUnavailable) as raised:
        await workers.run(os._exit, 1)
    assert raised.value.code == "worker_unavailable"
    second_worker = await workers.run(os.getpid)
    assert second_worker not in (first_worker, os.getpid())


def test_workers_must_be_at_least_one() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        ProcessWorkers(0)
