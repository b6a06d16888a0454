"""The search page: one question box, facets, and the ranked passages, rendered on the server."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from flask import Blueprint, current_app, render_template, request, url_for

from indexer import Hit, IndexNotBuilt, InvalidQuery

from .state import SEARCH_PARAMETERS, search_from_request

pages = Blueprint("pages", __name__)


#: A passage longer than this whose answering sentence starts past ``ANSWER_LATE`` is shown from that sentence.
LONG_PASSAGE = 500
ANSWER_LATE = 150


@dataclass(frozen=True)
class Segment:
    """A piece of passage text as the page shows it: a query term (<mark>), in the answering sentence (<strong>), or plain."""

    text: str
    term: bool = False
    answer: bool = False


def marked_segments(hit: Hit, start: int = 0) -> list[Segment]:
    """The passage text from ``start`` cut into segments at the query's terms and the answering sentence."""
    text = hit.passage.text
    answer_start, answer_end = hit.answer or (0, 0)
    cuts = sorted({start, len(text), *(max(point, start) for span in hit.highlights for point in span),
                   *(max(point, start) for point in (answer_start, answer_end) if hit.answer)})
    terms = [span for span in hit.highlights if span[1] > start]
    pieces = []
    for first, last in zip(cuts, cuts[1:]):
        term = any(begin <= first and last <= end for begin, end in terms)
        pieces.append(Segment(text[first:last], term, answer_start <= first and last <= answer_end and hit.answer is not None))
    return [piece for piece in pieces if piece.text]


def shown_from(hit: Hit) -> int:
    """Where the page starts showing a passage: its answering sentence when the passage is long and it comes late, else 0."""
    if hit.answer and len(hit.passage.text) > LONG_PASSAGE and hit.answer[0] > ANSWER_LATE:
        return hit.answer[0]
    return 0


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
            result = search_from_request(answers=current_app.config["KB_ANSWERS"])
        except (InvalidQuery, IndexNotBuilt) as error:
            problem = error.message
    return render_template("search.html", query=query, result=result, problem=problem, segments=marked_segments,
                           shown_from=shown_from, filters=active_filters(), toggle_url=toggle_url)
