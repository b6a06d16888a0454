"""search_app: the search page and JSON API over an ``indexer`` knowledge base."""

from __future__ import annotations

from typing import Any

from flask import Flask

from indexer import Embedder
from indexer.settings import load

from .admin import admin
from .api import api
from .errors import register_error_handlers
from .limits import init_rate_limit, trust_proxies
from .openapi import openapi
from .pages import pages
from .security import init_security_headers
from .state import attach_knowledge_base
from .widget import init_widget, widget

__all__ = ["create_app"]


def create_app(config: dict[str, Any] | None = None, embedder: Embedder | None = None) -> Flask:
    """Build the web app: its settings (``indexer.settings``, scope "app") from defaults, then ``KB_*``
    variables, then ``config``.

    Args:
        config: settings to fix, by variable (tests pass a data directory), and any Flask config.
        embedder: an already loaded embedder, used instead of loading ``KB_MODEL`` (tests pass a fake one).

    Returns:
        The Flask app, with its knowledge base (``state.knowledge_base``; loaded lazily, once per process);
        request bodies are capped at ``KB_MAX_UPLOAD_MB`` (Flask's ``MAX_CONTENT_LENGTH``); the read API
        answers the sites of ``KB_CORS_ORIGINS`` and each client ``KB_RATE_LIMIT`` times (``limits``); every
        answer carries the security headers of ``security``, and only ``/embed`` may be framed (``KB_EMBED_ORIGINS``).

    Raises:
        InvalidSetting: a ``KB_*`` variable holds a value its setting cannot take (``KB_RATE_LIMIT`` and
            ``KB_RATE_LIMIT_STORAGE`` are checked from ``config`` too).
        ValueError: ``KB_CORS_ORIGINS`` or ``KB_EMBED_ORIGINS`` holds something that is not an origin.
    """
    app = Flask(__name__)
    app.config.update(load("app", config))
    app.config["MAX_CONTENT_LENGTH"] = int(float(app.config["KB_MAX_UPLOAD_MB"]) * 1024 * 1024)
    app.json.ensure_ascii = False
    attach_knowledge_base(app, embedder)
    for blueprint in (api, pages, admin, widget, openapi):
        app.register_blueprint(blueprint)
    init_widget(app)
    register_error_handlers(app)
    init_rate_limit(app)
    init_security_headers(app)
    trust_proxies(app)
    return app
