"""The JSON API: search, documents, original files and health."""

from __future__ import annotations

import mimetypes
from pathlib import Path

from flask import Blueprint, current_app, jsonify, request, send_file

from indexer import DocumentNotFound, InvalidQuery, KnowledgeBase, document_to_dict, result_to_dict

api = Blueprint("api", __name__, url_prefix="/api")

_MIMETYPES = {"pdf": "application/pdf", "markdown": "text/markdown", "text": "text/plain", "html": "text/html"}


def knowledge_base() -> KnowledgeBase:
    """This process's knowledge base (made by ``create_app``)."""
    return current_app.extensions["kb"]


def int_arg(name: str, default: int) -> int:
    """A whole-number query parameter.

    Raises:
        InvalidQuery: the parameter is not a whole number.
    """
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise InvalidQuery(f"parameter {name!r} must be a whole number, not {raw!r}") from None


@api.get("/search")
def search():
    """``?q=QUESTION&k=N`` → ranked passages with sources and highlights."""
    k = int_arg("k", current_app.config["KB_DEFAULT_K"])
    result = knowledge_base().search(request.args.get("q", ""), k=k)
    return jsonify(result_to_dict(result))


@api.get("/documents")
def documents():
    """Every indexed document with its catalogue fields and passage count."""
    return jsonify(documents=[document_to_dict(document) for document in knowledge_base().documents()])


@api.get("/documents/<int:document_id>")
def document(document_id: int):
    """One document's fields."""
    return jsonify(document_to_dict(knowledge_base().document(document_id)))


@api.get("/documents/<int:document_id>/file")
def document_file(document_id: int):
    """The original file, shown in the browser where it can be (PDF links carry ``#page=N``)."""
    found = knowledge_base().document(document_id)
    path = Path(found.path)
    if not path.is_file():
        raise DocumentNotFound(f"the original of document {document_id} is no longer at {found.filename}; re-index it")
    mimetype = _MIMETYPES.get(found.format) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    inline = found.format in _MIMETYPES
    response = send_file(path, mimetype=mimetype, as_attachment=not inline, download_name=Path(found.filename).name)
    # An indexed HTML file is someone else's page: shown here, its scripts must not run on this origin.
    response.headers["Content-Security-Policy"] = "sandbox"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@api.get("/health")
def health():
    """Whether the index answers, with its counts and model."""
    return jsonify(knowledge_base().stats().to_dict())
