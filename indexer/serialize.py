"""The JSON shapes of documents, hits and results, shared by the API and ``kb … --json``."""

from __future__ import annotations

from typing import Any

from .records import Document, Hit, SearchResult

__all__ = ["document_to_dict", "hit_to_dict", "result_to_dict", "file_url"]


def file_url(document: Document) -> str:
    """Where the web app serves the original file."""
    return f"/api/documents/{document.id}/file"


def document_to_dict(document: Document) -> dict[str, Any]:
    """A document with its catalogue fields and passage count."""
    return {
        "id": document.id,
        "title": document.title,
        "type": document.type,
        "format": document.format,
        "filename": document.filename,
        "url": file_url(document),
        "size": document.size,
        "sha256": document.sha256,
        "indexed_at": document.indexed_at,
        "passage_count": document.passage_count,
        "metadata": document.metadata,
        "language": document.metadata.get("language") or document.language,
        "notice": document.notice,
    }


def hit_to_dict(hit: Hit) -> dict[str, Any]:
    """One ranked passage with its source; the document URL opens PDFs at the page."""
    location = hit.passage.location
    return {
        "rank": hit.rank,
        "score": round(hit.score, 6),
        "text": hit.passage.text,
        "heading": hit.passage.heading,
        "highlights": [list(span) for span in hit.highlights],
        "answer": list(hit.answer) if hit.answer else None,
        "document": {
            "id": hit.document.id,
            "title": hit.document.title,
            "type": hit.document.type,
            "filename": hit.document.filename,
            "url": file_url(hit.document) + location.url_fragment,
            "notice": hit.document.notice,
        },
        "location": location.to_dict(),
        "passage_id": hit.passage.id,
        "also_as": [{"id": twin.id, "title": twin.title, "format": twin.format, "filename": twin.filename, "url": file_url(twin)}
                    for twin in hit.also_as],
    }


def result_to_dict(result: SearchResult) -> dict[str, Any]:
    """A whole answer: the query, mode, time taken, ranked hits (or documents, when grouped) and facets."""
    results = _grouped(result) if result.grouped else [hit_to_dict(hit) for hit in result.hits]
    return {"query": result.query, "mode": result.mode, "took_ms": round(result.took_ms, 2), "results": results,
            "facets": result.facets}


def _grouped(result: SearchResult) -> list[dict[str, Any]]:
    """One entry per document, in order of its best passage, with its passages."""
    groups: dict[int, dict[str, Any]] = {}
    for hit in result.hits:
        entry = hit_to_dict(hit)
        group = groups.get(hit.document.id)
        if group is None:
            group = groups[hit.document.id] = {"rank": len(groups) + 1, "score": entry["score"], "document": entry["document"],
                                               "also_as": entry["also_as"], "passages": []}
            group["document"] = {**entry["document"], "url": file_url(hit.document)}
        group["passages"].append({key: entry[key] for key in ("score", "text", "heading", "highlights", "answer", "location",
                                                                         "passage_id")}
                                 | {"url": entry["document"]["url"]})
    return list(groups.values())
