"""Find the query's words in a passage, matching on word stems (PyStemmer)."""

from __future__ import annotations

import functools
import re

import Stemmer
from bm25s.stopwords import STOPWORDS_EN_PLUS, STOPWORDS_SPANISH

__all__ = ["query_terms", "highlight_ranges"]

_WORD = re.compile(r"\w+", re.UNICODE)
_STOPWORDS = frozenset(STOPWORDS_EN_PLUS) | frozenset(STOPWORDS_SPANISH)


@functools.lru_cache(maxsize=1)
def _stemmer() -> Stemmer.Stemmer:
    return Stemmer.Stemmer("english")


@functools.lru_cache(maxsize=65536)
def _stem(word: str) -> str:
    return _stemmer().stemWord(word.lower())


def query_terms(query: str) -> frozenset[str]:
    """The stems of the query's words, without stop words and one-letter words."""
    words = (word.lower() for word in _WORD.findall(query))
    return frozenset(_stem(word) for word in words if len(word) > 1 and word not in _STOPWORDS)


def highlight_ranges(text: str, terms: frozenset[str]) -> tuple[tuple[int, int], ...]:
    """Character ranges of the words of ``text`` whose stem is one of ``terms``.

    Args:
        text: the passage text.
        terms: stems from ``query_terms``.

    Returns:
        ``(start, end)`` pairs in increasing order.
    """
    if not terms:
        return ()
    # Only words that start like a stem can have that stem: let the regex engine skip the rest.
    candidates = _prefix_pattern(terms)
    return tuple((m.start(), m.end()) for m in candidates.finditer(text) if _stem(m.group()) in terms)


@functools.lru_cache(maxsize=256)
def _prefix_pattern(terms: frozenset[str]) -> re.Pattern:
    prefixes = sorted({term[:3] for term in terms}, key=len, reverse=True)
    return re.compile(r"(?<!\w)(?:" + "|".join(map(re.escape, prefixes)) + r")\w*", re.IGNORECASE | re.UNICODE)
