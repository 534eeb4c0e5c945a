"""Who may change documents: one rule for the REST API and the chat's Documents tab."""

from __future__ import annotations

import hmac
import ipaddress

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


def check_admin(server: ServerSettings, token: str | None, *, how: str) -> None:
    """With a token configured it must match; without one only a loopback server allows admin work.

    ``how`` tells the caller how to present the token ("send 'Authorization: Bearer <token>'", "enter it in the
    Admin token box"), so both edges give advice that works where the user is.
    """
    if server.admin_token is None:
        if not is_loopback(server.host):
            raise AdminRequired(
                f"Document changes are disabled: the server listens on {server.host} and no admin token is set. "
                f"Set ASSISTANT_SERVER__ADMIN_TOKEN, restart the server and {how}.",
                status=403,
            )
        return
    if not token_matches(token, server.admin_token.get_secret_value()):
        raise AdminRequired(f"A valid admin token is required: {how} with the value of ASSISTANT_SERVER__ADMIN_TOKEN.")
