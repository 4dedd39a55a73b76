"""The ASGI app: OpenAI's HTTP API under /v1, each endpoint a router of its own (routes/), translated into calls
through the gateway (Responses and Conversations on the agents service)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from fastapi import FastAPI
from opentelemetry import context, propagate, trace
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from llama_mesh.runtime.gateway_client import GatewayClient
from services.openai_edge.batch_runs import BatchRuns
from services.openai_edge.errors import HANDLERS, OpenAIError
from services.openai_edge.routes import (
    batches,
    chat,
    completions,
    conversations,
    embeddings,
    files,
    models,
    moderations,
    responses,
    vector_store_file_batches,
    vector_store_updates,
    vector_stores,
)
from services.openai_edge.settings import EdgeSettings
from services.openai_edge.stores import EdgeStore

UPLOAD_PATHS = ("/v1/files",)


class TraceContext:
    """Continues the caller's trace (`traceparent`): with tracing on, each request is a server span whose children
    are the gateway calls it makes; with tracing off, MeshCalls passes the header on as it came."""

    def __init__(self, app: ASGIApp, traced: bool) -> None:
        self.app = app
        self.traced = traced
        self.tracer = trace.get_tracer("llama_mesh.openai_edge")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.traced:
            await self.app(scope, receive, send)
            return
        headers = {key.decode("latin-1"): value.decode("latin-1") for key, value in scope["headers"]}
        token = context.attach(propagate.extract(headers))
        try:
            name = f"{scope['method']} {scope['path']}"
            with self.tracer.start_as_current_span(name, kind=trace.SpanKind.SERVER):
                await self.app(scope, receive, send)
        finally:
            context.detach(token)


class BodyLimit:
    """Refuses (413) a request body over the limit, counted as it arrives (uploads have the larger file limit),
    (503 `server_busy`) one that would take the bodies of the requests in progress past max_inflight_body_bytes, and
    (408) one not whole within body_timeout_seconds: the edge reads a body before the gateway checks the caller's
    token, so without a bound on them all, unknown callers could make it hold any amount of memory, or hold requests
    open by sending a byte now and then. A request's bytes count until its response has been sent."""

    def __init__(self, app: ASGIApp, settings: EdgeSettings) -> None:
        self.app = app
        self.settings = settings
        self.in_flight = 0  # bytes of the bodies of the requests in progress

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        upload = scope["path"] in UPLOAD_PATHS
        limit = self.settings.max_upload_bytes if upload else self.settings.max_request_bytes
        what = "an uploaded file (max_file_bytes)" if upload else "a request body (max_request_bytes)"
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            refusal = OpenAIError(413, f"{what} may be at most {limit} bytes", code="too_large")
            await refusal.response()(scope, receive, send)
            return
        received = 0
        deadline = asyncio.get_running_loop().time() + self.settings.body_timeout_seconds
        whole = False  # the body has arrived: later receives wait for the client's disconnect, without a deadline

        async def counted() -> Message:
            nonlocal received, whole
            if whole:
                return await receive()
            try:
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:
                late = f"the request body did not arrive within {self.settings.body_timeout_seconds} s"
                raise OpenAIError(408, f"{late} (body_timeout_seconds)", code="request_timeout") from None
            whole = message["type"] != "http.request" or not message.get("more_body", False)
            size = len(message.get("body", b""))
            if received + size > limit:
                raise OpenAIError(413, f"{what} may be at most {limit} bytes", code="too_large")
            if self.in_flight + size > self.settings.max_inflight_body_bytes:
                busy = "the edge holds as many request bodies as it may (max_inflight_body_bytes); try again"
                raise OpenAIError(503, busy, code="server_busy", headers={"retry-after": "1"})
            received += size
            self.in_flight += size
            return message

        try:
            await self.app(scope, counted, send)
        finally:
            self.in_flight -= received


def create_app(gateway: GatewayClient, settings: EdgeSettings, data_dir: Path, traced: bool) -> FastAPI:
    app = FastAPI(title="llama-mesh OpenAI-compatible API", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.gateway = gateway
    app.state.settings = settings
    app.state.traced = traced
    app.state.store = EdgeStore(data_dir)
    app.state.tasks = set()
    app.state.batch_runs = BatchRuns(app.state.store, settings, app.state.tasks)
    for kind, handler in HANDLERS.items():
        app.add_exception_handler(kind, handler)
    routers = (
        models,
        chat,
        completions,
        embeddings,
        moderations,
        files,
        vector_stores,
        vector_store_file_batches,
        vector_store_updates,
        batches,
        responses,
        conversations,
    )
    for module in routers:
        app.include_router(module.router, prefix="/v1")

    @app.get("/health", include_in_schema=False)
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    app.add_middleware(BodyLimit, settings=settings)
    app.add_middleware(TraceContext, traced=traced)
    return app
