"""Request ids, the JSON log line that carries them, and the metrics' names and labels, on a small app
wrapped in the real outermost middleware (no servers needed)."""

from __future__ import annotations

import json
import logging

import httpx
import pytest
from fastapi import FastAPI
from healthledger import metrics
from healthledger.api.error_handling import OutermostMiddleware
from healthledger.logging_setup import AllowListFormatter, AllowListTextFormatter
from healthledger.request_context import MAX_REQUEST_ID_LENGTH, current_request_id, valid_request_id


class _Lines(logging.Handler):
    """Collects formatted lines of the `healthledger` loggers."""

    def __init__(self, formatter: logging.Formatter) -> None:
        super().__init__()
        self.setFormatter(formatter)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


def _app() -> FastAPI:
    app = FastAPI()

    @app.get("/api/items/{item_id}")
    async def item(item_id: str) -> dict[str, str | None]:
        logging.getLogger("healthledger.test").info("inside the route", extra={"code": "seen"})
        return {"id": item_id, "request_id": current_request_id()}

    @app.post("/api/medical-records/upload", status_code=201)
    async def upload() -> dict[str, str]:
        return {}

    app.add_middleware(OutermostMiddleware)
    return app


@pytest.fixture
def lines() -> _Lines:
    handler = _Lines(AllowListFormatter())
    logger = logging.getLogger("healthledger")
    old_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(old_level)


async def _get(path: str, **headers: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.get(path, headers=headers)


@pytest.mark.parametrize("value", ["abc-123", "a" * MAX_REQUEST_ID_LENGTH, "trace:1.2_x"])
def test_safe_request_ids_are_accepted(value: str) -> None:
    assert valid_request_id(value) == value


@pytest.mark.parametrize("value", ["", "a" * (MAX_REQUEST_ID_LENGTH + 1), "two words", 'x"y', "line\nbreak", "ä", None])
def test_unsafe_request_ids_are_refused(value: str | None) -> None:
    assert valid_request_id(value) is None


@pytest.mark.asyncio
async def test_a_given_request_id_is_echoed_and_in_every_log_line_of_the_request(lines: _Lines) -> None:
    answer = await _get("/api/items/Qm123", **{"X-Request-ID": "client-id-7"})
    assert answer.headers["x-request-id"] == "client-id-7"
    assert answer.json()["request_id"] == "client-id-7"
    logged = [json.loads(line) for line in lines.lines]
    assert {line["event"] for line in logged} >= {"inside the route", "request"}
    assert all(line["request_id"] == "client-id-7" for line in logged)
    access = next(line for line in logged if line["event"] == "request")
    assert access["route"] == "/api/items/{item_id}" and "Qm123" not in json.dumps(logged)
    assert current_request_id() is None  # not leaked past the request


@pytest.mark.asyncio
async def test_a_bad_or_missing_request_id_is_replaced_by_a_fresh_one() -> None:
    bad = await _get("/api/items/1", **{"X-Request-ID": "x" * 300})
    missing = await _get("/api/items/1")
    ids = [bad.headers["x-request-id"], missing.headers["x-request-id"]]
    assert all(valid_request_id(value) and len(value) == 32 for value in ids)
    assert ids[0] != ids[1]


def _sample(name: str, **labels: str) -> float:
    return metrics.REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.mark.asyncio
async def test_request_latency_is_labelled_by_route_template_method_and_status_class() -> None:
    labels = {"method": "GET", "route": "/api/items/{item_id}", "status": "2xx"}
    before = _sample("healthledger_http_request_duration_seconds_count", **labels)
    await _get("/api/items/0xabc")
    assert _sample("healthledger_http_request_duration_seconds_count", **labels) == before + 1
    text = metrics.render().decode()
    assert "0xabc" not in text
    missing = {"method": "GET", "route": "/api/*", "status": "4xx"}
    before = _sample("healthledger_http_request_duration_seconds_count", **missing)
    await _get("/api/nothing/here")
    assert _sample("healthledger_http_request_duration_seconds_count", **missing) == before + 1


@pytest.mark.asyncio
async def test_uploads_are_counted_by_outcome() -> None:
    before = _sample("healthledger_uploads_total", outcome="created")
    transport = httpx.ASGITransport(app=_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        assert (await client.post("/api/medical-records/upload")).status_code == 201
    assert _sample("healthledger_uploads_total", outcome="created") == before + 1


def test_metric_names_and_labels() -> None:
    expected = {
        "healthledger_http_request_duration_seconds": ["method", "route", "status"],
        "healthledger_uploads_total": ["outcome"],
        "healthledger_transactions_total": ["outcome"],
        "healthledger_dependency_duration_seconds": ["dependency", "operation", "result"],
        "healthledger_relayer_queue_depth": [],
        "healthledger_relayer_queue_oldest_age_seconds": [],
    }
    found = {
        metric._name: list(metric._labelnames)
        for metric in (
            metrics.http_request_seconds, metrics.uploads_total, metrics.transactions_total,
            metrics.dependency_seconds, metrics.relayer_queue_depth, metrics.relayer_queue_oldest_age_seconds,
        )
    }
    # prometheus-client keeps a counter's name without `_total` and adds it in the exposition.
    assert {name.removesuffix("_total"): labels for name, labels in expected.items()} == found
    exposition = metrics.render().decode()
    assert all(f"# TYPE {name.removesuffix('_total')}" in exposition for name in expected)
    for status, outcome in ((201, "created"), (202, "accepted"), (409, "refused"), (502, "failed")):
        before = _sample("healthledger_uploads_total", outcome=outcome)
        metrics.record_upload(status)
        assert _sample("healthledger_uploads_total", outcome=outcome) == before + 1
    for outcome in ("mined", "reverted", "replaced", "timeout"):
        before = _sample("healthledger_transactions_total", outcome=outcome)
        metrics.record_transaction(outcome)  # type: ignore[arg-type]
        assert _sample("healthledger_transactions_total", outcome=outcome) == before + 1
    assert [metrics.status_class(code) for code in (200, 302, 404, 503, 42)] == ["2xx", "3xx", "4xx", "5xx", "other"]


def test_dependency_timer_records_errors_as_errors() -> None:
    labels = {"dependency": "ipfs", "operation": "unit-test", "result": "error"}
    before = _sample("healthledger_dependency_duration_seconds_count", **labels)
    with pytest.raises(RuntimeError), metrics.observe_dependency("ipfs", "unit-test"):
        raise RuntimeError("down")
    assert _sample("healthledger_dependency_duration_seconds_count", **labels) == before + 1


def test_text_format_keeps_the_allow_list() -> None:
    record = logging.LogRecord("healthledger.x", logging.INFO, __file__, 1, "sent %s", ("0xsecret",), None)
    record.__dict__.update({"tx_hash": "0xabc", "password": "hunter2"})
    line = AllowListTextFormatter().format(record)
    assert " info healthledger.x sent %s " in line and 'tx_hash="0xabc"' in line
    assert "hunter2" not in line and "0xsecret" not in line
