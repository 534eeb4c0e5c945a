"""The browser's own id, in a cookie: whose saved conversations a chat session may see.

A cookie, because it reaches the server with the very first request of a page and with every chat event after it;
an id kept in the browser's storage is read by the page's script only once its component has loaded, which can be
after the page's load event has already asked for the conversations (then a returning browser looked new).
HttpOnly (no script reads it) and SameSite=Lax (not sent with another site's requests).
"""

from __future__ import annotations

import secrets
from collections.abc import MutableMapping
from http.cookies import CookieError, SimpleCookie
from typing import Any

from assistant.serving.conversations import CLIENT_ID_RE
from assistant.serving.guard import ASGIApp, Receive, Scope, Send

COOKIE = "assistant_client"
MAX_AGE_S = 400 * 24 * 3600  # the longest browsers keep a cookie


def client_of(cookies: MutableMapping[str, str] | dict[str, str]) -> str | None:
    """The id in the request's cookies, when it is one this server could have issued."""
    value = cookies.get(COOKIE)
    return value if value and CLIENT_ID_RE.fullmatch(value) else None


class ClientCookie:
    """Give every browser that has no id one, on whatever response it gets first."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self._has_id(scope):
            await self.app(scope, receive, send)
            return
        secure = "; Secure" if scope.get("scheme") == "https" else ""
        cookie = f"{COOKIE}={secrets.token_urlsafe(18)}; Path=/; Max-Age={MAX_AGE_S}; HttpOnly; SameSite=Lax{secure}"

        async def with_cookie(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (b"set-cookie", cookie.encode("latin-1"))]
            await send(message)

        await self.app(scope, receive, with_cookie)

    @staticmethod
    def _has_id(scope: Scope) -> bool:
        header = b"; ".join(value for name, value in scope.get("headers", []) if name == b"cookie")
        parsed: SimpleCookie = SimpleCookie()
        try:
            parsed.load(header.decode("latin-1"))
        except CookieError:  # a malformed Cookie header: give the browser a fresh id
            return False
        return client_of({key: morsel.value for key, morsel in parsed.items()}) is not None
