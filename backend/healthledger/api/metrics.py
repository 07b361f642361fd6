"""GET /metrics: the Prometheus metrics (metrics.py): this process's, or in multiprocess mode (several
workers behind one port, PROMETHEUS_MULTIPROC_DIR) every worker's, merged, whichever worker answers.

Not part of the OpenAPI document (it is for Prometheus, not for the web app's typed client) and not
rate limited (a scraper polls every few seconds from one address). When METRICS_TOKEN is set the
scraper must send `Authorization: Bearer <token>` (Prometheus' `authorization` scrape setting);
the answer is then 401 without it. Metrics hold no personal data (route templates, counts and
latencies), so leaving it open is fine where only the internal network reaches the instances.
"""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from .. import metrics
from ..errors import unauthorized
from .deps import ServicesDep

router = APIRouter()


@router.get("/metrics", include_in_schema=False)
async def prometheus_metrics(request: Request, services: ServicesDep) -> Response:
    expected = services.settings.metrics_token.get_secret_value()
    if expected:
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.encode(), expected.encode()):
            raise unauthorized("invalid_metrics_token", "GET /metrics needs Authorization: Bearer <METRICS_TOKEN>")
    # In multiprocess mode rendering reads every worker's files: off the event loop.
    body = await run_in_threadpool(metrics.render) if metrics.MULTIPROCESS_DIR else metrics.render()
    return Response(body, media_type=metrics.CONTENT_TYPE_LATEST)
