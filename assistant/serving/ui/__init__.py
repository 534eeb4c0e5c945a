"""The Gradio web chat and document admin: rendering, event handlers, the app and ``serve``."""

from assistant.serving.ui.app import build_app, serve, web_app

__all__ = ["build_app", "serve", "web_app"]
