"""One JSON error shape for the API: ``{"error": {"code", "message"}}`` with the right status."""

from __future__ import annotations

from flask import Flask, current_app, jsonify, render_template, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from indexer import (CorruptDocument, DocumentNotFound, DuplicateDocument, EncryptedDocument, ExtractionError,
                     ExtractionOutOfMemory, ExtractionTimeout, FileMissing, IndexDamaged, IndexNotBuilt, IndexOutdated, InvalidField, InvalidQuery,
                     KBError, ModelMismatch, ModelUnavailable, NoTextFound, UnsupportedFormat)

__all__ = ["register_error_handlers", "error_response", "STATUS_BY_ERROR", "APIError"]

# An error takes the status of the first class of its MRO found here, so a subclass listed
# here (UnsupportedFormat) wins over its parent (ExtractionError).
STATUS_BY_ERROR = {
    InvalidQuery: 400,
    InvalidField: 400,
    DocumentNotFound: 404,
    FileMissing: 404,
    DuplicateDocument: 409,
    UnsupportedFormat: 415,
    # Too big to read within the limits set for one file (KB_EXTRACT_SECONDS, KB_EXTRACT_MEMORY_MB).
    ExtractionTimeout: 413,
    ExtractionOutOfMemory: 413,
    NoTextFound: 422,
    EncryptedDocument: 422,
    CorruptDocument: 422,
    ExtractionError: 422,
    IndexNotBuilt: 503,
    IndexOutdated: 503,
    IndexDamaged: 503,
    ModelMismatch: 503,
    ModelUnavailable: 503,
}


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


def _status(error: KBError) -> int:
    for error_class in type(error).__mro__:
        if error_class in STATUS_BY_ERROR:
            return STATUS_BY_ERROR[error_class]
    return 500


def register_error_handlers(app: Flask) -> None:
    """Turn every error into ``error_response``: the library's, the app's, HTTP ones and unexpected ones."""

    @app.errorhandler(KBError)
    def knowledge_base_error(error: KBError):
        return error_response(_status(error), error.code, error.message)

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
