"""The write side: add, edit and remove documents over HTTP with a bearer token, and the /admin page.

Searching stays public; every route that changes the index needs
``Authorization: Bearer <KB_ADMIN_TOKEN>`` and is off while that setting is empty.
"""

from __future__ import annotations

import functools
import hmac
import os
import re
import tempfile
from pathlib import Path, PurePosixPath
from typing import Any, Callable

from flask import Blueprint, current_app, jsonify, render_template, request, url_for
from werkzeug.datastructures import FileStorage
from werkzeug.utils import secure_filename

from indexer import SUPPORTED_FORMATS, Document, DuplicateDocument, InvalidQuery, KBError, UnsupportedFormat, document_to_dict
from indexer.catalog import CATALOG_FIELDS

from .errors import APIError
from .state import int_arg, knowledge_base

__all__ = ["admin", "LIST_FIELDS"]

admin = Blueprint("admin", __name__)

#: Fields that hold lists; a form sends them comma-separated.
LIST_FIELDS = tuple(field.name for field in CATALOG_FIELDS if field.kind == "list")
#: Fields of a document's summary line in the list: all but title and type, which head its entry.
SUMMARY_FIELDS = tuple(field.name for field in CATALOG_FIELDS if field.name not in ("title", "type"))
#: File endings offered by the page's file picker (the type itself is decided from the content).
ACCEPTED_ENDINGS = ".pdf,.pptx,.docx,.html,.htm,.md,.markdown,.txt"
#: The most entries ``GET /api/audit`` returns at once.
AUDIT_LIMIT = 1000
_SUFFIX = re.compile(r"\.[A-Za-z0-9]{1,10}")
# Longest stem of an upload's shown name: the name is the temporary copy's too, and a file name may hold 255 bytes.
_MAX_STEM = 120


def check_token() -> None:
    """Refuse the request unless it carries the configured admin token.

    Raises:
        APIError: 403 ``write_api_disabled`` when no token is configured, 401 ``unauthorized``
            when the header is missing or the token is wrong.
    """
    expected = current_app.config["KB_ADMIN_TOKEN"]
    if not expected:
        raise APIError(403, "write_api_disabled", "adding, editing and removing documents over HTTP is turned off; "
                       "set KB_ADMIN_TOKEN on the server to turn it on")
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    given = given.strip()
    if scheme.lower() != "bearer" or not given:
        raise APIError(401, "unauthorized", "this needs the admin token: send 'Authorization: Bearer <token>'",
                       {"WWW-Authenticate": 'Bearer realm="kb-admin"'})
    # Header values arrive decoded as Latin-1: encoding back gives the bytes that were sent.
    if not hmac.compare_digest(given.encode("latin-1"), str(expected).encode("utf-8")):
        raise APIError(401, "unauthorized", "the admin token is wrong",
                       {"WWW-Authenticate": 'Bearer realm="kb-admin", error="invalid_token"'})


def requires_token(view: Callable) -> Callable:
    """Run ``check_token`` before the view (and before its request body is read)."""

    @functools.wraps(view)
    def guarded(*args, **kwargs):
        check_token()
        return view(*args, **kwargs)

    return guarded


def upload_name(raw: str) -> str:
    """A safe name for an uploaded file: its stem through ``secure_filename``, cut to 120 characters, its ending kept.

    Only ASCII letters, digits, ``_``, ``.`` and ``-`` remain: no folder (``../``), NUL, control character or
    markup. ``secure_filename`` alone would turn ``报告.pdf`` into ``pdf``; here it becomes ``upload.pdf``.
    """
    name = PurePosixPath(raw.replace("\\", "/")).name
    stem, suffix = os.path.splitext(name)
    suffix = suffix if _SUFFIX.fullmatch(suffix) else ""
    return (secure_filename(stem)[:_MAX_STEM].rstrip("._") or "upload") + suffix


def split_list(values: list[str]) -> list[str]:
    """Comma-separated form values as one list of trimmed, non-empty items."""
    return [item.strip() for value in values for item in value.split(",") if item.strip()]


def form_fields() -> dict[str, Any]:
    """The catalogue fields sent beside the file; blank ones are left out, list fields split at commas.

    Every non-blank form field is passed on, so the library names an unknown one (``InvalidField``).
    """
    fields: dict[str, Any] = {}
    for name in request.form:
        if name in LIST_FIELDS:
            items = split_list(request.form.getlist(name))
            if items:
                fields[name] = items
        elif request.form.get(name, "").strip():
            fields[name] = request.form[name].strip()
    return fields


def client_address() -> str:
    """Who asked, for the audit log: the address the request came from (a reverse proxy's, behind one)."""
    return request.remote_addr or "unknown"


def explain(error: KBError, temporary: str, filename: str) -> None:
    """Reword the library's error for the uploader: their file name instead of the temporary
    path, the supported types for an unsupported file, the existing document for a duplicate
    (by id and file name, never by its path on the server)."""
    error.message = error.message.replace(temporary, filename)
    if isinstance(error, UnsupportedFormat) and "supported types" not in error.message:
        error.message += f"; supported types: {', '.join(SUPPORTED_FORMATS)}"
    if isinstance(error, DuplicateDocument):
        try:
            existing = f" ({knowledge_base().document(error.document_id).filename})"
        except KBError:  # removed in the meantime
            existing = ""
        error.message = f"{filename}: same content as document {error.document_id}{existing}; nothing was added"


def add_upload(upload: FileStorage, filename: str, fields: dict[str, Any]) -> Document:
    """Index an uploaded file through a temporary copy under its safe name; the copy is always removed.

    The copy has a folder of its own, so it can take the upload's name: a document without a title of its
    own is titled after that name, never after a temporary one ("kb upload x1y2").

    Args:
        upload: the uploaded file.
        filename: its safe name, from ``upload_name``.
        fields: catalogue fields sent beside it.

    Raises:
        KBError: whatever ``KnowledgeBase.add`` raises, reworded by ``explain``.
    """
    with tempfile.TemporaryDirectory(prefix="kb-upload-") as folder:
        temporary = Path(folder) / filename
        try:
            with open(temporary, "xb") as copy:
                upload.save(copy)
            return knowledge_base().add(temporary, fields or None, filename=filename, client=client_address())
        except KBError as error:
            explain(error, str(temporary), filename)
            raise


@admin.post("/api/documents")
@requires_token
def add_document():
    """Multipart ``file`` plus optional catalogue fields → 201 with the new document and its passage count."""
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise APIError(400, "missing_file", "no file: send the document as the multipart/form-data field 'file'")
    document = add_upload(upload, upload_name(upload.filename), form_fields())
    response = jsonify(document=document_to_dict(document), passage_count=document.passage_count)
    response.status_code = 201
    response.headers["Location"] = url_for("api.document", document_id=document.id)
    return response


@admin.patch("/api/documents/<int:document_id>")
@requires_token
def update_document(document_id: int):
    """A JSON object of catalogue fields to change → the updated document."""
    fields = request.get_json(silent=True)
    if not isinstance(fields, dict):
        raise APIError(400, "invalid_body", 'send the fields to change as a JSON object, e.g. {"title": "New title"}, '
                       "with Content-Type: application/json")
    return jsonify(document_to_dict(knowledge_base().update(document_id, fields, client=client_address())))


@admin.delete("/api/documents/<int:document_id>")
@requires_token
def remove_document(document_id: int):
    """Remove a document, its passages and its kept original → 204."""
    knowledge_base().remove(document_id, client=client_address())
    return "", 204


@admin.get("/api/index-report")
@requires_token
def index_report():
    """The last ``kb index`` run on this data directory, file by file (it names server paths: token only)."""
    report = knowledge_base().last_index_report()
    return jsonify(report or {"summary": "", "files": []})


@admin.get("/api/audit")
@requires_token
def audit_log():
    """The last ``limit`` (default 50, at most 1000) adds, updates and removes, newest first (token only: it names clients)."""
    limit = int_arg("limit", 50)
    if not 1 <= limit <= AUDIT_LIMIT:
        raise InvalidQuery(f"limit must be between 1 and {AUDIT_LIMIT}, not {limit}")
    return jsonify(entries=[entry.to_dict() for entry in knowledge_base().audit_log(limit)])


@admin.get("/admin")
def admin_page():
    """The page for adding, editing and removing documents; it works through the API above, and
    refuses to be framed (it handles the admin token; ``security`` sets its headers)."""
    return render_template(
        "admin.html", fields=CATALOG_FIELDS, list_fields=LIST_FIELDS, summary_fields=SUMMARY_FIELDS, accept=ACCEPTED_ENDINGS,
        enabled=bool(current_app.config["KB_ADMIN_TOKEN"]), max_upload_mb=current_app.config["KB_MAX_UPLOAD_MB"],
        supported=SUPPORTED_FORMATS,
    )
