"""One JSON error shape for the API: ``{"error": {"code", "message"}}`` with the right status."""

from __future__ import annotations

from flask import Flask, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from indexer import (DocumentNotFound, ExtractionError, IndexNotBuilt, InvalidQuery, KBError, ModelMismatch,
                     ModelUnavailable)

__all__ = ["register_error_handlers", "error_response", "STATUS_BY_ERROR"]

STATUS_BY_ERROR = {
    InvalidQuery: 400,
    DocumentNotFound: 404,
    ExtractionError: 422,
    IndexNotBuilt: 503,
    ModelMismatch: 503,
    ModelUnavailable: 503,
}


def error_response(status: int, code: str, message: str):
    """A JSON error for API paths, an HTML page for the others."""
    if request.path.startswith("/api/"):
        return jsonify(error={"code": code, "message": message}), status
    return render_template("error.html", status=status, message=message), status


def _status(error: KBError) -> int:
    for error_class in type(error).__mro__:
        if error_class in STATUS_BY_ERROR:
            return STATUS_BY_ERROR[error_class]
    return 500


def register_error_handlers(app: Flask) -> None:
    """Turn every error into ``error_response``: the library's, HTTP ones and unexpected ones."""

    @app.errorhandler(KBError)
    def knowledge_base_error(error: KBError):
        return error_response(_status(error), error.code, error.message)

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        code = (error.name or "error").lower().replace(" ", "_")
        return error_response(error.code or 500, code, error.description or error.name)

    @app.errorhandler(Exception)
    def unexpected_error(error: Exception):
        app.logger.exception("unexpected error on %s", request.path)
        return error_response(500, "internal_error", "the server failed to answer; the error is logged")
