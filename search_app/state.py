"""What the app's blueprints share: this process's knowledge base, and the search a request asks for.

``create_app`` calls ``attach_knowledge_base`` once; the API, the pages and the
admin routes reach it through ``knowledge_base()``, and the API and the search
page read a search from the query string with ``search_from_request()``.
"""

from __future__ import annotations

from flask import Flask, current_app, request

from indexer import Embedder, InvalidQuery, KnowledgeBase, SearchResult

__all__ = ["SEARCH_PARAMETERS", "attach_knowledge_base", "knowledge_base", "int_arg", "search_from_request"]

#: Query parameters that shape a search; every other parameter is a catalogue filter.
SEARCH_PARAMETERS = ("q", "k", "mode", "per_document", "group", "answers")


def attach_knowledge_base(app: Flask, embedder: Embedder | None = None) -> None:
    """Give ``app`` its knowledge base, from its settings (it loads the model and the index lazily, once).

    Args:
        app: the app, its config loaded.
        embedder: an embedder already loaded, used instead of loading ``KB_MODEL`` (tests pass a fake one).
    """
    app.extensions["kb"] = KnowledgeBase(
        app.config["KB_DATA_DIR"], model=app.config["KB_MODEL"], precision=app.config["KB_PRECISION"],
        embedder=embedder, max_query_chars=app.config["KB_MAX_QUERY_CHARS"],
    )


def knowledge_base(app: Flask | None = None) -> KnowledgeBase:
    """The knowledge base of ``app`` (default: the app of the current request)."""
    return (app or current_app).extensions["kb"]


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


def search_from_request(answers: int = 0) -> SearchResult:
    """Run the search the query string describes; every other parameter is a catalogue filter.

    Args:
        answers: in how many of the first results to mark the answering sentence unless the query string says
            (``answers``): the API marks none by default, the search page ``KB_ANSWERS``.

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
        answers=int_arg("answers", answers),
        highlights=True,
        facets=True,
    )
