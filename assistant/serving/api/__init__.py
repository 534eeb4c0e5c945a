"""The REST API: request schemas, rate limits, server-sent events and the FastAPI app."""

from assistant.serving.api.app import create_app

__all__ = ["create_app"]
