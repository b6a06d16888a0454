"""The FAISS index of an index directory, kept in step with its database.

SQLite is the truth: it holds every passage's vector and logs deleted passage
ids with the version that deleted them (``deleted_passages``). A FAISS file is
a snapshot of it at one version (``vectors-<version>.faiss``). A process loads
the newest snapshot once, then at each version change removes the passages
deleted since and adds those with larger ids (ids are never reused), so every
process sees a commit at its next search and no update re-reads the whole index.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Callable

import faiss
import numpy as np

from .vectors import latest_snapshot, load_vector_index, max_id, new_vector_index, save_vector_index

__all__ = ["LiveVectors"]

# A writer re-saves the snapshot only when the changes since the last one exceed this share of it.
_RESAVE_SHARE = 0.05


class LiveVectors:
    """One process's FAISS index of an index directory, brought up to date on demand (thread-safe)."""

    def __init__(self, data_dir: Path, dimension: int):
        self._data_dir = data_dir
        self._dimension = dimension
        self._lock = threading.Lock()
        self._index: faiss.IndexIDMap2 | None = None
        self._version = -1

    def current(self, db: sqlite3.Connection, version: Callable[[], int]) -> faiss.IndexIDMap2:
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
                if self._index is None:
                    self._load_snapshot(latest)
                self._apply_changes(db)
                self._version = latest
            finally:
                db.execute("COMMIT")
            return self._index

    def _load_snapshot(self, version: int) -> None:
        snapshot = latest_snapshot(self._data_dir, version)
        index = load_vector_index(self._data_dir, snapshot) if snapshot is not None else None
        self._index = index or new_vector_index(self._dimension)
        self._version = snapshot if index is not None else 0

    def _apply_changes(self, db: sqlite3.Connection) -> None:
        """Remove passages deleted since ``_version`` and add passages newer than the index's largest id."""
        removed = [row[0] for row in db.execute("SELECT id FROM deleted_passages WHERE version > ?", (self._version,))]
        if removed:
            self._index.remove_ids(np.array(removed, dtype=np.int64))
        rows = db.execute("SELECT id, vector FROM passages WHERE id > ? ORDER BY id", (max_id(self._index),)).fetchall()
        if rows:
            ids = np.array([row[0] for row in rows], dtype=np.int64)
            vectors = np.frombuffer(b"".join(row[1] for row in rows), dtype=np.float32).reshape(len(rows), self._dimension)
            self._index.add_with_ids(vectors, ids)

    def save_if_worth_it(self, db: sqlite3.Connection, version: Callable[[], int]) -> None:
        """Save a snapshot when there is none, or when the changes since the last one are over 5% of it.

        Small updates to a large index only append to SQLite: readers apply them in
        milliseconds, and re-saving hundreds of megabytes for them would be waste.
        """
        index = self.current(db, version)
        latest = version()
        snapshot = latest_snapshot(self._data_dir, latest)
        if snapshot == latest:
            return
        row = db.execute("SELECT value FROM meta WHERE key = 'snapshot_max_id'").fetchone()
        if snapshot is not None and row is not None:
            changed = db.execute("SELECT count(*) FROM deleted_passages WHERE version > ?", (snapshot,)).fetchone()[0]
            changed += db.execute("SELECT count(*) FROM passages WHERE id > ?", (int(row[0]),)).fetchone()[0]
            if changed <= _RESAVE_SHARE * max(index.ntotal, 1):
                return
        save_vector_index(index, self._data_dir, latest)
        db.execute("INSERT INTO meta (key, value) VALUES ('snapshot_max_id', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                   (max_id(index),))
