"""The JSON API: search, documents, original files and health."""

from __future__ import annotations

import mimetypes
from pathlib import Path

from flask import Blueprint, jsonify, send_file

from indexer import DocumentNotFound, document_to_dict, result_to_dict

from .state import knowledge_base, search_from_request

api = Blueprint("api", __name__, url_prefix="/api")

_MIMETYPES = {"pdf": "application/pdf", "markdown": "text/markdown", "text": "text/plain", "html": "text/html"}


@api.get("/search")
def search():
    """``?q=QUESTION&k=N&mode=hybrid&type=presentation`` → ranked passages with sources, highlights and facets."""
    return jsonify(result_to_dict(search_from_request()))


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
    kb = knowledge_base()
    found = kb.document(document_id)
    path = kb.data_dir / found.original if found.original else Path(found.path)
    if not path.is_file():
        raise DocumentNotFound(f"the original of document {document_id} is no longer at {found.filename}; re-index it")
    mimetype = _MIMETYPES.get(found.format) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    inline = found.format in _MIMETYPES
    # An indexed HTML file is someone else's page: security.ORIGINAL_POLICY sandboxes it.
    return send_file(path, mimetype=mimetype, as_attachment=not inline, download_name=Path(found.filename).name)


@api.get("/health")
def health():
    """Whether the index answers, with its counts and model."""
    return jsonify(knowledge_base().stats().to_dict())
