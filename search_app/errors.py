"""One JSON error shape for the API: ``{"error": {"code", "message"}}`` with the status the error declares,
and a request id on every response (``X-Request-Id``) that a 500's body and the server log both carry."""

from __future__ import annotations

import re
import uuid

from flask import Flask, current_app, g, jsonify, render_template, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from indexer import KBError

__all__ = ["register_error_handlers", "error_response", "APIError", "request_id", "REQUEST_ID_HEADER"]

REQUEST_ID_HEADER = "X-Request-Id"
#: An incoming id is kept only when it is short and plain (it is logged and sent back as a header).
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


class APIError(Exception):
    """An error of the web app itself (not the library's): its status, code, message and extra headers."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


def request_id() -> str:
    """This request's id: the client's ``X-Request-Id`` when it is sane, else a new one (uuid4 hex); made once."""
    if "request_id" not in g:
        given = request.headers.get(REQUEST_ID_HEADER, "")
        g.request_id = given if _SANE_REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
    return g.request_id


def error_response(status: int, code: str, message: str):
    """A JSON error for API paths, an HTML page for the others; a 500 carries the request id (as logged)."""
    reference = request_id() if status == 500 else None
    if request.path.startswith("/api/"):
        error = {"code": code, "message": message} | ({"request_id": reference} if reference else {})
        return jsonify(error=error), status
    return render_template("error.html", status=status, message=message, request_id=reference), status


def register_error_handlers(app: Flask) -> None:
    """Turn every error into ``error_response``: the library's, the app's, HTTP ones and unexpected ones;
    and send the request id back on every response."""

    @app.after_request
    def send_request_id(response):
        response.headers[REQUEST_ID_HEADER] = request_id()
        return response

    @app.errorhandler(KBError)
    def knowledge_base_error(error: KBError):
        if error.status == 500:  # the server's own fault (a setting, a failed measurement): worth a log line
            app.logger.error("%s on %s (request %s): %s", error.code, request.path, request_id(), error.message)
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
        body, status = error_response(error.code or 500, code, error.description or error.name)
        # The exception's own headers stay (a 405's Allow, a 416's Content-Range); the body is ours.
        headers = [(name, value) for name, value in error.get_headers() if name.lower() != "content-type"]
        return body, status, headers

    @app.errorhandler(Exception)
    def unexpected_error(error: Exception):
        app.logger.exception("unexpected error on %s %s (request %s)", request.method, request.path, request_id())
        return error_response(500, "internal_error", "the server failed to answer; the error is logged under the request id")
