"""One JSON error shape for the API: ``{"error": {"code", "message"}}`` with the status the error declares."""

from __future__ import annotations

from flask import Flask, current_app, jsonify, render_template, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from indexer import KBError

__all__ = ["register_error_handlers", "error_response", "APIError"]


class APIError(Exception):
    """An error of the web app itself (not the library's): its status, code, message and extra headers."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


def error_response(status: int, code: str, message: str):
    """A JSON error for API paths, an HTML page for the others."""
    if request.path.startswith("/api/"):
        return jsonify(error={"code": code, "message": message}), status
    return render_template("error.html", status=status, message=message), status


def register_error_handlers(app: Flask) -> None:
    """Turn every error into ``error_response``: the library's, the app's, HTTP ones and unexpected ones."""

    @app.errorhandler(KBError)
    def knowledge_base_error(error: KBError):
        return error_response(error.status, error.code, error.message)  # each class declares its status (indexer/errors.py)

    @app.errorhandler(APIError)
    def api_error(error: APIError):
        body, status = error_response(error.status, error.code, error.message)
        return body, status, error.headers

    @app.errorhandler(RequestEntityTooLarge)
    def too_large(error: RequestEntityTooLarge):
        limit = float(current_app.config["KB_MAX_UPLOAD_MB"])
        return error_response(413, "too_large", f"the upload is larger than the {limit:g} MB limit (KB_MAX_UPLOAD_MB)")

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        code = (error.name or "error").lower().replace(" ", "_")
        return error_response(error.code or 500, code, error.description or error.name)

    @app.errorhandler(Exception)
    def unexpected_error(error: Exception):
        app.logger.exception("unexpected error on %s", request.path)
        return error_response(500, "internal_error", "the server failed to answer; the error is logged")
