"""The search page: one question box and the ranked passages, rendered on the server."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template, request

from indexer import Hit, IndexNotBuilt, InvalidQuery

from .api import int_arg, knowledge_base

pages = Blueprint("pages", __name__)


def marked_segments(hit: Hit) -> list[tuple[str, bool]]:
    """The passage text cut into (text, is_query_term) pieces, for <mark> in the template."""
    text, pieces, position = hit.passage.text, [], 0
    for start, end in hit.highlights:
        if start > position:
            pieces.append((text[position:start], False))
        pieces.append((text[start:end], True))
        position = end
    pieces.append((text[position:], False))
    return [piece for piece in pieces if piece[0]]


@pages.get("/")
def search_page():
    """``/?q=QUESTION`` shows the answers; a bad question is explained on the page, not as an error."""
    query = request.args.get("q", "").strip()
    result, problem = None, None
    if query:
        try:
            k = int_arg("k", current_app.config["KB_DEFAULT_K"])
            result = knowledge_base().search(query, k=k)
        except (InvalidQuery, IndexNotBuilt) as error:
            problem = error.message
    return render_template("search.html", query=query, result=result, problem=problem, segments=marked_segments)
