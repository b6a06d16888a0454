"""Find the query's words in a passage, matching on the word stems its keyword index holds (PyStemmer)."""

from __future__ import annotations

import functools
import re
from typing import Iterable

from .keyword import STOPWORDS, WORD, fold_accents, stem_words, word_stems

__all__ = ["query_terms", "highlight_ranges"]


def query_terms(query: str, languages: Iterable[str] = ("en",)) -> frozenset[str]:
    """The stems of the query's words in each language, without stop words and one-letter words.

    Args:
        query: the user's question.
        languages: ISO 639-1 codes to stem in, as the keyword search did (``keyword.question_languages``).

    Returns:
        Every variant, as ``highlight_ranges`` takes them.
    """
    words = list(dict.fromkeys(word.lower() for word in WORD.findall(query)))
    content = [word for word in words if len(word) > 1 and word not in STOPWORDS]
    return frozenset(stem for language in dict.fromkeys(languages) for stem in stem_words(content, language))


def highlight_ranges(text: str, terms: frozenset[str], language: str = "") -> tuple[tuple[int, int], ...]:
    """Character ranges of the words of ``text`` indexed under one of ``terms`` (see ``keyword.word_stems``).

    Args:
        text: the passage text.
        terms: stems from ``query_terms``.
        language: the passage's ISO 639-1 code ("" is English), as its keyword index was stemmed.

    Returns:
        ``(start, end)`` pairs in increasing order.
    """
    if not terms:
        return ()
    # Snowball drops some accents (Spanish "Índice" -> "indic"): words are looked for in unaccented lower-case
    # text, which keeps the offsets while it has the same length (lower() lengthens a few letters, such as "İ").
    searchable = fold_accents(text).lower()
    if len(searchable) != len(text):
        return _highlight_by_pattern(text, terms, language)
    # Only words that start like a stem can have that stem: find those starts (str.find runs in C), then stem them.
    starts = set()
    for prefix in _prefixes(terms):
        at = searchable.find(prefix)
        while at != -1:
            if at == 0 or not _WORD_CHARACTER.match(searchable, at - 1):
                starts.add(at)
            at = searchable.find(prefix, at + 1)
    spans = [(start, _WORD_REST.match(searchable, start).end()) for start in sorted(starts)]
    stems = word_stems([searchable[start:end] for start, end in spans], language)
    return tuple(span for span, word in zip(spans, stems) if not terms.isdisjoint(word))


_WORD_CHARACTER, _WORD_REST = re.compile(r"\w"), re.compile(r"\w*")


@functools.lru_cache(maxsize=256)
def _prefixes(terms: frozenset[str]) -> tuple[str, ...]:
    return tuple(sorted({fold_accents(term[:3]).lower() for term in terms}))


def _highlight_by_pattern(text: str, terms: frozenset[str], language: str) -> tuple[tuple[int, int], ...]:
    """``highlight_ranges`` for text whose lower case has another length: a case-blind pattern finds the words."""
    candidates = list(_prefix_pattern(terms).finditer(fold_accents(text)))
    stems = word_stems([text[m.start():m.end()].lower() for m in candidates], language)
    return tuple((m.start(), m.end()) for m, word in zip(candidates, stems) if not terms.isdisjoint(word))


@functools.lru_cache(maxsize=256)
def _prefix_pattern(terms: frozenset[str]) -> re.Pattern:
    prefixes = sorted({fold_accents(term[:3]) for term in terms}, key=len, reverse=True)
    return re.compile(r"(?<!\w)(?:" + "|".join(map(re.escape, prefixes)) + r")\w*", re.IGNORECASE | re.UNICODE)
