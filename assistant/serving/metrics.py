"""Prometheus metrics for the web app: request counts, latency, index size, the local model's queue.

Collectors live on a per-app ``CollectorRegistry`` rather than the global one, so
two apps in one process (tests, or API plus tooling) never share or clash on counts.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from starlette.routing import BaseRoute, Match, Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
UNMATCHED = "unmatched"


class ApiMetrics:
    """The app's collectors; ``render`` is what ``GET /metrics`` returns."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "assistant_http_requests",
            "HTTP requests by route template, method and status code.",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "assistant_http_request_duration_seconds",
            "Seconds from request to the last response byte (whole stream for server-sent events), by route template.",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.documents = Gauge("assistant_index_documents", "Documents in the live index.", registry=self.registry)
        self.chunks = Gauge("assistant_index_chunks", "Chunks in the live index.", registry=self.registry)
        self.engine = Gauge(
            "assistant_engine_questions",
            "Questions the local model is answering or that wait for it (0: a new question is generated at once).",
            registry=self.registry,
        )
        self.stopped = Gauge(
            "assistant_engine_answers_stopped",
            "Answers the local model stopped writing because their client left (a closed tab, a dropped stream).",
            registry=self.registry,
        )

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        self.requests.labels(route=route, method=method, status=str(status)).inc()
        self.latency.labels(route=route).observe(seconds)

    def set_index_size(self, documents: int, chunks: int) -> None:
        self.documents.set(documents)
        self.chunks.set(chunks)

    def render(self) -> bytes:
        return generate_latest(self.registry)


def route_label(routes: Sequence[BaseRoute], scope: Scope) -> str:
    """The route template, never the raw path, so label cardinality stays bounded; mounted apps are ``<mount>/*``."""
    partial: BaseRoute | None = None
    for route in routes:
        match, _ = route.matches(scope)
        if match is Match.FULL:
            return _template(route)
        if match is Match.PARTIAL and partial is None:
            partial = route
    return _template(partial) if partial is not None else UNMATCHED


def _template(route: BaseRoute) -> str:
    path = getattr(route, "path", UNMATCHED)
    return f"{path}/*" if isinstance(route, Mount) else path


class MetricsMiddleware:
    """Pure ASGI middleware: times each HTTP request until its last body chunk, so streams count in full."""

    def __init__(self, app: ASGIApp, *, metrics: ApiMetrics, routes: Sequence[BaseRoute]) -> None:
        self.app = app
        self.metrics = metrics
        self.routes = routes  # the router's live list: routes mounted later (the UI) are seen too

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        route = route_label(self.routes, scope)
        started = time.perf_counter()
        status = 500  # what the client gets if the app raises before responding

        async def record_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, record_status)
        finally:
            self.metrics.observe(route, scope["method"], status, time.perf_counter() - started)
