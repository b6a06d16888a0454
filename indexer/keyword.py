"""Keyword search: BM25 over the FTS5 table that mirrors the passages.

The user's words never reach FTS5's query language as syntax: the question is
cut into words, stop words are dropped, and each word is quoted and OR-ed, so
quotes, ``AND``, ``NEAR``, ``*``, parentheses and stray punctuation are
searched as plain text (or ignored), never parsed.
"""

from __future__ import annotations

import re
import sqlite3

from bm25s.stopwords import STOPWORDS_EN_PLUS, STOPWORDS_SPANISH

__all__ = ["fts_query", "keyword_search"]

_WORD = re.compile(r"\w+", re.UNICODE)
_STOPWORDS = frozenset(STOPWORDS_EN_PLUS) | frozenset(STOPWORDS_SPANISH)
# Column weights for bm25(): the passage text, then its context (document title and heading).
_WEIGHTS = "1.0, 0.5"


def fts_query(question: str) -> str | None:
    """An FTS5 MATCH expression that ORs the question's quoted content words (None when it has none).

    Args:
        question: the user's question, any characters.

    Returns:
        For example ``"informal" OR "workers" OR "thailand"``.
    """
    words = [word.lower() for word in _WORD.findall(question)]
    content = [word for word in words if word not in _STOPWORDS] or words
    unique = list(dict.fromkeys(content))
    return " OR ".join(f'"{word}"' for word in unique) or None


def keyword_search(db: sqlite3.Connection, question: str, k: int, allowed_sql: str = "", allowed_args: tuple = ()) -> dict[int, float]:
    """The ``k`` passages with the best BM25 score for the question, best first.

    Args:
        db: a connection to the index database.
        question: the user's question.
        k: how many passages.
        allowed_sql: an optional ``SELECT id …`` that limits the passages (filters).
        allowed_args: its parameters.

    Returns:
        ``{passage_id: score}`` with higher scores better.
    """
    match = fts_query(question)
    if match is None:
        return {}
    where = f"AND rowid IN ({allowed_sql})" if allowed_sql else ""
    rows = db.execute(
        f"SELECT rowid, -bm25(passages_fts, {_WEIGHTS}) FROM passages_fts WHERE passages_fts MATCH ? {where} "
        f"ORDER BY bm25(passages_fts, {_WEIGHTS}) LIMIT ?",
        (match, *allowed_args, k),
    )
    return {int(rowid): float(score) for rowid, score in rows}
