"""The FastAPI application: routes, error shape, and the services it runs on."""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from . import metrics
from .allocator import fix_malloc_thresholds
from .api import access, audit, auth, bills, directory, doctor_records, fhir, integrity_report, keys, records, signing, system
from .api import metrics as metrics_route, notifications, selftest
from .api.body_limit import BodyLimitMiddleware
from .api.error_handling import install_error_handling
from .container import build_services
from .heap import freeze_startup_heap, release_startup_heap
from .logging_setup import configure_logging
from .services.maintenance import Maintenance
from .settings import Settings, get_settings

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app. Services connect in the lifespan, so importing this module touches nothing."""
    settings = settings or get_settings()
    _check_metrics_mode(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(settings.log_level, settings.log_format)
        fix_malloc_thresholds()  # large buffers go back to the kernel once freed (allocator.py)
        services = await build_services(settings)
        app.state.services = services
        maintenance = Maintenance(services)
        try:
            # Uploads interrupted by a previous stop, and records a lost chain state took back, are
            # settled before serving; a failure here is logged and retried, never fatal.
            services.relay_queue.worker.start()  # takes the relayer lease over when its holder dies
            await maintenance.run_once()
            maintenance.start()
            frozen = freeze_startup_heap()  # full collections skip what start-up made (heap.py)
            log.info("start-up heap frozen", extra={"objects": frozen})
            try:
                yield
            finally:
                release_startup_heap()
        finally:
            await maintenance.stop()
            await services.close()
            metrics.mark_process_dead()  # this worker's queue readings stop counting (multiprocess mode)

    app = FastAPI(
        title="HealthLedger API",
        version="0.1.0",
        description="Patients own encrypted medical records; the chain proves none was changed.",
        lifespan=lifespan,
    )
    for module in (
        auth, signing, keys, records, doctor_records, fhir, access, system, audit, integrity_report, directory, bills
    ):
        app.include_router(module.router)
    app.include_router(notifications.router)
    app.include_router(selftest.router)
    app.include_router(metrics_route.router)
    _serve_frontend(app, settings)
    # No body byte over the limit reaches the app; added before the error handling's middleware,
    # which therefore wraps it (its 413s get the security headers and the access log too).
    app.add_middleware(BodyLimitMiddleware, **BodyLimitMiddleware.limits(settings))
    install_error_handling(app)
    return app


def _check_metrics_mode(settings: Settings) -> None:
    """Refuse to start when PROMETHEUS_MULTIPROC_DIR is set in a way prometheus-client did not see
    (only in `.env`, or a different value): each worker would then serve only its own counters."""
    wanted, seen = settings.prometheus_multiproc_dir or "", metrics.MULTIPROCESS_DIR
    if wanted and (not seen or os.path.realpath(wanted) != os.path.realpath(seen)):
        raise RuntimeError(
            f"PROMETHEUS_MULTIPROC_DIR={wanted!r} must be in the API process's environment before it starts "
            "(prometheus-client reads it when imported; a `.env` entry alone is too late)"
        )


def _serve_frontend(app: FastAPI, settings: Settings) -> None:
    dist = Path(settings.frontend_dist) if settings.frontend_dist else None
    if dist and (dist / "index.html").is_file():
        app.mount("/", StaticFiles(directory=dist, html=True), name="frontend")
