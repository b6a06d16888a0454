"""The in-memory indexes of an index directory (FAISS vectors, keyword postings), kept in step with its database.

SQLite is the truth: it holds every passage's vector and stems, and logs
deleted passage ids with the version that deleted them (``deleted_passages``)
and passages whose keyword context changed (``restemmed_passages``). Each
in-memory index is saved now and then as a snapshot of one version
(``vectors-<version>.faiss``, ``keywords-<version>/``). A process loads the
newest snapshot once, then at each version change removes the passages deleted
since and adds those with larger ids (ids are never reused), so every process
sees a commit at its next search and no update re-reads a whole index.
"""

from __future__ import annotations

import shutil
import sqlite3
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Generic, Iterator, TypeVar

import faiss
import numpy as np

from .keyword_index import KeywordIndex, load_keyword_index, save_keyword_index
from .layout import IndexLayout
from .vectors import VectorIndex, is_approximate, load_vector_index, max_id, new_vector_index, save_vector_index, snapshot_index

__all__ = ["LiveKeywords", "LiveVectors"]

# A writer re-saves a snapshot only when the changes since the last one exceed this share of it.
_RESAVE_SHARE = 0.05
Index = TypeVar("Index")


class _SharedLock:
    """Many holders at once (searches), or one (a change to the index), who waits for those in progress."""

    def __init__(self):
        self._condition = threading.Condition()
        self._sharing = 0
        self._exclusive = False

    @contextmanager
    def shared(self) -> Iterator[None]:
        with self._condition:
            self._condition.wait_for(lambda: not self._exclusive)
            self._sharing += 1
        try:
            yield
        finally:
            with self._condition:
                self._sharing -= 1
                self._condition.notify_all()

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        with self._condition:
            self._condition.wait_for(lambda: not self._exclusive and not self._sharing)
            self._exclusive = True
        try:
            yield
        finally:
            with self._condition:
                self._exclusive = False
                self._condition.notify_all()


class _LiveIndex(Generic[Index]):
    """One process's copy of an in-memory index, brought up to date on demand (thread-safe).

    The index changes in place (FAISS adds, keyword arrays grow), so a search holds it shared
    (``searching``) and a change waits for the searches in progress, and they for it.
    """

    #: The meta key that records the largest passage id in the last snapshot.
    _META_KEY = ""

    def __init__(self, layout: IndexLayout):
        self._layout = layout
        self._lock = threading.Lock()
        self._access = _SharedLock()
        self._index: Index | None = None
        self._version = -1

    @contextmanager
    def searching(self, db: sqlite3.Connection, version: Callable[[], int]) -> Iterator[Index]:
        """The index at the database's current version, held unchanged until the block ends (do not call
        ``current`` inside it: a change would wait for this very search)."""
        index = self.current(db, version)
        with self._access.shared():
            yield index

    def current(self, db: sqlite3.Connection, version: Callable[[], int]) -> Index:
        """The index at the database's current version.

        Args:
            db: this thread's connection to the index database.
            version: reads the database version (on ``db``).
        """
        latest = version()
        with self._lock:
            if self._index is not None and self._version == latest:
                return self._index
            db.execute("BEGIN")  # one read snapshot: the version and the changes agree
            try:
                latest = version()
                with self._access.exclusive():
                    if self._index is None:
                        snapshot = self._latest_snapshot(latest)
                        loaded = self._load(self._snapshot_path(snapshot)) if snapshot is not None else None
                        self._index = self._empty() if loaded is None else loaded
                        self._version = snapshot if loaded is not None else 0
                    self._apply_changes(db)
                    self._version = latest
            finally:
                db.execute("COMMIT")
            return self._index

    def _apply_changes(self, db: sqlite3.Connection) -> None:
        """Remove passages deleted since ``_version`` and add passages newer than the index's largest id."""
        removed = [row[0] for row in db.execute("SELECT id FROM deleted_passages WHERE version > ?", (self._version,))]
        if removed:
            self._remove(removed)
        self._add_newer(db, self._max_id())

    def save_if_worth_it(self, db: sqlite3.Connection, version: Callable[[], int]) -> None:
        """Save a snapshot when there is none, or when the changes since the last one are over 5% of it.

        Small updates to a large index only append to SQLite: readers apply them in
        milliseconds, and re-saving hundreds of megabytes for them would be waste.
        """
        self.current(db, version)  # brought up to date first: the snapshot saves what the database holds now
        latest = version()
        snapshot = self._latest_snapshot(latest)
        if snapshot == latest:
            return
        row = db.execute("SELECT value FROM meta WHERE key = ?", (self._META_KEY,)).fetchone()
        if snapshot is not None and row is not None:
            changed = db.execute("SELECT count(*) FROM deleted_passages WHERE version > ?", (snapshot,)).fetchone()[0]
            changed += db.execute("SELECT count(*) FROM passages WHERE id > ?", (int(row[0]),)).fetchone()[0]
            if changed <= _RESAVE_SHARE * max(self._size(), 1):
                return
        with self._lock, self._access.exclusive():  # a snapshot of an index no search or change is touching
            self._save(self._snapshot_path(latest))
        for older, path in self._snapshots().items():
            if older < latest:
                shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)
        db.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                   (self._META_KEY, self._max_id()))

    def _latest_snapshot(self, at_most: int) -> int | None:
        """The newest version with a saved snapshot, not newer than ``at_most`` (None if there is none)."""
        return max((version for version in self._snapshots() if version <= at_most), default=None)

    # What each kind of index does: name, load and save its snapshots, and change itself.
    def _snapshots(self) -> dict[int, Path]: raise NotImplementedError
    def _snapshot_path(self, version: int) -> Path: raise NotImplementedError
    def _load(self, path: Path) -> Index | None: raise NotImplementedError
    def _save(self, path: Path) -> None: raise NotImplementedError
    def _empty(self) -> Index: raise NotImplementedError
    def _remove(self, ids: list[int]) -> None: raise NotImplementedError
    def _add_newer(self, db: sqlite3.Connection, after_id: int) -> None: raise NotImplementedError
    def _max_id(self) -> int: raise NotImplementedError
    def _size(self) -> int: raise NotImplementedError


class LiveVectors(_LiveIndex[faiss.IndexIDMap2]):
    """The FAISS index of passage vectors (exact, or an HNSW graph from ``vectors.APPROXIMATE_FROM`` vectors)."""

    _META_KEY = "snapshot_max_id"

    def __init__(self, layout: IndexLayout, dimension: int):
        super().__init__(layout)
        self._dimension = dimension
        self._removed: set[int] = set()  # removed from an HNSW graph, which cannot drop them: masked until the next snapshot
        self._view = VectorIndex(new_vector_index(dimension))

    def current(self, db: sqlite3.Connection, version: Callable[[], int]) -> VectorIndex:
        """The index at the database's current version, with the passages it still holds but must not return."""
        index = super().current(db, version)
        view = self._view
        if view.faiss_index is not index or len(view.removed) != len(self._removed):
            view = self._view = VectorIndex.of(index, frozenset(self._removed))
        return view

    def _snapshots(self): return self._layout.vectors_snapshots()
    def _snapshot_path(self, version): return self._layout.vectors_snapshot(version)
    def _load(self, path): return load_vector_index(path)
    def _empty(self): return new_vector_index(self._dimension)
    def _max_id(self): return max_id(self._index)
    def _size(self): return self._index.ntotal - len(self._removed)

    def _remove(self, ids):
        if is_approximate(self._index):
            # Only passages the graph holds: one added and removed between two refreshes never reached it.
            largest = max_id(self._index)
            self._removed.update(i for i in ids if i <= largest)
        else:
            self._index.remove_ids(np.array(ids, dtype=np.int64))

    def _save(self, path):
        # The snapshot drops masked passages, and turns approximate (or exact again) when the size says so.
        self._index = snapshot_index(self._index, self._removed)
        self._removed = set()
        save_vector_index(self._index, path)

    def _add_newer(self, db, after_id):
        rows = db.execute("SELECT id, vector FROM passages WHERE id > ? ORDER BY id", (after_id,)).fetchall()
        if rows:
            ids = np.array([row[0] for row in rows], dtype=np.int64)
            vectors = np.frombuffer(b"".join(row[1] for row in rows), dtype=np.float32).reshape(len(rows), self._dimension)
            self._index.add_with_ids(vectors, ids)


class LiveKeywords(_LiveIndex[KeywordIndex]):
    """The keyword postings (``keyword_index.KeywordIndex``), read from the FTS5 table's stored stems."""

    _META_KEY = "keywords_max_id"

    def _snapshots(self): return self._layout.keywords_snapshots()
    def _snapshot_path(self, version): return self._layout.keywords_snapshot(version)
    def _load(self, path): return load_keyword_index(path)
    def _save(self, path): save_keyword_index(self._index, path)
    def _empty(self): return KeywordIndex.empty()
    def _remove(self, ids): self._index.remove(ids)
    def _max_id(self): return self._index.max_id()
    def _size(self): return self._index.size

    def _apply_changes(self, db):
        super()._apply_changes(db)
        # A document's new title changes its passages' context column: those rows are read again.
        restemmed = [row[0] for row in db.execute("SELECT id FROM restemmed_passages WHERE version > ?", (self._version,))]
        if restemmed:
            marks = ",".join("?" * len(restemmed))
            self._index.add(db.execute(f"SELECT rowid, text, context FROM passages_fts WHERE rowid IN ({marks})", restemmed))
        if self._index.added_share() > 0.05:  # postings in lists are slower to score than compacted arrays
            self._index = self._index.compacted()

    def _add_newer(self, db, after_id):
        rows = db.execute("SELECT rowid, text, context FROM passages_fts WHERE rowid > ? ORDER BY rowid", (after_id,))
        if self._index.size == 0 and after_id == 0:  # no snapshot yet: build the arrays directly, without per-posting objects
            self._index = KeywordIndex.build(rows)
        else:
            self._index.add(rows)
