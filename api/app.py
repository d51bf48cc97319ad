"""The FastAPI application factory. Nothing is built at import time."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

from fastapi import FastAPI
from starlette.middleware.errors import ServerErrorMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from api.auth import ApiKeyAuth
from api.edge import RequestEdge
from api.errors import install_error_handlers
from api.metrics import attach_engine, install_metrics
from api.routers import admin, collections, documents, health, images, latent, recommendations, search, web
from api.scopes import check_routes
from core.settings import Settings, get_settings
from services.engine import Engine


class LatentspaceAPI(FastAPI):
    """FastAPI with api/edge.py's one layer *around* it rather than inside its middleware stack.

    As a user middleware the edge sat under FastAPI's own layers (its OpenTelemetry check, Starlette's
    ServerErrorMiddleware, exception telemetry, a body-limit wrapper), which every request crossed before
    the edge could answer a search itself (issue 17). Outside, a search the edge answers crosses none of
    them; every other request goes on through the whole FastAPI stack as before, except Starlette's
    ServerErrorMiddleware: the edge is the catch-all (500 JSON body, one log line), and that middleware
    would answer a plain-text 500 first.
    """

    edge: ASGIApp | None = None  # set by create_app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.edge is not None:
            scope["app"] = self  # what Starlette sets, read by the edge (auth, fast search) before it calls in
            await self.edge(scope, receive, send)
        else:
            await super().__call__(scope, receive, send)

    def build_middleware_stack(self) -> ASGIApp:
        stack = super().build_middleware_stack()
        return stack.app if isinstance(stack, ServerErrorMiddleware) else stack


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

    app = LatentspaceAPI(
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
    # One layer around every request: request id + log line, catch-all, metrics, API-key auth, body limit;
    # it calls FastAPI itself (FastAPI.__call__, not LatentspaceAPI's, which would call the edge again).
    app.edge = RequestEdge(
        partial(FastAPI.__call__, app), metrics=install_metrics(app), auth=auth, max_bytes=settings.max_request_bytes
    )
    check_routes(app.routes)  # every route has a declared scope, or the app is not built
    return app
