"""The FastAPI application: routes, error shape, and the services it runs on."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from .api import access, audit, auth, directory, integrity_report, records, signing, system
from .api.body_limit import BodyLimitMiddleware
from .container import build_services
from .errors import install_error_handlers
from .services.reconcile import reconcile_pending
from .settings import Settings, get_settings

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app. Services connect in the lifespan, so importing this module touches nothing."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services = await build_services(settings)
        app.state.services = services
        try:
            # Uploads interrupted by a previous stop are finished or cleaned up before serving.
            report = await reconcile_pending(services)
            if report.total:
                log.info("reconciled pending uploads: %s", report)
            yield
        finally:
            await services.close()

    app = FastAPI(
        title="HealthLedger API",
        version="0.1.0",
        description="Patients own encrypted medical records; the chain proves none was changed.",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    for module in (auth, signing, records, access, system, audit, integrity_report, directory):
        app.include_router(module.router)
    _serve_frontend(app, settings)
    # Added last, so it wraps every other middleware: no body byte over the limit reaches any of them.
    app.add_middleware(BodyLimitMiddleware, **BodyLimitMiddleware.limits(settings))
    return app


def _serve_frontend(app: FastAPI, settings: Settings) -> None:
    dist = Path(settings.frontend_dist) if settings.frontend_dist else None
    if dist and (dist / "index.html").is_file():
        app.mount("/", StaticFiles(directory=dist, html=True), name="frontend")
