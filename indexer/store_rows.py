"""The store's rows: records to SQLite rows and back, and the statements a write is made of (used by ``store``)."""

from __future__ import annotations

import json
import sqlite3
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

import numpy as np

from .keyword import STEMS_FUNCTION, index_stems
from .records import Document, Location, Passage

PASSAGE_COLUMNS = "id, document_id, ordinal, text, heading, page, page_label, slide, section, char_start, char_end, ocr, language"
DOCUMENT_COLUMNS = "d.id, d.path, d.original, d.filename, d.title, d.type, d.format, d.sha256, d.size, d.indexed_at, d.metadata, d.language, d.notice"
# Every document read comes with its passage count.
DOCUMENT_SELECT = f"SELECT {DOCUMENT_COLUMNS}, (SELECT count(*) FROM passages p WHERE p.document_id = d.id) AS passage_count FROM documents d"


def connect(database: Path) -> sqlite3.Connection:
    """A connection to the index database as every reader and writer needs it (WAL, foreign keys, the stemmer)."""
    db = sqlite3.connect(database, timeout=30, isolation_level=None)
    db.row_factory = sqlite3.Row
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA foreign_keys=ON")
    db.execute("PRAGMA busy_timeout=30000")
    # The FTS5 insert trigger and update_document_fields stem text with it, so every connection needs it.
    db.create_function(STEMS_FUNCTION, 2, index_stems, deterministic=True)
    return db


def near_duplicate_ids(db: sqlite3.Connection, ids: list[int]) -> dict[int, list[int]]:
    """The near duplicates of each of these documents, most similar first (documents without any are left out)."""
    if not ids:
        return {}
    marks = ",".join("?" * len(ids))
    rows = db.execute(f"SELECT document_id, other_id FROM near_duplicates WHERE document_id IN ({marks}) "
                      "ORDER BY document_id, similarity DESC, other_id", list(ids))
    found: dict[int, list[int]] = {}
    for document_id, other_id in rows:
        found.setdefault(document_id, []).append(other_id)
    return found


@contextmanager
def transaction(db: sqlite3.Connection) -> Iterator[None]:
    """BEGIN IMMEDIATE … COMMIT, rolled back on any error."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def save_near_duplicates(db: sqlite3.Connection, document_id: int, signature: np.ndarray, similar: dict[int, float]) -> None:
    """Keep a document's signature and replace its near-duplicate pairs (stored both ways round)."""
    db.execute("INSERT OR REPLACE INTO document_signatures (document_id, minhash) VALUES (?, ?)",
               (document_id, np.asarray(signature, dtype=np.uint64).tobytes()))
    db.execute("DELETE FROM near_duplicates WHERE document_id = ? OR other_id = ?", (document_id, document_id))
    pairs = [(a, b, value) for other, value in similar.items() if other != document_id
             for a, b in ((document_id, other), (other, document_id))]
    db.executemany("INSERT INTO near_duplicates (document_id, other_id, similarity) VALUES (?, ?, ?)", pairs)


def remember_languages(db: sqlite3.Connection, languages: set[str]) -> None:
    """Add passage languages to those the index holds (``keyword.index_languages``; a removal leaves them listed)."""
    row = db.execute("SELECT value FROM meta WHERE key = 'languages'").fetchone()
    if row is None:  # an index written before the list was kept: start from what it holds
        known = {code for (code,) in db.execute("SELECT DISTINCT language FROM passages")}
    else:
        known = set(json.loads(row[0]))
    if row is None or not languages <= known:
        db.execute("INSERT INTO meta (key, value) VALUES ('languages', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                   (json.dumps(sorted(known | languages)),))


def update_document_fields(db: sqlite3.Connection, document_id: int, title: str, type_: str, metadata: dict) -> None:
    """Change a document's title, type and catalogue fields; its passages' keyword context follows the title."""
    db.execute("UPDATE documents SET title = ?, type = ?, metadata = ? WHERE id = ?",
               (title, type_, json.dumps(metadata, ensure_ascii=False, default=str), document_id))
    db.execute(f"UPDATE passages_fts SET context = (SELECT {STEMS_FUNCTION}(? || ' ' || heading, language) FROM passages "
               "WHERE id = passages_fts.rowid) WHERE rowid IN (SELECT id FROM passages WHERE document_id = ?)", (title, document_id))
    # Readers' keyword postings re-read these passages (snapshots.LiveKeywords).
    db.execute("INSERT OR REPLACE INTO restemmed_passages (id, version) SELECT id, "
               "COALESCE((SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'version'), 0) + 1 FROM passages WHERE document_id = ?",
               (document_id,))


def read_meta(db: sqlite3.Connection, key: str, default: object) -> object:
    """A JSON value kept in the meta table (``default`` when there is none)."""
    row = db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return json.loads(row[0]) if row else default


def write_meta(db: sqlite3.Connection, key: str, value: object) -> None:
    """Keep a JSON value in the meta table."""
    db.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
               (key, json.dumps(value, ensure_ascii=False)))


def bump_version(db: sqlite3.Connection) -> None:
    db.execute("INSERT INTO meta (key, value) VALUES ('version', 1) ON CONFLICT(key) DO UPDATE SET value = value + 1")


def upsert_document(db: sqlite3.Connection, document: Document) -> int:
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


def insert_passages(db: sqlite3.Connection, document_id: int, passages: list[Passage], vectors: np.ndarray) -> None:
    """Insert a document's passages with their vectors (the keyword index follows by trigger)."""
    db.executemany(
        "INSERT INTO passages (document_id, ordinal, text, heading, page, page_label, slide, section, char_start, char_end,"
        " ocr, language, vector) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [_passage_row(document_id, passage, vector) for passage, vector in zip(passages, vectors)],
    )


def _passage_row(document_id: int, passage: Passage, vector: np.ndarray) -> tuple:
    where = passage.location
    return (document_id, passage.ordinal, passage.text, passage.heading, where.page, where.page_label, where.slide,
            where.section, passage.char_start, passage.char_end, int(where.ocr), passage.language,
            np.asarray(vector, dtype=np.float32).tobytes())


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def document_from_row(row: sqlite3.Row) -> Document:
    return Document(
        id=row["id"], path=row["path"], original=row["original"], filename=row["filename"], title=row["title"], type=row["type"],
        format=row["format"], sha256=row["sha256"], size=row["size"], indexed_at=row["indexed_at"],
        passage_count=row["passage_count"], metadata=json.loads(row["metadata"]), language=row["language"], notice=row["notice"],
    )


def passage_from_row(row: sqlite3.Row) -> Passage:
    location = Location(page=row["page"], page_label=row["page_label"], slide=row["slide"], section=row["section"],
                        ocr=bool(row["ocr"]))
    return Passage(
        id=row["id"], document_id=row["document_id"], ordinal=row["ordinal"], text=row["text"], heading=row["heading"],
        location=location, char_start=row["char_start"], char_end=row["char_end"], language=row["language"],
    )
