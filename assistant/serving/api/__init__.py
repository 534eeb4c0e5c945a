"""The REST API: request schemas, rate limits, server-sent events and the FastAPI app (``app.create_app``)."""
