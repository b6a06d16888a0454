"""search_app: the search page and JSON API over an ``indexer`` knowledge base."""

from __future__ import annotations

from typing import Any

from flask import Flask

from indexer import KnowledgeBase

from .admin import admin
from .api import api
from .embed import embed, init_embedding
from .errors import register_error_handlers
from .pages import pages
from .settings import load_settings

__all__ = ["create_app"]


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the web app: settings from defaults, then ``KB_*`` variables, then ``config``.

    Args:
        config: settings to fix (tests pass a data directory); may hold ``KB_EMBEDDER``,
            an already loaded embedder used instead of loading ``KB_MODEL``.

    Returns:
        The Flask app, with its knowledge base in ``app.extensions["kb"]`` (loaded lazily, once per process);
        request bodies are capped at ``KB_MAX_UPLOAD_MB`` (Flask's ``MAX_CONTENT_LENGTH``); the read API
        answers the sites of ``KB_CORS_ORIGINS`` and only ``/embed`` may be framed (``KB_EMBED_ORIGINS``).

    Raises:
        ValueError: ``KB_CORS_ORIGINS`` or ``KB_EMBED_ORIGINS`` holds something that is not an origin.
    """
    app = Flask(__name__)
    app.config.update(load_settings(config))
    app.config["MAX_CONTENT_LENGTH"] = int(float(app.config["KB_MAX_UPLOAD_MB"]) * 1024 * 1024)
    app.json.ensure_ascii = False
    app.extensions["kb"] = KnowledgeBase(
        app.config["KB_DATA_DIR"],
        model=app.config["KB_MODEL"], precision=app.config["KB_PRECISION"],
        embedder=app.config.get("KB_EMBEDDER"),
        max_query_chars=app.config["KB_MAX_QUERY_CHARS"],
    )
    app.register_blueprint(api)
    app.register_blueprint(pages)
    app.register_blueprint(admin)
    app.register_blueprint(embed)
    init_embedding(app)
    register_error_handlers(app)
    return app
