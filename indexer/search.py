"""Answer a question: embed it, find the nearest passages, join them with their documents."""

from __future__ import annotations

import time

from .embed import Embedder
from .errors import InvalidQuery
from .highlight import highlight_ranges, query_terms
from .records import Hit, SearchResult
from .store import Store
from .vectors import search_vectors

__all__ = ["MAX_K", "search", "check_query"]

MAX_K = 100


def check_query(query: str, k: int, max_chars: int) -> str:
    """Validate a question and a result count; return the question stripped.

    Raises:
        InvalidQuery: the question is empty or longer than ``max_chars``, or ``k`` is out of 1..MAX_K.
    """
    query = (query or "").strip()
    if not query:
        raise InvalidQuery("the question is empty; type a few words to search for")
    if len(query) > max_chars:
        raise InvalidQuery(f"the question is {len(query)} characters long; the limit is {max_chars}")
    if not 1 <= k <= MAX_K:
        raise InvalidQuery(f"k must be between 1 and {MAX_K}, not {k}")
    return query


def search(store: Store, embedder: Embedder, query: str, k: int = 10, max_chars: int = 500) -> SearchResult:
    """Rank passages by cosine similarity to the question.

    Args:
        store: the open index.
        embedder: the index's model.
        query: the question, in the user's words.
        k: how many passages to return.
        max_chars: the longest question accepted.

    Returns:
        The ranked hits with their documents and the query's words highlighted.

    Raises:
        InvalidQuery: see ``check_query``.
    """
    started = time.perf_counter()
    query = check_query(query, k, max_chars)
    vector = embedder.encode([query])[0]
    scores = search_vectors(store.vector_index(), vector, k)
    passages = store.passages(list(scores))
    documents = {}
    terms = query_terms(query)
    hits = []
    for passage_id, score in scores.items():
        passage = passages.get(passage_id)
        if passage is None:  # removed since the vectors were loaded
            continue
        if passage.document_id not in documents:
            documents[passage.document_id] = store.document(passage.document_id)
        hits.append(Hit(rank=len(hits) + 1, score=score, passage=passage, document=documents[passage.document_id],
                        highlights=highlight_ranges(passage.text, terms)))
    return SearchResult(query=query, hits=tuple(hits), took_ms=(time.perf_counter() - started) * 1000)
