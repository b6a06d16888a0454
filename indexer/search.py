"""Answer a question: dense, keyword or hybrid retrieval, filters, a per-document cap, facets.

Hybrid retrieval takes the top candidates of both sides, scores every
candidate on *both* sides (a passage found by only one side gets its real
score from the other, not zero), rescales each side to 0..1 over the
candidates (min-max) and ranks by ``alpha * dense + (1 - alpha) * keyword``.
Ties break on passage id, so results are deterministic.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from itertools import chain
from typing import Mapping

import numpy as np

from .answers import answer_spans
from .embed import Embedder, question_vector
from .errors import InvalidQuery
from .filters import FACET_FIELDS, PassageFilter, facet_pairs
from .highlight import highlight_ranges, query_terms
from .keyword import question_languages
from .language import question_language
from .records import Hit, SearchResult
from .settings import default
from .store import Store

__all__ = ["MAX_K", "MODES", "Fusion", "SearchRequest", "search", "check_query"]

MAX_K = 100
# Candidates kept after fusion: enough for k=MAX_K, caps and grouping, and the facet counts.
_FACET_DEPTH = 100
MODES = ("hybrid", "dense", "keyword")


@dataclass(frozen=True)
class Fusion:
    """How hybrid retrieval combines the two sides (chosen on dev questions and SciFact train)."""

    alpha: float = 0.6
    depth: int = 100
    keyword_depth: int = 300
    #: The dense weight for a question clearly in a language other than English (None: ``alpha``). A
    #: multilingual model finds English passages for a Spanish question; the keyword side cannot.
    other_language_alpha: float | None = None

    def alpha_for(self, question: str) -> float:
        """The dense side's weight for ``question``."""
        if self.other_language_alpha is None or self.other_language_alpha == self.alpha:
            return self.alpha
        return self.alpha if question_language(question) in ("", "en") else self.other_language_alpha

    @classmethod
    def for_model(cls, model: str) -> Fusion:
        """The fusion chosen for ``model`` (a name as the manifest keeps it, maybe ending in ``@int8``)."""
        name = model.rpartition("@")[0] or model
        return cls(**MODEL_FUSION.get(name, {}))


#: Fusion chosen for a model other than all-MiniLM-L6-v2 (README, "A multilingual model"), on corpus dev and
#: SciFact train: a stronger dense side earns more weight (multilingual-e5-small: 0.761 at 0.7 against 0.746 at
#: 0.6), and more still for a question not in English, whose words the English passages do not share (Spanish
#: and French dev questions 0.744 / 0.742 at 0.7, 0.781 / 0.759 at 0.9).
MODEL_FUSION = {"multilingual-e5-small": {"alpha": 0.7, "other_language_alpha": 0.9}}


@dataclass(frozen=True)
class SearchRequest:
    """One question and how to answer it."""

    query: str
    k: int = default("KB_DEFAULT_K")
    mode: str = "hybrid"
    filters: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    per_document: int = 0
    group: bool = False
    #: Show near-duplicate documents once (with the others as ``Hit.also_as``); evaluation turns it off.
    collapse_near_duplicates: bool = True
    #: Mark the answering sentence (``Hit.answer``) in this many of the first hits (it costs an embedding of their sentences).
    answers: int = 0
    #: Find the question's words in each hit (``Hit.highlights``), as the search page, the widget and the API show them
    #: (about 60 microseconds a passage; marked answers get them all the same).
    highlights: bool = False
    #: Count facet values over the candidates (``SearchResult.facets``), as the search page and the API show them;
    #: without, the documents of the hits alone are read (a hybrid answer on SciFact: 0.6 ms less).
    facets: bool = False


def check_query(request: SearchRequest, max_chars: int) -> str:
    """Validate a request; return its question stripped.

    Raises:
        InvalidQuery: empty or over-long question, ``k`` outside 1..MAX_K, unknown mode, negative cap, ``answers``
            outside 0..MAX_K.
    """
    query = (request.query or "").strip()
    # A byte-order mark (U+FEFF, pasted along with text) is no more a question than a space is; the API
    # description's pattern for q says the same (search_app/openapi.yaml).
    if not query.replace("\ufeff", "").strip():
        raise InvalidQuery("the question is empty; type a few words to search for")
    if len(query) > max_chars:
        raise InvalidQuery(f"the question is {len(query)} characters long; the limit is {max_chars}")
    if not 1 <= request.k <= MAX_K:
        raise InvalidQuery(f"k must be between 1 and {MAX_K}, not {request.k}")
    if request.mode not in MODES:
        raise InvalidQuery(f"unknown mode {request.mode!r}; use one of {', '.join(MODES)}")
    if request.per_document < 0:
        raise InvalidQuery("per_document must be 0 (no cap) or more")
    if not 0 <= request.answers <= MAX_K:
        raise InvalidQuery(f"answers must be between 0 and {MAX_K}, not {request.answers}")
    return query


def search(store: Store, embedder: Embedder, request: SearchRequest, fusion: Fusion = Fusion(),
           max_chars: int = default("KB_MAX_QUERY_CHARS")) -> SearchResult:
    """Rank passages for a question.

    Args:
        store: the open index.
        embedder: the index's model.
        request: the question, k, mode, filters, per-document cap, grouping and answers to mark.
        fusion: hybrid parameters.
        max_chars: the longest question accepted.

    Returns:
        Ranked hits with documents, highlights where asked (and in hits with answers), answering sentences for the
        first ``request.answers``, and facet counts over the candidates where asked.

    Raises:
        InvalidQuery: see ``check_query``; an unknown filter field.
    """
    started = time.perf_counter()
    query = check_query(request, max_chars)
    passage_filter = PassageFilter.of(request.filters)
    # The languages the question is stemmed in, for keyword matching and highlights alike.
    languages = question_languages(query, store.languages())
    # Dense search ranks by the vector alone, so it gets the model itself; elsewhere a quicker copy is close enough.
    vector = question_vector(embedder, query, quick=request.mode != "dense") if request.mode != "keyword" or request.answers > 0 else None
    scores = _candidates(store, vector, query, request.mode, fusion, passage_filter, languages)
    ranked = sorted(scores, key=lambda passage_id: (-scores[passage_id], passage_id))
    with store.reading():  # one snapshot, so a document removed meanwhile is missing from every read or none
        owners = store.passage_documents(ranked)
        ranked = [passage_id for passage_id in ranked[:_FACET_DEPTH] if passage_id in owners]
        twins = store.near_duplicates(list(dict.fromkeys(owners[i] for i in ranked))) if request.collapse_near_duplicates else {}
        ranked = _collapse(ranked, owners, twins)
        chosen = _choose(ranked, owners, request)
        passages = store.passages(chosen)
        counted = ranked if request.facets else chosen
        documents = store.documents_by_id(list(dict.fromkeys([owners[i] for i in counted] + [t for ts in twins.values() for t in ts])))
    # A passage or document removed since its owner was cached is left out (the read above is one snapshot).
    chosen = [i for i in chosen if i in passages and owners[i] in documents]
    marked = chosen[:max(request.answers, 0)]
    terms = query_terms(query, languages) if request.highlights or marked else frozenset()
    highlighted = chosen if request.highlights else marked
    highlights = [highlight_ranges(passages[i].text, terms, passages[i].language) for i in highlighted]
    answers = answer_spans(embedder, vector, [passages[i].text for i in marked], highlights) if marked else []
    hits = tuple(
        Hit(rank=rank, score=scores[passage_id], passage=passages[passage_id], document=documents[owners[passage_id]],
            highlights=highlights[rank - 1] if rank <= len(highlights) else (), answer=answers[rank - 1] if rank <= len(answers) else None,
            also_as=tuple(documents[twin] for twin in twins.get(owners[passage_id], ()) if twin in documents))
        for rank, passage_id in enumerate(chosen, start=1)
    )
    facets = _facets([i for i in ranked if owners[i] in documents], owners, documents) if request.facets else {}
    return SearchResult(query=query, hits=hits, took_ms=(time.perf_counter() - started) * 1000, facets=facets,
                        mode=request.mode, grouped=request.group)


def _candidates(store: Store, vector: np.ndarray | None, query: str, mode: str, fusion: Fusion, passage_filter: PassageFilter,
                languages: tuple[str, ...]) -> dict[int, float]:
    """Scores of the candidate passages for one mode; ``vector``: the question's (None in keyword mode);
    ``languages``: those to stem the question in."""
    allowed = store.allowed_passages(passage_filter)  # the filter runs once, for both sides
    if allowed is not None and not len(allowed):
        return {}
    if mode == "keyword":
        return store.keyword_candidates(query, languages, fusion.depth, allowed)
    if mode == "dense":
        return store.dense_candidates(vector, fusion.depth, allowed)
    # The keyword side runs after the question is embedded, not beside it: a second thread took the cores
    # from ONNX Runtime's (hybrid p50 6.4 against 6.1 ms on SciFact, idle).
    both = store.hybrid_candidates(vector, query, languages, fusion.depth, fusion.keyword_depth, allowed)
    dense, keyword_all = both.dense, both.keyword
    keyword = dict(list(keyword_all.items())[: fusion.depth])
    union = sorted(set(dense) | set(keyword))
    # A passage found by one side only gets its real score from the other, not zero.
    dense_all = {**store.dense_scores(vector, [i for i in union if i not in dense]), **dense}
    dense_scaled, keyword_scaled = _min_max(dense_all, union), _min_max(keyword_all, union)
    alpha = fusion.alpha_for(query)
    return {i: alpha * dense_scaled[i] + (1 - alpha) * keyword_scaled[i] for i in union}


def _min_max(scores: dict[int, float], ids: list[int]) -> dict[int, float]:
    """Rescale to 0..1 over ``ids``; an id without a score counts as the lowest."""
    values = [scores[i] for i in ids if i in scores]
    if not values:
        return {i: 0.0 for i in ids}
    low, high = min(values), max(values)
    span = high - low or 1.0
    return {i: (scores[i] - low) / span if i in scores else 0.0 for i in ids}


def _collapse(ranked: list[int], owners: dict[int, int], twins: dict[int, list[int]]) -> list[int]:
    """Drop the passages of a document whose near duplicate already stands higher in the ranking."""
    shown: set[int] = set()
    kept = []
    for passage_id in ranked:
        document_id = owners[passage_id]
        if document_id not in shown and shown.intersection(twins.get(document_id, ())):
            continue
        shown.add(document_id)
        kept.append(passage_id)
    return kept


def _choose(ranked: list[int], owners: dict[int, int], request: SearchRequest) -> list[int]:
    """The passages to show: capped per document, or grouped by document (best documents first)."""
    if request.group:
        by_document: dict[int, list[int]] = defaultdict(list)
        for passage_id in ranked:
            by_document[owners[passage_id]].append(passage_id)
        cap = request.per_document or 3
        best = list(by_document)[: request.k]
        return [passage_id for document_id in best for passage_id in by_document[document_id][:cap]]
    if not request.per_document:
        return ranked[: request.k]
    shown: Counter[int] = Counter()
    chosen = []
    for passage_id in ranked:
        document_id = owners[passage_id]
        if shown[document_id] < request.per_document:
            shown[document_id] += 1
            chosen.append(passage_id)
            if len(chosen) == request.k:
                break
    return chosen


def _facets(ranked: list[int], owners: dict[int, int], documents: dict) -> dict[str, dict[str, int]]:
    """For each facet field, how many of the candidates' documents have each value (most first, then by value)."""
    candidates = dict.fromkeys(owners[passage_id] for passage_id in ranked)
    counted = Counter(chain.from_iterable(facet_pairs(documents[document_id]) for document_id in candidates))
    facets: dict[str, dict[str, int]] = {name: {} for name in FACET_FIELDS}
    for (name, value), count in sorted(counted.items(), key=lambda item: (-item[1], item[0][1])):
        facets[name][value] = count
    return facets
