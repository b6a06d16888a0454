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


SEARCH_PARAMETERS = ("q", "k", "mode", "per_document", "group")


def search_from_request():
    """Run the search the query string describes; every other parameter is a catalogue filter.

    Raises:
        InvalidQuery: a bad question, k, mode, cap, group or filter (unknown filters list the valid ones).
    """
    filters = {name: tuple(request.args.getlist(name)) for name in request.args if name not in SEARCH_PARAMETERS}
    group = request.args.get("group", "")
    if group not in ("", "document"):
        raise InvalidQuery(f"group must be 'document', not {group!r}")
    return knowledge_base().search(
        request.args.get("q", ""),
        k=int_arg("k", current_app.config["KB_DEFAULT_K"]),
        mode=request.args.get("mode") or "hybrid",
        filters=filters,
        per_document=int_arg("per_document", current_app.config["KB_PER_DOCUMENT"]),
        group=group == "document",
    )


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
    response = send_file(path, mimetype=mimetype, as_attachment=not inline, download_name=Path(found.filename).name)
    # An indexed HTML file is someone else's page: shown here, its scripts must not run on this origin.
    response.headers["Content-Security-Policy"] = "sandbox"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@api.get("/health")
def health():
    """Whether the index answers, with its counts and model."""
    return jsonify(knowledge_base().stats().to_dict())
