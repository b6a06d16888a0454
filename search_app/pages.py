"""The search page: one question box, facets, and the ranked passages, rendered on the server."""

from __future__ import annotations

from urllib.parse import urlencode

from flask import Blueprint, render_template, request, url_for

from indexer import Hit, IndexNotBuilt, InvalidQuery

from .state import SEARCH_PARAMETERS, search_from_request

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


def active_filters() -> list[tuple[str, str]]:
    """The (field, value) filters in the page's address."""
    return [(name, value) for name in request.args if name not in SEARCH_PARAMETERS for value in request.args.getlist(name)]


def toggle_url(field: str, value: str) -> str:
    """This page's address with the filter ``field=value`` added, or removed if it is on."""
    pairs = [(name, item) for name in request.args for item in request.args.getlist(name)]
    if (field, value) in pairs:
        pairs.remove((field, value))
    else:
        pairs.append((field, value))
    return url_for("pages.search_page") + ("?" + urlencode(pairs) if pairs else "")


@pages.get("/")
def search_page():
    """``/?q=QUESTION`` shows the answers; a bad question is explained on the page, not as an error."""
    query = request.args.get("q", "").strip()
    result, problem = None, None
    if query:
        try:
            result = search_from_request()
        except (InvalidQuery, IndexNotBuilt) as error:
            problem = error.message
    return render_template("search.html", query=query, result=result, problem=problem, segments=marked_segments,
                           filters=active_filters(), toggle_url=toggle_url)
