"""Keyword search: BM25 over the passages' stems, stemmed per language.

The FTS5 table holds each passage as the Snowball stems of its words in the
passage's own language, so Spanish "formalización" and "formalizar" both become
"formaliz"; a passage in another language than English also keeps each word's
English stem, so names and cognates meet an English question as they did when
everything was stemmed as English. The insert trigger calls the SQL function
``kb_stems`` (``index_stems``, registered on every connection by the store).
A question is stemmed in English and in its own language when that is clear,
else in every language the index holds; the variants are OR-ed. The FTS5 table
is the record of the stems; ``keyword_index`` scores them in memory.

The user's words never reach FTS5's query language as syntax: the question is
cut into words, stop words are dropped, and each stem is quoted and OR-ed, so
quotes, ``AND``, ``NEAR``, ``*``, parentheses and stray punctuation are
searched as plain text (or ignored), never parsed.
"""

from __future__ import annotations

import importlib.util
import json
import re
import sqlite3
import threading
import unicodedata
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Sequence

import numpy as np
import Stemmer

from .language import LANGUAGE_NAMES, question_language

if TYPE_CHECKING:
    from .keyword_index import KeywordIndex

__all__ = ["STEMS_FUNCTION", "STOPWORDS", "WORD", "fold_accents", "fts_query", "index_languages", "index_stems",
           "keyword_search", "query_stems", "question_languages", "question_words", "stem_words", "word_stems"]

WORD = re.compile(r"\w+", re.UNICODE)


def _stopword_lists() -> frozenset[str]:
    """bm25s's English, Spanish and French stop words, read from its ``stopwords`` module alone.

    ``import bm25s.stopwords`` would run the package's ``__init__``, which imports numba
    (0.25 s on every cold start); the module itself is plain lists.
    """
    spec = importlib.util.find_spec("bm25s")  # finds the package without running it
    path = Path(spec.origin).with_name("stopwords.py")
    module_spec = importlib.util.spec_from_file_location("_kb_bm25s_stopwords", path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return frozenset(module.STOPWORDS_EN_PLUS) | frozenset(module.STOPWORDS_SPANISH) | frozenset(module.STOPWORDS_FRENCH)


STOPWORDS = _stopword_lists()
#: The SQL function schema.sql's trigger calls: ``kb_stems(text, language)``.
STEMS_FUNCTION = "kb_stems"
# Passages of unknown language ("") are stemmed as English, as every passage was before languages were detected.
_ENGLISH = "en"
# English keeps the original Porter algorithm (Snowball's "porter"), the one FTS5's porter tokenizer ran, on
# words as that tokenizer saw them (see stem_words): English-only indexes rank as before. On the corpus's dev
# questions Snowball's "english" (Porter2) scored lower (nDCG@10 0.683 against 0.687).
_ALGORITHMS = {**{code: name for code, name in LANGUAGE_NAMES.items() if name in Stemmer.algorithms()}, _ENGLISH: "porter"}
# PyStemmer objects are not safe to share between threads: each thread keeps its own.
_local = threading.local()
# (database file, index version) -> the languages its passages are in; see index_languages.
_languages_cache: dict[tuple[str, int], tuple[str, ...]] = {}


def _fold_table() -> dict[int, str]:
    """Accented Latin letters -> their base letter, one character for one (so offsets stay put)."""
    table = {}
    for code in range(0xC0, 0x250):
        base = unicodedata.normalize("NFD", chr(code))[0]
        if base != chr(code) and base.isalpha():
            table[code] = base
    return table


_FOLD = _fold_table()


_NON_ASCII = re.compile(r"[^\x00-\x7f]+")


def fold_accents(text: str) -> str:
    """The text with accented Latin letters replaced by their base letter (same length)."""
    if text.isascii():  # a flag check
        return text
    # Translating only the runs of non-ASCII characters: str.translate looks every character up in the table
    # (a SciFact abstract: 19 us against 4 us).
    return _NON_ASCII.sub(lambda run: run.group().translate(_FOLD), text)


def _stemmer(language: str) -> Stemmer.Stemmer | None:
    """This thread's Snowball stemmer for a language code (None for a language Snowball has none for)."""
    stemmers = getattr(_local, "stemmers", None)
    if stemmers is None:
        stemmers = _local.stemmers = {}
    if language not in stemmers:
        name = _ALGORITHMS.get(language or _ENGLISH)
        stemmers[language] = Stemmer.Stemmer(name) if name else None
    return stemmers[language]


def stem_words(words: Sequence[str], language: str) -> list[str]:
    """The Snowball stems of lower-case words in a language.

    Args:
        words: lower-case words.
        language: an ISO 639-1 code; "" is English; a language without a stemmer keeps the words as they are.

    Returns:
        One stem per word, in order.
    """
    stemmer = _stemmer(language)
    if stemmer is None:
        return list(words)
    if (language or _ENGLISH) != _ENGLISH:
        return stemmer.stemWords(words)
    # As FTS5's porter tokenizer did: accents off first, and words under three letters ("as", "is") kept whole.
    folded = [fold_accents(word) for word in words]
    return [stem if len(word) >= 3 else word for word, stem in zip(folded, stemmer.stemWords(folded))]


def word_stems(words: Sequence[str], language: str) -> list[tuple[str, ...]]:
    """The stems each word is indexed under: in its passage's language, and in English too for other languages.

    Args:
        words: lower-case words of one passage.
        language: the passage's ISO 639-1 code ("" is English).

    Returns:
        One tuple of distinct stems per word.
    """
    own = stem_words(words, language)
    if (language or _ENGLISH) == _ENGLISH:
        return [(stem,) for stem in own]
    return [tuple(dict.fromkeys(pair)) for pair in zip(own, stem_words(words, _ENGLISH))]


def index_stems(text: str | None, language: str | None) -> str:
    """What the FTS5 table holds for a text: its words' stems (see ``word_stems``), space-separated (``kb_stems``).

    Args:
        text: a passage's text, or its title and heading.
        language: the passage's ISO 639-1 code ("" or None: English).

    Returns:
        For example ``"el monotributo monotribut social"`` for Spanish.
    """
    if not text:
        return ""
    return " ".join(stem for stems in word_stems(WORD.findall(text.lower()), language or "") for stem in stems)


def question_words(question: str) -> list[str]:
    """The question's lower-case words without stop words (all of them when every word is one), each once."""
    words = [word.lower() for word in WORD.findall(question)]
    content = [word for word in words if word not in STOPWORDS] or words
    return list(dict.fromkeys(content))


def question_languages(question: str, held: Sequence[str]) -> tuple[str, ...]:
    """The languages to stem a question in.

    English always: every passage carries English stems. Then the question's own language when it is
    clearly one the index holds; a short or unclear question (``formalizar``) gets every language held.
    Stems of a clear question in other languages only add noise (Spanish turns "speaker" into "speak").

    Args:
        question: the user's question.
        held: the index's languages (``index_languages``).

    Returns:
        ISO 639-1 codes, English first.
    """
    if set(held) <= {_ENGLISH, ""}:  # an English index stems every question in English: no need to detect it
        return (_ENGLISH,)
    language = question_language(question)
    return tuple(dict.fromkeys((_ENGLISH, language) if language in held else (_ENGLISH, *held)))


def query_stems(question: str, languages: Iterable[str] = (_ENGLISH,)) -> list[str]:
    """The distinct stems of the question's content words, in every language asked for.

    Args:
        question: the user's question, any characters.
        languages: the languages to stem each word in; every variant is kept.

    Returns:
        For example ``["informal", "worker", "thailand"]``.
    """
    words = question_words(question)
    variants = [stem_words(words, language) for language in dict.fromkeys(languages)] or [words]
    return list(dict.fromkeys(stem for stems_of_word in zip(*variants) for stem in stems_of_word if stem))


def fts_query(question: str, languages: Iterable[str] = (_ENGLISH,)) -> str | None:
    """An FTS5 MATCH expression that ORs the quoted stems of the question's content words (None when it has none).

    Args:
        question: the user's question, any characters.
        languages: the languages to stem each word in; every variant is searched.

    Returns:
        For example ``"informal" OR "worker" OR "thailand"``.
    """
    # A stem is made of \w characters only, so the quotes cannot be closed from inside.
    return " OR ".join(f'"{stem}"' for stem in query_stems(question, languages)) or None


def index_languages(db: sqlite3.Connection) -> tuple[str, ...]:
    """The languages of the index's passages ("" counted as English), for ``question_languages``.

    Writers keep the set in ``meta`` (``Store.save_document``); an index written before that is scanned
    (every passage row: 3 s at a million passages). The answer is kept per database and index version.

    Args:
        db: a connection to the index database.

    Returns:
        Sorted ISO 639-1 codes; ``("en",)`` for an empty index.
    """
    database = db.execute("PRAGMA database_list").fetchone()[2]
    row = db.execute("SELECT value FROM meta WHERE key = 'version'").fetchone()
    key = (database, int(row[0]) if row else 0)
    languages = _languages_cache.get(key)
    if languages is None:
        kept = db.execute("SELECT value FROM meta WHERE key = 'languages'").fetchone()
        codes = json.loads(kept[0]) if kept else [code for (code,) in db.execute("SELECT DISTINCT language FROM passages")]
        found = {code or _ENGLISH for code in codes}
        languages = tuple(sorted(found or {_ENGLISH}))
        if len(_languages_cache) > 64:  # old versions are never asked for again
            _languages_cache.clear()
        _languages_cache[key] = languages
    return languages


def keyword_search(index: KeywordIndex, question: str, k: int, languages: Sequence[str],
                   allowed: np.ndarray | None = None) -> dict[int, float]:
    """The ``k`` passages with the best BM25 score for the question, best first.

    Args:
        index: the index's keyword postings (``Store.keyword_index``).
        question: the user's question.
        k: how many passages.
        languages: the languages to stem the question in (``question_languages``).
        allowed: if given, a row mask of the passages that may be returned (``KeywordIndex.rows_of``).

    Returns:
        ``{passage_id: score}`` with higher scores better (FTS5's ``bm25()`` with the sign turned).
    """
    stems = query_stems(question, languages)
    return index.search(stems, k, allowed).as_dict() if stems else {}
