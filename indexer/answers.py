"""The sentence (or two) of a passage that best answers the question, chosen by the embedding model.

A passage is about 200 words; the reader wants the line that answers. Each passage of the first
hits is cut into sentences, each sentence (and each short sentence with the one after it, so a
heading-like line does not stand alone) is embedded with the index's model (its int8 copy for
questions where it has one), and the one closest to the question wins. Shared words only break
ties: a sentence that answers in other words, or in another language with a multilingual model,
is still found.
"""

from __future__ import annotations

import re
from typing import Sequence

import numpy as np

from .embed import Embedder, passage_vectors

__all__ = ["sentence_spans", "answer_spans"]

#: A sentence ends at . ! ? … or ; followed by space and a capital letter or digit (so "e.g. the" goes on), or at a
#: line break (slides and lists put one point on a line).
_SENTENCE_END = re.compile(r"(?<=[.!?…;])[\"'”’)\]]*\s+(?=[\"'“‘(¿¡\[•\-–—]*[A-Z0-9À-ÖØ-Þ])|\s*\n\s*")
#: Words whose stop does not end a sentence (English, Spanish, French).
_ABBREVIATION = re.compile(r"\b(?:No|Nos|Nº|Núm|Art|Arts|p|pp|e\.g|i\.e|cf|vs|Dr|Mr|Mrs|Ms|Mme|Sr|Sra|St|Fig|Vol|Inc|Ltd|Co|approx|etc)\.$",
                           re.IGNORECASE)
#: A candidate alone needs this many words; a shorter sentence is only scored joined with the next.
FEWEST_WORDS = 4
#: Below this many characters a sentence is joined with the next one as a second candidate.
SHORT_SENTENCE = 80
#: What a written sentence ends with.
_ENDS_SENTENCE = re.compile(r"[.!?…;:][\"'”’)\]]*$")
#: Candidates the model scores per passage (see ``_likeliest``).
MOST_CANDIDATES = 5


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` character ranges of the sentences of ``text``, without surrounding spaces."""
    spans, start = [], 0
    for boundary in _SENTENCE_END.finditer(text):
        if "\n" not in boundary.group() and _ABBREVIATION.search(text, 0, boundary.start()):
            continue  # "Convention No. 183" and "e.g. Thailand" go on
        spans.append((start, boundary.start()))
        start = boundary.end()
    spans.append((start, len(text)))
    return [(first, last) for first, last in (_stripped(text, span) for span in spans) if last > first]


def _stripped(text: str, span: tuple[int, int]) -> tuple[int, int]:
    first, last = span
    while first < last and text[first].isspace():
        first += 1
    while last > first and text[last - 1].isspace():
        last -= 1
    return first, last


def _candidates(text: str) -> list[tuple[int, int]]:
    """Every sentence of a few words, and every short sentence joined with the next, but never the whole passage
    (none for a one-sentence passage: it is its own answer, nothing to mark)."""
    sentences = sentence_spans(text)
    if len(sentences) < 2:
        return []
    # A heading (no stop at its end) is never joined to the sentence under it: the mark is for what answers.
    joined = [(first[0], second[1]) for first, second in zip(sentences, sentences[1:])
              if first[1] - first[0] < SHORT_SENTENCE and _ENDS_SENTENCE.search(text[first[0]:first[1]])]
    whole = (sentences[0][0], sentences[-1][1]) if sentences else None
    alone = [span for span in sentences if len(text[span[0]:span[1]].split()) >= FEWEST_WORDS]
    candidates = alone + [span for span in joined if span != whole]
    # Where the passage has written sentences, a title, heading or bullet line is no answer (on a slide, where no
    # line ends as a sentence, every line stays a candidate).
    written = [span for span in candidates if _ENDS_SENTENCE.search(text[span[0]:span[1]])]
    return written or candidates


def _shared(span: tuple[int, int], terms: Sequence[tuple[int, int]]) -> int:
    """How many of the question's words (highlight ranges) lie inside ``span``."""
    return sum(1 for first, last in terms if span[0] <= first and last <= span[1])


def _likeliest(spans: list[tuple[int, int]], terms: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """At most ``MOST_CANDIDATES`` spans, those holding most of the question's words first (then in text order).

    Embedding every sentence of three passages costs about a quarter of a second on 2 cores; the model
    chooses among these few, so a sentence that answers in other words still wins over one that repeats
    the question, as long as it is among them.
    """
    if len(spans) <= MOST_CANDIDATES:
        return spans
    ranked = sorted(range(len(spans)), key=lambda order: (-_shared(spans[order], terms), order))
    return [spans[order] for order in sorted(ranked[:MOST_CANDIDATES])]


def answer_spans(embedder: Embedder, question: np.ndarray, texts: Sequence[str],
                 highlights: Sequence[Sequence[tuple[int, int]]] = ()) -> list[tuple[int, int] | None]:
    """For each passage text, the range of the sentence (or two) closest to the question.

    Args:
        embedder: the index's model (its passage prompt is used, as the passages were embedded; its int8 copy for
            questions where it has one).
        question: the question's vector, from ``embed.question_vector``.
        texts: the passages' texts.
        highlights: per passage, the ranges of the question's words in it (a small tie-breaker).

    Returns:
        ``(start, end)`` per text, or None for a text with one sentence (the whole passage answers).
    """
    words = [highlights[index] if index < len(highlights) else () for index in range(len(texts))]
    candidates = [_likeliest(_candidates(text), terms) for text, terms in zip(texts, words)]
    flat = [(index, span) for index, spans in enumerate(candidates) for span in spans]
    if not flat:
        return [None] * len(texts)
    # The int8 copy for questions where there is one: 39 against 108 ms for three passages' candidates (corpus
    # questions, p50), the same sentence in 96% of passages and the rest near ties (README, "The answering sentence").
    vectors = passage_vectors(embedder, [texts[index][first:last] for index, (first, last) in flat], quick=True)
    similarity = vectors @ np.asarray(question, dtype=np.float32)
    best: dict[int, tuple[float, tuple[int, int]]] = {}
    for (index, span), score in zip(flat, similarity):
        shared = _shared(span, words[index])
        value = float(score) + 0.01 * min(shared, 3)  # a cosine step of 0.01 per shared word, at most three
        if index not in best or value > best[index][0]:
            best[index] = (value, span)
    return [best[index][1] if index in best else None for index in range(len(texts))]
