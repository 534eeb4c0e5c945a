"""Which requests the served app takes: Host names it is known by, and state changes only from its own pages.

A browser sends a cross-site form or ``fetch`` POST without a preflight, carrying the visitor's
network position (loopback) with it; it also sends the request's ``Origin`` (or at least a
``Referer``), which a foreign page cannot forge. DNS rebinding makes a foreign name resolve to
this server, but the browser still sends that name as ``Host``. So: refuse a ``Host`` that is not
this server's, and refuse any POST/PUT/PATCH/DELETE whose Origin (or Referer) is another site.
Clients that are not browsers (curl, scripts) send neither header and pass.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import urlsplit

from assistant.serving.admin import is_loopback
from assistant.settings import ServerSettings

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
WILDCARD_BINDS = frozenset({"0.0.0.0", "::", ""})


def known_hosts(server: ServerSettings) -> frozenset[str] | None:
    """Host names the server answers to; None means any (bound to every interface with no list configured)."""
    names = {name.lower().strip("[]") for name in server.allowed_hosts}
    if "*" in names or (server.host in WILDCARD_BINDS and not names):
        return None
    if server.host not in WILDCARD_BINDS:
        names.add(server.host.lower().strip("[]"))
    if is_loopback(server.host):
        names |= LOOPBACK_NAMES
    return frozenset(names)


def host_name(netloc: str) -> str:
    """``127.0.0.1:7860`` → ``127.0.0.1``; ``[::1]:7860`` → ``::1``: the name without its port."""
    netloc = netloc.strip().lower()
    if netloc.startswith("["):
        return netloc[1 : netloc.find("]")] if "]" in netloc else netloc
    return netloc.rsplit(":", 1)[0] if netloc.count(":") == 1 else netloc


def request_origin(headers: dict[str, str]) -> str | None:
    """``scheme://host[:port]`` of the page that sent the request (Origin, else Referer); None when neither is sent."""
    if "origin" in headers:
        return headers["origin"].strip().lower()
    referer = urlsplit(headers.get("referer", ""))
    if not headers.get("referer"):
        return None
    return f"{referer.scheme}://{referer.netloc}".lower() if referer.scheme and referer.netloc else "null"


def refusal(scope: Scope, server: ServerSettings) -> tuple[int, str] | None:
    """(status, message) when the request must be refused, else None."""
    headers = {key.decode("latin-1").lower(): value.decode("latin-1") for key, value in scope.get("headers", [])}
    host = headers.get("host", "")
    hosts = known_hosts(server)
    if hosts is not None and host_name(host) not in hosts:
        return 421, (
            f"This server does not answer to the host name {host_name(host)!r}. Open it at http://{server.host}:{server.port}/, "
            "or add the name to server.allowed_hosts (ASSISTANT_SERVER__ALLOWED_HOSTS)."
        )
    if scope.get("method", "GET") not in UNSAFE_METHODS:
        return None
    origin = request_origin(headers)
    if origin is None:
        return None
    netloc = urlsplit(origin).netloc
    configured = {name.lower().strip("[]") for name in server.allowed_hosts}  # a proxy may rewrite Host, not Origin
    if origin != "null" and (netloc == host.strip().lower() or host_name(netloc) in configured):
        return None
    return 403, (
        f"Cross-site request refused: it came from {origin}, not from this server's own pages. Use the app at "
        "its own address, or add the site's host name to server.allowed_hosts (ASSISTANT_SERVER__ALLOWED_HOSTS)."
    )


class RequestGuard:
    """ASGI middleware in front of the API and the chat alike: the checks above, before any body is read."""

    def __init__(self, app: ASGIApp, server: ServerSettings) -> None:
        self.app = app
        self.server = server

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        problem = refusal(scope, self.server) if scope["type"] == "http" else None
        if problem is None:
            await self.app(scope, receive, send)
            return
        status, message = problem
        body = json.dumps({"detail": message}, ensure_ascii=False).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
