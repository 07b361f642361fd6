"""The outermost layer of every request: last-resort errors, the access log, and security headers.

- An exception nothing else handled becomes a 500 `internal_error` here and stops here. Starlette's
  own error middleware re-raises after answering, so the server would log the exception with its
  message (addresses, URLs, request data); this layer logs its type and frames only.
- The access log names the route template (`/api/medical-records/view/{cid}`), never the path or
  query string, with status and duration; the same labels feed the Prometheus request histogram
  (metrics.py), and upload routes count uploads by outcome. A health check that succeeds (GET
  /api/system/live and /ready, asked every few seconds by each load balancer and supervisor) is logged
  at DEBUG, so it does not bury the requests people made; a failed one is logged as any request.
- Every request has an id: the client's `X-Request-ID` if it is short and safe
  (request_context.py), else a fresh one. It is set in a contextvar for the whole request, so every
  log line of the request carries it, and returned in the response's `X-Request-ID` header.
- A request whose services mark stages (stages.py: the uploads) answers with a `Server-Timing`
  header of them, and each stage feeds the stage histogram by route template.
- Every response carries `X-Content-Type-Options: nosniff`; the web app's pages also get a
  Content-Security-Policy that allows only this origin's scripts, styles and connections, and may
  not be framed by other sites.
"""

from __future__ import annotations

import logging
import time

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .. import metrics
from ..errors import install_error_handlers
from ..request_context import new_request_id, request_id_var, valid_request_id
from ..stages import StageClock, stage_clock_var
from .body_limit import UPLOAD_PATHS
from .dependency_errors import install_dependency_error_handlers

log = logging.getLogger("healthledger.http")

# The built app (frontend/dist) loads its module scripts, styles, worker and assets from this
# origin; previews are drawn from blob: URLs (pdf.js canvases, images), never framed; wallets talk
# to their extension, not through the page.
APP_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; frame-src 'none'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
# Routes a load balancer or supervisor asks again and again (api/system.py).
HEALTH_CHECK_ROUTES = frozenset({"/api/system/live", "/api/system/ready"})
_INTERNAL_ERROR = b'{"error":{"code":"internal_error","message":"internal error"}}'


def _route_template(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    if path:
        return str(path)
    return "/api/*" if str(scope.get("path", "")).startswith("/api/") else "app"


def _request_id(scope: Scope) -> str:
    """The client's X-Request-ID if acceptable (see request_context.py), else a new one."""
    for name, value in scope.get("headers", []):
        if name == b"x-request-id":
            return valid_request_id(value.decode("latin-1")) or new_request_id()
    return new_request_id()


class OutermostMiddleware:
    """Catch-all, request id, access log, metrics and security headers (see the module docstring)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        is_api = str(scope.get("path", "")).startswith("/api/")
        status = {"code": 500, "sent": False}
        request_id = _request_id(scope)
        token = request_id_var.set(request_id)
        clock = StageClock()
        clock_token = stage_clock_var.set(clock)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"], status["sent"] = message["status"], True
                headers = [
                    (k, v)
                    for k, v in message.get("headers", [])
                    if k.lower() not in (b"x-content-type-options", b"x-request-id", b"server-timing")
                ]
                if timings := clock.server_timing():
                    total = (time.perf_counter() - started) * 1000
                    headers.append((b"server-timing", f"{timings}, total;dur={total:.1f}".encode("ascii")))
                headers.append((b"x-content-type-options", b"nosniff"))
                headers.append((b"x-request-id", request_id.encode("ascii")))
                if not is_api:
                    headers.append((b"content-security-policy", APP_CSP.encode()))
                    headers.append((b"x-frame-options", b"DENY"))
                    headers.append((b"referrer-policy", b"no-referrer"))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception as exc:  # the last resort: nothing may leave as a bare exception
            log.error("unhandled exception", exc_info=(type(exc), exc, exc.__traceback__))
            if not status["sent"]:
                await send_with_headers(
                    {
                        "type": "http.response.start",
                        "status": 500,
                        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(_INTERNAL_ERROR)).encode())],
                    }
                )
                await send({"type": "http.response.body", "body": _INTERNAL_ERROR})
        finally:
            seconds = time.perf_counter() - started
            route, method = _route_template(scope), str(scope.get("method"))
            metrics.http_request_seconds.labels(method, route, metrics.status_class(status["code"])).observe(seconds)
            for name, spent in clock.items():
                metrics.request_stage_seconds.labels(route, name).observe(spent)
            if method == "POST" and route in UPLOAD_PATHS:
                metrics.record_upload(status["code"])
            quiet = route in HEALTH_CHECK_ROUTES and status["code"] < 400
            log.log(
                logging.DEBUG if quiet else logging.INFO,
                "request",
                extra={"method": method, "route": route, "status": status["code"], "duration_ms": round(seconds * 1000, 1)},
            )
            stage_clock_var.reset(clock_token)
            request_id_var.reset(token)


def install_error_handling(app: FastAPI) -> None:
    """Every error path of the app: ApiError and validation shapes, dependency failures, the catch-all."""
    install_error_handlers(app)
    install_dependency_error_handlers(app)
    app.add_middleware(OutermostMiddleware)
