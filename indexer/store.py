"""The index: documents, passages and their vectors in SQLite, searched through FAISS and keyword snapshots.

``kb.sqlite3`` holds documents, passages (with their vectors, so the FAISS file
can always be rebuilt), an FTS5 keyword index kept in step by triggers, and a
version number bumped by every write. The FAISS ids are the passages' primary
keys. Readers use one connection per thread; writers hold an exclusive lock
file, which the kernel releases if the writer dies. Every SQL statement is
here or in ``store_rows``; ``layout`` names the files.
"""

from __future__ import annotations

import functools
import logging
import os
import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from .errors import DocumentNotFound
from .filters import PassageFilter
from .keyword import index_languages, keyword_search
from .layout import FORMAT_VERSION, IndexLayout, Manifest
from .records import Document, Passage
from .snapshots import LiveKeywords, LiveVectors
from .store_rows import (DOCUMENT_SELECT, connect, near_duplicate_ids, PASSAGE_COLUMNS, bump_version, document_from_row, insert_passages, passage_from_row,
                         read_meta, remember_languages, save_near_duplicates, transaction, update_document_fields,
                         upsert_document, write_meta)
from .vectors import search_vectors, vector_scores

__all__ = ["FORMAT_VERSION", "Manifest", "Store", "BothSides"]

log = logging.getLogger(__name__)

#: The largest integer SQLite stores (and so the largest id a row can have).
_SQLITE_MAX_INTEGER = 2**63 - 1
_SCHEMA = Path(__file__).with_name("schema.sql").read_text(encoding="utf-8")


@dataclass(frozen=True)
class BothSides:
    """A hybrid search's candidates: passage id -> cosine (dense) and passage id -> BM25 (keyword), each best first."""

    dense: dict[int, float]
    keyword: dict[int, float]


@functools.lru_cache(maxsize=None)
def _keyword_threads(process: int) -> ThreadPoolExecutor:
    """Threads for the keyword side of large hybrid searches, one pool per process (a forked worker makes its own)."""
    return ThreadPoolExecutor(max_workers=min(len(os.sched_getaffinity(0)), 4), thread_name_prefix=f"kb-keywords-{process}")


class Store:
    """One index directory, open for reading and, under ``writing()``, for writing."""

    def __init__(self, data_dir: Path, manifest: Manifest):
        self.data_dir = Path(data_dir)
        self.layout = IndexLayout(self.data_dir)
        self.manifest = manifest
        self._local = threading.local()
        self._vectors = LiveVectors(self.layout, manifest.dimension)
        self._keywords = LiveKeywords(self.layout)
        # Documents read by searches, kept until the next write; a passage's document never changes (ids are not reused).
        self._documents: tuple[int, dict[int, Document]] = (-1, {})
        self._owners: dict[int, int] = {}

    @classmethod
    def open(cls, data_dir: str | Path) -> Store:
        """Open an existing index directory.

        Raises:
            IndexNotBuilt: the directory has no index yet.
            IndexDamaged: its manifest cannot be read.
            IndexOutdated: it is of another format version.
        """
        return cls(Path(data_dir), IndexLayout(Path(data_dir)).read_manifest())

    @classmethod
    def create(cls, data_dir: str | Path, manifest: Manifest) -> Store:
        """Create an index directory, or open it as it is when it already has a manifest."""
        layout = IndexLayout(Path(data_dir))
        layout.data_dir.mkdir(parents=True, exist_ok=True)
        if layout.manifest.exists():
            return cls.open(layout.data_dir)
        store = cls(layout.data_dir, manifest)
        with store.connection() as db:
            db.executescript(_SCHEMA)
        store.manifest = layout.write_manifest(manifest)
        return store

    def connection(self) -> sqlite3.Connection:
        """This thread's connection to the database (made on first use)."""
        db = getattr(self._local, "db", None)
        if db is None:
            db = connect(self.layout.database)
            self._local.db = db
        return db

    def close(self) -> None:
        """Close this thread's connection."""
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None

    # -- reading ------------------------------------------------------------

    @contextmanager
    def reading(self) -> Iterator[None]:
        """A read transaction on this thread's connection: every query inside sees one state of the index."""
        db = self.connection()
        db.execute("BEGIN")
        try:
            yield
        finally:
            db.execute("COMMIT")

    def version(self) -> int:
        """The number of committed writes so far; it changes whenever the index does."""
        row = self.connection().execute("SELECT value FROM meta WHERE key = 'version'").fetchone()
        return int(row[0]) if row else 0

    def counts(self) -> tuple[int, int]:
        """(documents, passages) in the index."""
        db = self.connection()
        return db.execute("SELECT count(*) FROM documents").fetchone()[0], db.execute("SELECT count(*) FROM passages").fetchone()[0]

    def documents(self) -> list[Document]:
        """Every document with its passage count, ordered by title."""
        rows = self.connection().execute(f"{DOCUMENT_SELECT} ORDER BY d.title COLLATE NOCASE, d.id")
        return [document_from_row(row) for row in rows]

    def document(self, document_id: int) -> Document:
        """The document with this id.

        Raises:
            DocumentNotFound: there is none.
        """
        # An id beyond SQLite's 64-bit integers names no document (and could not even be bound to the query).
        in_range = -_SQLITE_MAX_INTEGER - 1 <= document_id <= _SQLITE_MAX_INTEGER
        row = self.connection().execute(f"{DOCUMENT_SELECT} WHERE d.id = ?", (document_id,)).fetchone() if in_range else None
        if row is None:
            raise DocumentNotFound(f"no document with id {document_id}; GET /api/documents lists them")
        return document_from_row(row)

    def documents_by_id(self, ids: list[int]) -> dict[int, Document]:
        """The documents with these ids (missing ids are left out), by id; read once per index version."""
        version = self.version()
        if self._documents[0] != version:
            self._documents = (version, {})
        cached = self._documents[1]
        missing = [i for i in dict.fromkeys(ids) if i not in cached]
        if missing:
            marks = ",".join("?" * len(missing))
            rows = self.connection().execute(f"{DOCUMENT_SELECT} WHERE d.id IN ({marks})", missing)
            cached.update((row["id"], document_from_row(row)) for row in rows)
        return {i: cached[i] for i in ids if i in cached}

    def find_document(self, *, path: str | None = None, sha256: str | None = None) -> Document | None:
        """The document stored from ``path``, or else with content ``sha256``, if any."""
        column, value = ("path", path) if path is not None else ("sha256", sha256)
        row = self.connection().execute(f"SELECT id FROM documents WHERE {column} = ? ORDER BY id LIMIT 1", (value,)).fetchone()
        return self.document(row["id"]) if row else None

    def passages(self, ids: list[int]) -> dict[int, Passage]:
        """The passages with these ids (missing ids are left out), by id."""
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        rows = self.connection().execute(f"SELECT {PASSAGE_COLUMNS} FROM passages WHERE id IN ({marks})", ids)
        return {row["id"]: passage_from_row(row) for row in rows}

    def passage_documents(self, ids: list[int]) -> dict[int, int]:
        """The document id of each of these passages, by passage id (a passage removed since may still be listed)."""
        owners = self._owners
        missing = [i for i in ids if i not in owners]
        if missing:
            if len(owners) > 500_000:  # a bound on memory; the cache refills from the searches that follow
                owners = self._owners = {}
            marks = ",".join("?" * len(missing))
            owners.update(self.connection().execute(f"SELECT id, document_id FROM passages WHERE id IN ({marks})", missing))
        return {i: owners[i] for i in ids if i in owners}

    def vector_index(self):
        """The FAISS index at the database's current version (see ``snapshots.LiveVectors``)."""
        return self._vectors.current(self.connection(), self.version)

    def keyword_index(self):
        """The keyword postings at the database's current version (see ``keyword_index.KeywordIndex``)."""
        return self._keywords.current(self.connection(), self.version)

    def languages(self) -> tuple[str, ...]:
        """The languages of the index's passages (ISO 639-1 codes; "" for unknown)."""
        return index_languages(self.connection())

    def allowed_passages(self, passage_filter: PassageFilter) -> np.ndarray | None:
        """The ids of the passages a filter allows (None: no filter, every passage)."""
        if not passage_filter:
            return None
        sql, args = passage_filter.sql()
        return np.array([row[0] for row in self.connection().execute(sql, args)], dtype=np.int64)

    def dense_candidates(self, vector: np.ndarray, depth: int, allowed: np.ndarray | None = None) -> dict[int, float]:
        """The ``depth`` passages nearest a unit-length vector, with cosine scores, best first (among ``allowed``)."""
        with self._vectors.searching(self.connection(), self.version) as index:
            return search_vectors(index, vector, depth, allowed)

    def dense_scores(self, vector: np.ndarray, ids: Sequence[int]) -> dict[int, float]:
        """The cosine scores of given passages against a vector (removed ones are left out)."""
        with self._vectors.searching(self.connection(), self.version) as index:
            return vector_scores(index, vector, list(ids))

    def hybrid_candidates(self, vector: np.ndarray, question: str, languages: Sequence[str], depth: int, keyword_depth: int,
                          allowed: np.ndarray | None = None) -> BothSides:
        """``dense_candidates`` (``depth``) and ``keyword_candidates`` (``keyword_depth``) of one question.

        On an approximate (HNSW) index the keyword side runs in a second thread while the graph is walked: at a
        million passages each side takes 10–30 ms, mostly in FAISS and numpy, which let go of the GIL. On an exact
        index each takes about a millisecond or less, under what handing work to a thread costs, so they run in turn.
        """
        db = self.connection()
        with self._vectors.searching(db, self.version) as vectors, self._keywords.searching(db, self.version) as keywords:
            keyword_side = functools.partial(keyword_search, keywords, question, keyword_depth, languages,
                                             None if allowed is None else keywords.rows_of(allowed))
            pending = _keyword_threads(os.getpid()).submit(keyword_side) if vectors.approximate else None
            dense = search_vectors(vectors, vector, depth, allowed)
            return BothSides(dense, pending.result() if pending else keyword_side())

    def keyword_candidates(self, question: str, languages: Sequence[str], depth: int,
                           allowed: np.ndarray | None = None) -> dict[int, float]:
        """The ``depth`` best passages by BM25 for a question stemmed in ``languages``, best first (among ``allowed``)."""
        with self._keywords.searching(self.connection(), self.version) as index:
            return keyword_search(index, question, depth, languages, None if allowed is None else index.rows_of(allowed))

    # -- writing ------------------------------------------------------------

    @contextmanager
    def writing(self) -> Iterator[Store]:
        """Hold the index's write lock (released by the kernel if the writer dies); snapshot on leaving."""
        with self.layout.write_locked():
            try:
                yield self
            except BaseException:
                # What was committed before the failure deserves its snapshots too, but a failing snapshot
                # must not hide the error that stopped the writer: it is logged, and the writer's error raised.
                try:
                    self._save_snapshots()
                except Exception:
                    log.exception("could not save the index's snapshots in %s after a failed write", self.data_dir)
                raise
            self._save_snapshots()

    def _save_snapshots(self) -> None:
        self._vectors.save_if_worth_it(self.connection(), self.version)
        self._keywords.save_if_worth_it(self.connection(), self.version)

    def save_document(self, document: Document, passages: list[Passage], vectors: np.ndarray,
                      signature: np.ndarray | None = None, similar: dict[int, float] | None = None) -> Document:
        """Insert or replace one document and its passages in one transaction.

        Args:
            document: the document's fields; ``id`` 0 adds it, an existing id replaces that one.
            passages: its passages, in order.
            vectors: one unit-length row per passage.
            signature: its MinHash signature (``near_duplicates.signature``), kept to compare later documents with.
            similar: the documents it nearly duplicates, with their similarity (replaces the ones it had).

        Returns:
            The stored document with its id and passage count.
        """
        db = self.connection()
        with transaction(db):
            document_id = upsert_document(db, document)
            db.execute("DELETE FROM passages WHERE document_id = ?", (document_id,))
            insert_passages(db, document_id, passages, vectors)
            if signature is not None:
                save_near_duplicates(db, document_id, signature, similar or {})
            remember_languages(db, {passage.language for passage in passages})
            bump_version(db)
        return self.document(document_id)

    def signatures(self) -> dict[int, np.ndarray]:
        """Every document's MinHash signature, by document id."""
        rows = self.connection().execute("SELECT document_id, minhash FROM document_signatures")
        return {row[0]: np.frombuffer(row[1], dtype=np.uint64) for row in rows}

    def near_duplicates(self, ids: list[int]) -> dict[int, list[int]]:
        """The near duplicates of each of these documents, most similar first (documents without any are left out)."""
        return near_duplicate_ids(self.connection(), ids)

    def delete_document(self, document_id: int) -> Document:
        """Remove a document with its passages (keyword rows and vectors with them); return what it was.

        Raises:
            DocumentNotFound: there is no such document.
        """
        db = self.connection()
        with transaction(db):
            document = self.document(document_id)
            db.execute("DELETE FROM documents WHERE id = ?", (document_id,))
            bump_version(db)
        return document

    def update_fields(self, document_id: int, title: str, type_: str, metadata: dict) -> Document:
        """Change a document's title, type and catalogue fields; the keyword index follows the title.

        Raises:
            DocumentNotFound: there is no such document.
        """
        db = self.connection()
        with transaction(db):
            self.document(document_id)
            update_document_fields(db, document_id, title, type_, metadata)
            bump_version(db)
        return self.document(document_id)

    def notices(self) -> set[str]:
        """The notice lines (``notices.notice_key``) this collection repeats on first pages, as learned so far."""
        return set(read_meta(self.connection(), "notices", []))

    def remember_notices(self, keys: set[str]) -> set[str]:
        """Add notice lines to those known; return them all."""
        known = self.notices()
        if keys - known:
            write_meta(self.connection(), "notices", sorted(known | keys))
        return known | keys
