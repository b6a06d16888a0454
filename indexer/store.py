"""The index directory: manifest, SQLite database and FAISS vectors.

``manifest.json`` says which model and dimension the vectors have and the
format version. ``kb.sqlite3`` holds documents, passages (with their vectors,
so the FAISS file can always be rebuilt), an FTS5 keyword index kept in step by
triggers, and a version number bumped by every write. The FAISS ids are the
passages' primary keys. Readers use one connection per thread; writers hold an
exclusive lock file, which the kernel releases if the writer dies.
"""

from __future__ import annotations

import fcntl
import json
import sqlite3
import threading
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

import numpy as np

from .errors import DocumentNotFound, IndexNotBuilt, IndexOutdated, KBError
from .keyword import STEMS_FUNCTION, index_stems
from .records import Document, Location, Passage
from .snapshots import LiveKeywords, LiveVectors

__all__ = ["FORMAT_VERSION", "Manifest", "Store"]

FORMAT_VERSION = 5
_SCHEMA = Path(__file__).with_name("schema.sql").read_text(encoding="utf-8")
_PASSAGE_COLUMNS = "id, document_id, ordinal, text, heading, page, page_label, slide, section, char_start, char_end, ocr, language"
_DOCUMENT_COLUMNS = "d.id, d.path, d.original, d.filename, d.title, d.type, d.format, d.sha256, d.size, d.indexed_at, d.metadata, d.language, d.notice"


@dataclass(frozen=True)
class Manifest:
    """What the vectors in an index directory are: model, dimension, format version."""

    model: str
    dimension: int
    format_version: int = FORMAT_VERSION


class Store:
    """One index directory, open for reading and, under ``writing()``, for writing."""

    def __init__(self, data_dir: Path, manifest: Manifest):
        self.data_dir = Path(data_dir)
        self.manifest = manifest
        self._local = threading.local()
        self._vectors = LiveVectors(self.data_dir, manifest.dimension)
        self._keywords = LiveKeywords(self.data_dir)
        # Documents read by searches, kept until the next write; a passage's document never changes (ids are not reused).
        self._documents: tuple[int, dict[int, Document]] = (-1, {})
        self._owners: dict[int, int] = {}

    @classmethod
    def open(cls, data_dir: str | Path) -> Store:
        """Open an existing index directory.

        Raises:
            IndexNotBuilt: the directory has no index yet.
        """
        data_dir = Path(data_dir)
        manifest_path = data_dir / "manifest.json"
        if not manifest_path.exists():
            raise IndexNotBuilt(f"no index in {data_dir} yet; build it with `kb index` (or `make run`)")
        try:
            fields = json.loads(manifest_path.read_text(encoding="utf-8"))
            manifest = Manifest(**fields)
        except (ValueError, TypeError) as error:
            raise KBError(f"{manifest_path} is damaged ({error}); delete {data_dir} and run `kb index` again") from error
        if manifest.format_version != FORMAT_VERSION:
            raise IndexOutdated(
                f"{data_dir} holds an index of format {manifest.format_version}, this version reads {FORMAT_VERSION}; "
                f"rebuild it with `kb index --rebuild`"
            )
        return cls(data_dir, manifest)

    @classmethod
    def create(cls, data_dir: str | Path, manifest: Manifest) -> Store:
        """Create (or reuse, if its manifest matches) an index directory."""
        data_dir = Path(data_dir)
        data_dir.mkdir(parents=True, exist_ok=True)
        store = cls(data_dir, manifest)
        with store.connection() as db:
            db.executescript(_SCHEMA)
        temporary = data_dir / "manifest.json.tmp"
        temporary.write_text(json.dumps(asdict(manifest), indent=2) + "\n", encoding="utf-8")
        temporary.replace(data_dir / "manifest.json")
        return store

    def connection(self) -> sqlite3.Connection:
        """This thread's connection to the database (made on first use)."""
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.data_dir / "kb.sqlite3", timeout=30, isolation_level=None)
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA foreign_keys=ON")
            db.execute("PRAGMA busy_timeout=30000")
            # The FTS5 insert trigger and update_fields stem text with it, so every connection needs it.
            db.create_function(STEMS_FUNCTION, 2, index_stems, deterministic=True)
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
        rows = self.connection().execute(
            f"SELECT {_DOCUMENT_COLUMNS}, (SELECT count(*) FROM passages p WHERE p.document_id = d.id) AS passage_count "
            "FROM documents d ORDER BY d.title COLLATE NOCASE, d.id"
        )
        return [_document(row) for row in rows]

    def document(self, document_id: int) -> Document:
        """The document with this id.

        Raises:
            DocumentNotFound: there is none.
        """
        row = self.connection().execute(
            f"SELECT {_DOCUMENT_COLUMNS}, (SELECT count(*) FROM passages p WHERE p.document_id = d.id) AS passage_count "
            "FROM documents d WHERE d.id = ?",
            (document_id,),
        ).fetchone()
        if row is None:
            raise DocumentNotFound(f"no document with id {document_id}; GET /api/documents lists them")
        return _document(row)

    def documents_by_id(self, ids: list[int]) -> dict[int, Document]:
        """The documents with these ids (missing ids are left out), by id; read once per index version."""
        version = self.version()
        if self._documents[0] != version:
            self._documents = (version, {})
        cached = self._documents[1]
        missing = [i for i in dict.fromkeys(ids) if i not in cached]
        if missing:
            marks = ",".join("?" * len(missing))
            rows = self.connection().execute(
                f"SELECT {_DOCUMENT_COLUMNS}, (SELECT count(*) FROM passages p WHERE p.document_id = d.id) AS passage_count "
                f"FROM documents d WHERE d.id IN ({marks})",
                missing,
            )
            cached.update((row["id"], _document(row)) for row in rows)
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
        rows = self.connection().execute(f"SELECT {_PASSAGE_COLUMNS} FROM passages WHERE id IN ({marks})", ids)
        return {row["id"]: _passage(row) for row in rows}

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

    # -- writing ------------------------------------------------------------

    @contextmanager
    def writing(self) -> Iterator[Store]:
        """Hold the index's write lock (released by the kernel if the writer dies); snapshot on leaving."""
        with open(self.data_dir / "write.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield self
            finally:
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
        with _transaction(db):
            document_id = _upsert_document(db, document)
            db.execute("DELETE FROM passages WHERE document_id = ?", (document_id,))
            db.executemany(
                "INSERT INTO passages (document_id, ordinal, text, heading, page, page_label, slide, section, char_start, char_end,"
                " ocr, language, vector) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [_passage_row(document_id, passage, vector) for passage, vector in zip(passages, vectors)],
            )
            if signature is not None:
                _save_near_duplicates(db, document_id, signature, similar or {})
            _remember_languages(db, {passage.language for passage in passages})
            _bump_version(db)
        return self.document(document_id)

    def signatures(self) -> dict[int, np.ndarray]:
        """Every document's MinHash signature, by document id."""
        rows = self.connection().execute("SELECT document_id, minhash FROM document_signatures")
        return {row[0]: np.frombuffer(row[1], dtype=np.uint64) for row in rows}

    def near_duplicates(self, ids: list[int]) -> dict[int, list[int]]:
        """The near duplicates of each of these documents, most similar first (documents without any are left out)."""
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        rows = self.connection().execute(
            f"SELECT document_id, other_id FROM near_duplicates WHERE document_id IN ({marks}) "
            "ORDER BY document_id, similarity DESC, other_id", list(ids))
        found: dict[int, list[int]] = {}
        for document_id, other_id in rows:
            found.setdefault(document_id, []).append(other_id)
        return found

    def delete_document(self, document_id: int) -> Document:
        """Remove a document with its passages (keyword rows and vectors with them); return what it was.

        Raises:
            DocumentNotFound: there is no such document.
        """
        db = self.connection()
        with _transaction(db):
            document = self.document(document_id)
            db.execute("DELETE FROM documents WHERE id = ?", (document_id,))
            _bump_version(db)
        return document

    def update_fields(self, document_id: int, title: str, type_: str, metadata: dict) -> Document:
        """Change a document's title, type and catalogue fields; the keyword index follows the title.

        Raises:
            DocumentNotFound: there is no such document.
        """
        db = self.connection()
        with _transaction(db):
            self.document(document_id)
            db.execute("UPDATE documents SET title = ?, type = ?, metadata = ? WHERE id = ?",
                       (title, type_, json.dumps(metadata, ensure_ascii=False, default=str), document_id))
            db.execute(f"UPDATE passages_fts SET context = (SELECT {STEMS_FUNCTION}(? || ' ' || heading, language) FROM passages "
                       "WHERE id = passages_fts.rowid) WHERE rowid IN (SELECT id FROM passages WHERE document_id = ?)", (title, document_id))
            # Readers' keyword postings re-read these passages (snapshots.LiveKeywords).
            db.execute("INSERT OR REPLACE INTO restemmed_passages (id, version) SELECT id, "
                       "COALESCE((SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'version'), 0) + 1 FROM passages WHERE document_id = ?",
                       (document_id,))
            _bump_version(db)
        return self.document(document_id)

    def notices(self) -> set[str]:
        """The notice lines (``notices.notice_key``) this collection repeats on first pages, as learned so far."""
        row = self.connection().execute("SELECT value FROM meta WHERE key = 'notices'").fetchone()
        return set(json.loads(row[0])) if row else set()

    def remember_notices(self, keys: set[str]) -> set[str]:
        """Add notice lines to those known; return them all."""
        known = self.notices()
        if keys - known:
            self.connection().execute(
                "INSERT INTO meta (key, value) VALUES ('notices', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (json.dumps(sorted(known | keys), ensure_ascii=False),))
        return known | keys


@contextmanager
def _transaction(db: sqlite3.Connection) -> Iterator[None]:
    """BEGIN IMMEDIATE … COMMIT, rolled back on any error."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def _save_near_duplicates(db: sqlite3.Connection, document_id: int, signature: np.ndarray, similar: dict[int, float]) -> None:
    """Keep a document's signature and replace its near-duplicate pairs (stored both ways round)."""
    db.execute("INSERT OR REPLACE INTO document_signatures (document_id, minhash) VALUES (?, ?)",
               (document_id, np.asarray(signature, dtype=np.uint64).tobytes()))
    db.execute("DELETE FROM near_duplicates WHERE document_id = ? OR other_id = ?", (document_id, document_id))
    pairs = [(a, b, value) for other, value in similar.items() if other != document_id
             for a, b in ((document_id, other), (other, document_id))]
    db.executemany("INSERT INTO near_duplicates (document_id, other_id, similarity) VALUES (?, ?, ?)", pairs)


def _remember_languages(db: sqlite3.Connection, languages: set[str]) -> None:
    """Add passage languages to those the index holds (``keyword.index_languages``; a removal leaves them listed)."""
    row = db.execute("SELECT value FROM meta WHERE key = 'languages'").fetchone()
    if row is None:  # an index written before the list was kept: start from what it holds
        known = {code for (code,) in db.execute("SELECT DISTINCT language FROM passages")}
    else:
        known = set(json.loads(row[0]))
    if row is None or not languages <= known:
        db.execute("INSERT INTO meta (key, value) VALUES ('languages', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                   (json.dumps(sorted(known | languages)),))


def _bump_version(db: sqlite3.Connection) -> None:
    db.execute("INSERT INTO meta (key, value) VALUES ('version', 1) ON CONFLICT(key) DO UPDATE SET value = value + 1")


def _upsert_document(db: sqlite3.Connection, document: Document) -> int:
    """Insert the document row, or update it in place to keep its id; return the id."""
    fields = (document.path, document.original, document.filename, document.title, document.type, document.format,
              document.sha256, document.size, _now(), json.dumps(document.metadata, ensure_ascii=False, default=str),
              document.language, document.notice)
    if document.id:
        db.execute(
            "UPDATE documents SET path=?, original=?, filename=?, title=?, type=?, format=?, sha256=?, size=?, indexed_at=?, "
            "metadata=?, language=?, notice=? WHERE id=?",
            (*fields, document.id),
        )
        return document.id
    cursor = db.execute(
        "INSERT INTO documents (path, original, filename, title, type, format, sha256, size, indexed_at, metadata, language, notice) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        fields,
    )
    return int(cursor.lastrowid)


def _passage_row(document_id: int, passage: Passage, vector: np.ndarray) -> tuple:
    where = passage.location
    return (document_id, passage.ordinal, passage.text, passage.heading, where.page, where.page_label, where.slide,
            where.section, passage.char_start, passage.char_end, int(where.ocr), passage.language,
            np.asarray(vector, dtype=np.float32).tobytes())


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _document(row: sqlite3.Row) -> Document:
    return Document(
        id=row["id"], path=row["path"], original=row["original"], filename=row["filename"], title=row["title"], type=row["type"],
        format=row["format"], sha256=row["sha256"], size=row["size"], indexed_at=row["indexed_at"],
        passage_count=row["passage_count"], metadata=json.loads(row["metadata"]), language=row["language"], notice=row["notice"],
    )


def _passage(row: sqlite3.Row) -> Passage:
    location = Location(page=row["page"], page_label=row["page_label"], slide=row["slide"], section=row["section"],
                        ocr=bool(row["ocr"]))
    return Passage(
        id=row["id"], document_id=row["document_id"], ordinal=row["ordinal"], text=row["text"], heading=row["heading"],
        location=location, char_start=row["char_start"], char_end=row["char_end"], language=row["language"],
    )
