"""The keyword side in memory: BM25 exactly as SQLite's FTS5 computes it, in about a millisecond.

FTS5 stays the record of what each passage is indexed under (its rows hold the
stems ``keyword.index_stems`` made), but answering from it costs time in
proportion to the number of matching passages: an OR of common words that
matches 90,000 passages takes 270 ms. ``KeywordIndex`` holds the same terms as
an inverted index of numpy arrays and scores the postings of the question's
terms in a few vectorised steps, with FTS5's formula and statistics (k1 1.2,
b 0.75, IDF floored at 1e-6, the context column weighted 0.5, lengths over both
columns), so rankings do not change.

A process loads the newest saved snapshot (``keywords-<version>/``, plain
``.npy`` files) and then, like ``snapshots.LiveVectors``, applies what was
committed since: passages deleted (``deleted_passages``), passages with a
larger id, and passages whose context changed (``restemmed_passages``, when a
document's title is edited). SQLite remains the only thing a writer commits
to, so every add, update and remove stays as atomic as before.
"""

from __future__ import annotations

import math
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from .keyword import fold_accents
from .layout import temporary_path

__all__ = ["KeywordIndex", "KeywordScores", "SNAPSHOT_FILES", "fts_tokens", "load_keyword_index", "save_keyword_index"]

K1, B = 1.2, 0.75
#: Weight of the second FTS5 column (title and heading) against the passage text (see keyword._WEIGHTS).
CONTEXT_WEIGHT = 0.5
# FTS5's unicode61 tokenizer: runs of letters and digits; "_" and everything else separate; accents folded.
_TOKEN = re.compile(r"[^\W_]+")
_ARRAYS = ("ids", "lengths", "indptr", "rows", "weights")
#: The files of a snapshot folder (``save_keyword_index``), all of which a whole snapshot has.
SNAPSHOT_FILES = (*(f"{name}.npy" for name in _ARRAYS), "terms.txt")


def fts_tokens(text: str) -> list[str]:
    """The tokens FTS5 (``unicode61 remove_diacritics 2``) makes of stored stems or a quoted query stem."""
    return _TOKEN.findall(fold_accents(text.lower()))


@dataclass(frozen=True)
class KeywordScores:
    """BM25 scores of the best passages for one question, best first."""

    ids: np.ndarray
    scores: np.ndarray

    def as_dict(self) -> dict[int, float]:
        return dict(zip(self.ids.tolist(), self.scores.tolist()))  # tolist: Python ints and floats in one C call


class KeywordIndex:
    """An inverted index of passage terms with FTS5's BM25 statistics; changed only by its owner, under a lock.

    Rows are numbered in the order passages arrive: those of the loaded snapshot
    first (sorted by id, in compressed column form), then those added since (in
    per-term lists). A removed or re-stemmed passage's row is marked dead.
    """

    def __init__(self, ids: np.ndarray, lengths: np.ndarray, terms: list[str], indptr: np.ndarray, rows: np.ndarray,
                 weights: np.ndarray):
        self._base_ids = ids
        self._terms = {term: number for number, term in enumerate(terms)}
        self._indptr, self._rows, self._weights = indptr, rows, weights
        self._ids, self._lengths, self._alive = ids.copy(), lengths.astype(np.float64), np.ones(len(ids), dtype=bool)
        self._added: dict[str, tuple[list[int], list[float]]] = {}
        self._added_rows: dict[int, int] = {}  # passage id -> its row among those added since the snapshot
        self._stats: tuple[int, np.ndarray, bool] | None = None  # see _statistics; reset by every change

    @classmethod
    def empty(cls) -> KeywordIndex:
        return cls(np.zeros(0, np.int64), np.zeros(0, np.float32), [], np.zeros(1, np.int64), np.zeros(0, np.int32),
                   np.zeros(0, np.float32))

    @classmethod
    def build(cls, rows: Iterable[tuple[int, str, str]], chunk: int = 50_000) -> KeywordIndex:
        """An index of ``(passage id, stored text stems, stored context stems)`` rows, in compressed column form.

        Made a chunk of rows at a time into flat numpy arrays (term, row, weight), so a million passages
        need a few hundred megabytes rather than a Python object per posting.
        """
        terms: dict[str, int] = {}
        ids: list[int] = []
        lengths: list[int] = []
        parts: list[tuple[np.ndarray, np.ndarray]] = []
        batch: list[tuple[int, str, str]] = []
        for row in rows:
            batch.append(row)
            if len(batch) == chunk:
                parts.append(_postings_of(batch, len(ids), terms, ids, lengths))
                batch = []
        if batch:
            parts.append(_postings_of(batch, len(ids), terms, ids, lengths))
        if not ids:
            return cls.empty()
        keys = np.concatenate([key for key, _ in parts])
        weights = np.concatenate([weight for _, weight in parts])
        order = np.argsort(keys, kind="stable")  # by term, then row
        keys, weights = keys[order], weights[order]
        term_of = (keys >> 32).astype(np.int64)
        indptr = np.concatenate([[0], np.cumsum(np.bincount(term_of, minlength=len(terms)))]).astype(np.int64)
        index = cls(np.array(ids, dtype=np.int64), np.array(lengths, dtype=np.float32), list(terms), indptr,
                    (keys & 0xFFFFFFFF).astype(np.int32), weights.astype(np.float32))
        return index if np.all(np.diff(index._base_ids) > 0) else index.compacted()  # rows must be in id order

    @property
    def size(self) -> int:
        """How many live passages the index holds."""
        return int(self._alive.sum())

    def added_share(self) -> float:
        """The rows added since the snapshot (in slower per-term lists), as a share of all rows."""
        return len(self._added_rows) / max(len(self._ids), 1)

    def max_id(self) -> int:
        """The largest passage id ever added (0 when empty)."""
        return int(self._ids.max()) if len(self._ids) else 0

    def add(self, rows: Iterable[tuple[int, str, str]]) -> None:
        """Add passages ``(id, text stems, context stems)``; an id already present is replaced."""
        first = len(self._ids)
        passages, postings = [], {}
        for offset, (passage_id, text, context) in enumerate(rows):
            counts: dict[str, float] = {}
            text_tokens, context_tokens = fts_tokens(text or ""), fts_tokens(context or "")
            for token in text_tokens:
                counts[token] = counts.get(token, 0.0) + 1.0
            for token in context_tokens:
                counts[token] = counts.get(token, 0.0) + CONTEXT_WEIGHT
            for token, weight in counts.items():
                postings.setdefault(token, []).append((first + offset, weight))
            passages.append((int(passage_id), float(len(text_tokens) + len(context_tokens))))
        if not passages:
            return
        self.remove([passage_id for passage_id, _ in passages])
        # The rows exist before any posting names them, so a search running meanwhile never sees a row it cannot read.
        ids, lengths = zip(*passages)
        self._ids = np.concatenate([self._ids, np.array(ids, dtype=np.int64)])
        self._lengths = np.concatenate([self._lengths, np.array(lengths, dtype=np.float64)])
        self._alive = np.concatenate([self._alive, np.ones(len(ids), dtype=bool)])
        self._stats = None  # after the rows exist and before postings name them (see the comment above)
        for offset, passage_id in enumerate(ids):
            self._added_rows[passage_id] = first + offset
        for token, found in postings.items():
            rows_of_token, weights = self._added.setdefault(token, ([], []))
            rows_of_token.extend(row for row, _ in found)
            weights.extend(weight for _, weight in found)

    def remove(self, passage_ids: Sequence[int]) -> None:
        """Mark passages dead (ids not held are ignored)."""
        for passage_id in passage_ids:
            row = self._added_rows.pop(int(passage_id), None)
            if row is None:
                position = int(np.searchsorted(self._base_ids, passage_id))
                if position < len(self._base_ids) and self._base_ids[position] == passage_id:
                    row = position
            if row is not None:
                self._alive[row] = False
                self._stats = None

    def rows_of(self, passage_ids: np.ndarray) -> np.ndarray:
        """A mask over the rows: True for the live rows of these passages."""
        mask = np.zeros(len(self._ids), dtype=bool)
        positions = np.searchsorted(self._base_ids, passage_ids)
        inside = positions < len(self._base_ids)
        found = positions[inside][self._base_ids[positions[inside]] == passage_ids[inside]]
        mask[found] = True
        added = [self._added_rows[int(i)] for i in passage_ids if int(i) in self._added_rows]
        mask[added] = True
        return mask & self._alive

    def _postings(self, term: str) -> tuple[np.ndarray, np.ndarray]:
        rows, weights = [], []
        number = self._terms.get(term)
        if number is not None:
            start, end = self._indptr[number], self._indptr[number + 1]
            rows.append(self._rows[start:end]), weights.append(self._weights[start:end])
        if term in self._added:
            added_rows, added_weights = self._added[term]
            rows.append(np.array(added_rows, dtype=np.int64)), weights.append(np.array(added_weights, dtype=np.float32))
        if not rows:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        return np.concatenate(rows), np.concatenate(weights)

    def search(self, terms: Sequence[str], k: int, allowed: np.ndarray | None = None) -> KeywordScores:
        """The ``k`` best passages for query terms, scored as FTS5's ``bm25()`` scores an OR of them.

        Args:
            terms: the question's stems (each is tokenised as FTS5 tokenises a quoted phrase).
            k: how many passages.
            allowed: a row mask (``rows_of``) the passages must be in, or None for all.

        Returns:
            Passage ids and scores (higher is better), best first, ties broken by id.
        """
        count, norms, all_alive = self._statistics()
        if not count or k <= 0:
            return KeywordScores(np.zeros(0, np.int64), np.zeros(0))
        found_rows, found_scores = [], []
        for term in dict.fromkeys(token for term in terms for token in fts_tokens(term)):
            rows, weights = self._postings(term)
            if not all_alive:
                keep = self._alive[rows]
                rows, weights = rows[keep], weights[keep]
            if not len(rows):
                continue
            idf = math.log((count - len(rows) + 0.5) / (len(rows) + 0.5))
            idf = idf if idf > 0 else 1e-6
            if allowed is not None:
                keep = allowed[rows]
                rows, weights = rows[keep], weights[keep]
            weights = weights.astype(np.float64)
            found_rows.append(rows), found_scores.append(idf * weights * (K1 + 1) / (weights + norms[rows]))
        if not found_rows:
            return KeywordScores(np.zeros(0, np.int64), np.zeros(0))
        return self._best(np.concatenate(found_rows), np.concatenate(found_scores), k)

    def _best(self, rows: np.ndarray, scores: np.ndarray, k: int) -> KeywordScores:
        """Sum the scores per row and keep the ``k`` best rows as passage ids, best first, ties by id."""
        if len(rows) > len(self._ids) // 16:  # many postings: one array over every row beats sorting them
            totals = np.bincount(rows, weights=scores, minlength=len(self._ids))
            candidates = np.flatnonzero(totals)
            totals = totals[candidates]
        else:
            candidates, inverse = np.unique(rows, return_inverse=True)
            totals = np.bincount(inverse, weights=scores)
        best = np.argpartition(-totals, min(k, len(totals)) - 1)[:k] if len(totals) > k else np.arange(len(totals))
        ids = self._ids[candidates[best]]
        order = np.lexsort((ids, -totals[best]))
        return KeywordScores(ids[order], totals[best][order])

    def _statistics(self) -> tuple[int, np.ndarray, bool]:
        """Live passages, each row's BM25 length norm ``k1·(1 − b + b·length/average)``, and whether every row is live."""
        if self._stats is None:
            alive = self._alive
            count = int(alive.sum())
            average = float(self._lengths[alive].sum()) / count if count else 1.0
            self._stats = (count, K1 * (1 - B + B * self._lengths / average), count == len(alive))
        return self._stats

    def compacted(self) -> KeywordIndex:
        """The live passages only, sorted by id, all in compressed column form (what a snapshot saves)."""
        live_rows = np.flatnonzero(self._alive)
        order = live_rows[np.argsort(self._ids[live_rows], kind="stable")]
        new_row = np.full(len(self._ids), -1, dtype=np.int64)
        new_row[order] = np.arange(len(order))
        terms, indptr, all_rows, all_weights = [], [0], [], []
        for term in sorted(set(self._terms) | set(self._added)):
            rows, weights = self._postings(term)
            rows = new_row[rows]
            keep = rows >= 0
            if keep.any():
                rows, weights = rows[keep], weights[keep]
                sort = np.argsort(rows, kind="stable")
                terms.append(term), all_rows.append(rows[sort].astype(np.int32)), all_weights.append(weights[sort])
                indptr.append(indptr[-1] + int(keep.sum()))
        concat = (lambda parts, dtype: np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype))
        return KeywordIndex(self._ids[order], self._lengths[order].astype(np.float32), terms, np.array(indptr, dtype=np.int64),
                            concat(all_rows, np.int32), concat(all_weights, np.float32))

    def arrays(self) -> tuple[list[str], dict[str, np.ndarray]]:
        """The terms and arrays of a compacted index (see ``save_keyword_index``)."""
        terms = sorted(self._terms, key=self._terms.__getitem__)
        return terms, {"ids": self._ids, "lengths": self._lengths.astype(np.float32), "indptr": self._indptr,
                       "rows": self._rows, "weights": self._weights}


def _postings_of(batch: list[tuple[int, str, str]], first_row: int, terms: dict[str, int], ids: list[int],
                 lengths: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """The (term << 32 | row) keys and summed weights of one chunk of rows; extends ``terms``, ``ids`` and ``lengths``."""
    term_numbers: list[int] = []
    rows: list[int] = []
    weights: list[float] = []
    for offset, (passage_id, text, context) in enumerate(batch):
        text_tokens, context_tokens = fts_tokens(text or ""), fts_tokens(context or "")
        ids.append(int(passage_id))
        lengths.append(len(text_tokens) + len(context_tokens))
        for tokens, weight in ((text_tokens, 1.0), (context_tokens, CONTEXT_WEIGHT)):
            term_numbers.extend(terms.setdefault(token, len(terms)) for token in tokens)
            rows.extend([first_row + offset] * len(tokens))
            weights.extend([weight] * len(tokens))
    keys = (np.array(term_numbers, dtype=np.int64) << 32) | np.array(rows, dtype=np.int64)
    unique, inverse = np.unique(keys, return_inverse=True)  # a word repeated in a passage: one posting, weights summed
    return unique, np.bincount(inverse, weights=np.array(weights, dtype=np.float64))


def save_keyword_index(index: KeywordIndex, target: Path) -> Path:
    """Write the index's live passages to the folder ``target`` whole (written aside, synced, then renamed).

    Returns:
        ``target``.
    """
    terms, arrays = index.compacted().arrays()
    temporary = temporary_path(target)
    shutil.rmtree(temporary, ignore_errors=True)
    temporary.mkdir()
    for name, array in arrays.items():
        with open(temporary / f"{name}.npy", "wb") as handle:
            np.save(handle, array)
            os.fsync(handle.fileno())
    with open(temporary / "terms.txt", "w", encoding="utf-8") as handle:
        handle.write("\n".join(terms))
        os.fsync(handle.fileno())
    shutil.rmtree(target, ignore_errors=True)
    os.replace(temporary, target)
    return target


def load_keyword_index(folder: Path) -> KeywordIndex | None:
    """The snapshot in ``folder``, or None when it is missing or unreadable (the caller rebuilds)."""
    try:
        arrays = {name: np.load(folder / f"{name}.npy") for name in _ARRAYS}
        text = (folder / "terms.txt").read_text(encoding="utf-8")
    except (OSError, ValueError):
        return None
    terms = text.split("\n") if text else []
    return KeywordIndex(arrays["ids"], arrays["lengths"], terms, arrays["indptr"], arrays["rows"], arrays["weights"])
