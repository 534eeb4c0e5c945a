"""Who may change documents: one rule (``admin_refusal``) for the REST API and the chat's Documents tab."""

from __future__ import annotations

import hmac
import ipaddress
from enum import StrEnum

from assistant.errors import AdminRequired
from assistant.settings import ServerSettings


def is_loopback(host: str) -> bool:
    """True for hosts only this machine can reach; ``0.0.0.0`` and names other than localhost are not."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def token_matches(given: str | None, expected: str) -> bool:
    """Constant-time comparison, so response timing does not reveal how much of a guess was right."""
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


class Refusal(StrEnum):
    """Why admin work is refused; each edge words it with advice that works where its user is."""

    DISABLED = "disabled"  # no token configured and a non-loopback host: 403
    WRONG_TOKEN = "wrong"  # a token is configured and this one does not match: 401

    @property
    def status(self) -> int:
        return 403 if self is Refusal.DISABLED else 401


def admin_refusal(server: ServerSettings, token: str | None) -> Refusal | None:
    """With a token configured it must match; without one only a loopback server allows admin work."""
    if server.admin_token is None:
        return None if is_loopback(server.host) else Refusal.DISABLED
    return None if token_matches(token, server.admin_token.get_secret_value()) else Refusal.WRONG_TOKEN


def check_admin(server: ServerSettings, token: str | None, *, how: str) -> None:
    """The API's refusal, in English; ``how`` says how to present the token ("send 'Authorization: Bearer <token>'")."""
    refusal = admin_refusal(server, token)
    if refusal is Refusal.DISABLED:
        raise AdminRequired(
            f"Document changes are disabled: the server listens on {server.host} and no admin token is set. "
            f"Set ASSISTANT_SERVER__ADMIN_TOKEN, restart the server and {how}.",
            status=refusal.status,
        )
    if refusal is Refusal.WRONG_TOKEN:
        raise AdminRequired(f"A valid admin token is required: {how} with the value of ASSISTANT_SERVER__ADMIN_TOKEN.")
