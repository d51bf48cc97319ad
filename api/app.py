"""The FastAPI application factory. Nothing is built at import time."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from api.auth import ApiKeyAuth
from api.edge import RequestEdge
from api.errors import install_error_handlers
from api.metrics import attach_engine, install_metrics
from api.routers import admin, collections, documents, health, images, latent, recommendations, search, web
from api.scopes import check_routes
from core.settings import Settings, get_settings
from services.engine import Engine


def create_app(settings: Settings | None = None, engine: Engine | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = engine is None
        app.state.engine = engine or Engine(settings)
        app.state.engine.verify_indexes()  # start-up check: repair or rebuild any index that disagrees with the DB
        attach_engine(app)
        try:
            yield
        finally:
            if owned:
                app.state.engine.close()

    app = FastAPI(
        title="latentspace",
        version="0.1.0",
        description="Self-hosted embedding search: collections, documents, semantic search.",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    # images before documents: GET .../documents/{id:path}/thumbnail must be tried before the document
    # route, whose path converter (ids may contain '/') would otherwise take ".../x/thumbnail" as an id.
    routers = (health, collections, images, documents, search, recommendations, latent, admin, web)
    for module in routers:  # web serves the page at /; its files are mounted under /static below
        app.include_router(module.router)
    app.mount("/static", web.static_files(), name="static")
    auth = ApiKeyAuth(
        mode=settings.auth,
        allow_anonymous_read=settings.allow_anonymous_read,
        max_verifications=settings.auth_max_concurrent_verifications,
        max_waiting=settings.auth_max_pending_verifications,
    )
    # One layer around every request: request id + log line, catch-all, metrics, API-key auth, body limit.
    app.add_middleware(RequestEdge, metrics=install_metrics(app), auth=auth, max_bytes=settings.max_request_bytes)
    check_routes(app.routes)  # every route has a declared scope, or the app is not built
    return app
