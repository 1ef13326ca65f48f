"""`GET /healthz` and `GET /metrics` (Prometheus text format), for `serve` and for `run`
(on `[metrics] listen` or beside the archive)."""

from __future__ import annotations

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from openminutes.web.healthcheck import HealthCheck

HEALTH: web.AppKey[HealthCheck] = web.AppKey("health")
METRICS = web.AppKey("metrics", CollectorRegistry)


async def healthz(request: web.Request) -> web.Response:
    problems = await request.app[HEALTH]()
    if problems:
        return web.Response(status=503, text="".join(f"{p}\n" for p in problems),
                            headers={"Cache-Control": "no-store"})
    return web.Response(text="ok\n", headers={"Cache-Control": "no-store"})


async def metrics(request: web.Request) -> web.Response:
    body = generate_latest(request.app[METRICS])
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST,
                                            "Cache-Control": "no-store"})


def add_routes(app: web.Application, health: HealthCheck, registry: CollectorRegistry) -> None:
    app[HEALTH] = health
    app[METRICS] = registry
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)


def health_app(health: HealthCheck, registry: CollectorRegistry) -> web.Application:
    """Only the two endpoints: `run`'s `[metrics] listen`."""
    app = web.Application()
    add_routes(app, health, registry)
    return app
