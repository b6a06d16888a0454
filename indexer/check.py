"""``kb check``: whether an index directory (or a backup) is whole, and for each thing wrong how to repair it.

It reads everything and changes nothing: the manifest (readable, of this format); the SQLite database
(``PRAGMA integrity_check``, foreign keys, FTS5's own ``integrity-check`` and one keyword row per
passage, a vector of the manifest's dimension per passage); the newest vector and keyword snapshots
against the passages they must hold; and every kept original, present with the SHA-256 its document
records (``documents.sha256``, the hash of the file that was indexed).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import KBError
from .layout import IndexLayout, Manifest
from .sources import file_sha256

__all__ = ["Problem", "CheckReport", "check_index"]

RESTORE = "restore the last good backup with `kb restore BACKUP`"
REBUILD = "run `kb index --rebuild` on the folders the index was built from"
_REQUIRED_TABLES = {"meta", "documents", "passages", "passages_fts", "deleted_passages"}
_SHOWN = 5  # ids named in a message


@dataclass(frozen=True)
class Problem:
    """One thing wrong: ``kind`` is ``manifest``, ``database``, ``keywords``, ``vectors`` or ``originals``."""

    kind: str
    message: str
    repair: str

    def to_dict(self) -> dict:
        return {"kind": self.kind, "message": self.message, "repair": self.repair}


@dataclass(frozen=True)
class CheckReport:
    """What ``check_index`` found: the index's size and every problem (none: the index is whole)."""

    data_dir: str
    documents: int
    passages: int
    originals: int
    version: int
    problems: tuple[Problem, ...]

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        state = "ok" if self.ok else f"{len(self.problems)} problem{'s' if len(self.problems) != 1 else ''}"
        return (f"{self.data_dir}: {state} ({self.documents} documents, {self.passages} passages, "
                f"{self.originals} originals checked, version {self.version})")

    def to_dict(self) -> dict:
        return {"ok": self.ok, "data_dir": self.data_dir, "documents": self.documents, "passages": self.passages,
                "originals": self.originals, "version": self.version, "problems": [p.to_dict() for p in self.problems]}


@dataclass(frozen=True)
class _Counts:
    documents: int = 0
    passages: int = 0
    originals: int = 0
    version: int = 0


def check_index(data_dir: str | Path) -> CheckReport:
    """Check an index directory or a backup of one.

    Args:
        data_dir: the directory.

    Returns:
        The report; ``report.ok`` is False when anything is wrong, each ``Problem`` saying how to repair it.
    """
    layout = IndexLayout(Path(data_dir))
    problems: list[Problem] = []
    manifest = _check_manifest(layout, problems)
    counts = _Counts()
    if not layout.database.is_file():
        problems.append(Problem("database", f"{layout.database} is missing", f"{RESTORE}, or {REBUILD}"))
    else:
        try:
            db = sqlite3.connect(layout.database.resolve().as_uri() + "?mode=rw", uri=True, isolation_level=None, timeout=30)
        except sqlite3.Error as error:
            db = None
            problems.append(Problem("database", f"{layout.database} cannot be opened ({error})", f"{RESTORE}, or {REBUILD}"))
        if db is not None:
            try:
                counts = _check_database(db, layout, manifest, problems)
            except sqlite3.DatabaseError as error:
                problems.append(Problem("database", f"{layout.database} cannot be read as an index database ({error})",
                                        f"{RESTORE}, or {REBUILD}"))
            finally:
                db.close()
    return CheckReport(str(layout.data_dir), counts.documents, counts.passages, counts.originals, counts.version,
                       tuple(problems))


def _check_manifest(layout: IndexLayout, problems: list[Problem]) -> Manifest | None:
    if not layout.data_dir.is_dir():
        problems.append(Problem("manifest", f"{layout.data_dir} is not a folder", "check the path (--data-dir)"))
        return None
    try:
        return layout.read_manifest()
    except KBError as error:
        repair = f"{RESTORE}, or {REBUILD}" if layout.database.exists() else f"build it with `kb index`, or {RESTORE}"
        problems.append(Problem("manifest", error.message.split("; ")[0], repair))
        return None


def _check_database(db: sqlite3.Connection, layout: IndexLayout, manifest: Manifest | None, problems: list[Problem]) -> _Counts:
    """Every check that reads the database; stops after damage that makes the others meaningless."""
    broken = [row[0] for row in db.execute("PRAGMA integrity_check(20)")]
    if broken != ["ok"]:
        problems.append(Problem("database", f"{layout.database} is damaged: {'; '.join(broken[:_SHOWN])}", RESTORE))
        return _Counts()
    tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if not _REQUIRED_TABLES <= tables:
        missing = ", ".join(sorted(_REQUIRED_TABLES - tables))
        problems.append(Problem("database", f"{layout.database} is not an index database (no table {missing})", RESTORE))
        return _Counts()
    dangling = db.execute("SELECT count(*) FROM pragma_foreign_key_check").fetchone()[0]
    if dangling:
        problems.append(Problem("database", f"{dangling} rows refer to documents that do not exist", REBUILD))
    _check_keywords(db, problems)
    version_row = db.execute("SELECT value FROM meta WHERE key = 'version'").fetchone()
    version = int(version_row[0]) if version_row else 0
    passage_ids = np.array([row[0] for row in db.execute("SELECT id FROM passages ORDER BY id")], dtype=np.int64)
    if manifest is not None:
        _check_stored_vectors(db, manifest, problems)
        _check_vector_snapshot(db, layout, manifest, version, passage_ids, problems)
    _check_keyword_snapshot(db, layout, version, passage_ids, problems)
    originals = _check_originals(db, layout, problems)
    documents = db.execute("SELECT count(*) FROM documents").fetchone()[0]
    return _Counts(documents, len(passage_ids), originals, version)


def _check_keywords(db: sqlite3.Connection, problems: list[Problem]) -> None:
    """FTS5's integrity-check (an INSERT that writes nothing, rolled back all the same), then one row per passage."""
    db.execute("BEGIN")
    try:
        db.execute("INSERT INTO passages_fts (passages_fts) VALUES ('integrity-check')")
    except sqlite3.DatabaseError as error:
        problems.append(Problem("keywords", f"the keyword index (passages_fts) is damaged ({error})", REBUILD))
        return
    finally:
        if db.in_transaction:  # SQLite ends it by itself after some errors
            db.execute("ROLLBACK")
    unindexed = db.execute("SELECT count(*) FROM passages p WHERE NOT EXISTS "
                           "(SELECT 1 FROM passages_fts f WHERE f.rowid = p.id)").fetchone()[0]
    orphans = db.execute("SELECT count(*) FROM passages_fts f WHERE NOT EXISTS "
                         "(SELECT 1 FROM passages p WHERE p.id = f.rowid)").fetchone()[0]
    if unindexed or orphans:
        problems.append(Problem("keywords", f"the keyword index disagrees with the passages: {unindexed} passages without "
                                f"keyword rows, {orphans} keyword rows without a passage", REBUILD))


def _check_stored_vectors(db: sqlite3.Connection, manifest: Manifest, problems: list[Problem]) -> None:
    size = 4 * manifest.dimension
    wrong = [row[0] for row in db.execute("SELECT id FROM passages WHERE length(vector) != ? LIMIT 1000", (size,))]
    if wrong:
        problems.append(Problem("vectors", f"{len(wrong)}{'+' if len(wrong) == 1000 else ''} passages have a stored vector "
                                f"that is not {manifest.dimension} numbers (e.g. passage {_ids(wrong)})", REBUILD))


def _check_vector_snapshot(db: sqlite3.Connection, layout: IndexLayout, manifest: Manifest, version: int,
                           passage_ids: np.ndarray, problems: list[Problem]) -> None:
    """The newest FAISS snapshot a reader would load: readable, of the right dimension, one vector per passage."""
    import faiss  # only this check needs it

    from .vectors import load_vector_index

    snapshot = max((v for v in layout.vectors_snapshots() if v <= version), default=None)
    if snapshot is None:
        return  # none yet: readers build the vectors from the database
    path = layout.vectors_snapshot(snapshot)
    repair = f"delete {path}: the index rebuilds it from the database at its next search (restart running servers)"
    index = load_vector_index(path)
    if index is None or not hasattr(index, "id_map"):
        problems.append(Problem("vectors", f"{path} cannot be read as a vector snapshot", repair))
        return
    if index.d != manifest.dimension:
        problems.append(Problem("vectors", f"{path} holds vectors of {index.d} numbers, the manifest says {manifest.dimension}", repair))
        return
    _compare_ids("vectors", path, faiss.vector_to_array(index.id_map), db, snapshot, passage_ids, problems, repair)


def _check_keyword_snapshot(db: sqlite3.Connection, layout: IndexLayout, version: int, passage_ids: np.ndarray,
                            problems: list[Problem]) -> None:
    """The newest keyword snapshot a reader would load: readable, one entry per passage."""
    from .keyword_index import load_keyword_index

    snapshot = max((v for v in layout.keywords_snapshots() if v <= version), default=None)
    if snapshot is None:
        return
    path = layout.keywords_snapshot(snapshot)
    repair = f"delete the folder {path}: the index rebuilds it from the database at its next search (restart running servers)"
    index = load_keyword_index(path)
    if index is None:
        problems.append(Problem("keywords", f"{path} cannot be read as a keyword snapshot", repair))
        return
    _compare_ids("keywords", path, index.arrays()[1]["ids"], db, snapshot, passage_ids, problems, repair)


def _compare_ids(kind: str, path: Path, snapshot_ids: np.ndarray, db: sqlite3.Connection, snapshot: int,
                 passage_ids: np.ndarray, problems: list[Problem], repair: str) -> None:
    """A snapshot of version ``snapshot`` must hold every passage up to its largest id, and no passage removed before it.

    Readers add the passages with larger ids and drop those deleted since (``deleted_passages``), so those are fine.
    """
    snapshot_ids = np.unique(snapshot_ids.astype(np.int64))
    largest = int(snapshot_ids.max()) if len(snapshot_ids) else 0
    missing = np.setdiff1d(passage_ids[passage_ids <= largest], snapshot_ids)
    deleted_since = np.array([row[0] for row in db.execute("SELECT id FROM deleted_passages WHERE version > ?", (snapshot,))],
                             dtype=np.int64)
    ghosts = np.setdiff1d(np.setdiff1d(snapshot_ids, passage_ids), deleted_since)
    if len(missing):
        problems.append(Problem(kind, f"{len(missing)} passages have no entry in {path.name} (e.g. passage {_ids(missing)})", repair))
    if len(ghosts):
        problems.append(Problem(kind, f"{path.name} holds {len(ghosts)} passages that are not in the database "
                                f"(e.g. passage {_ids(ghosts)})", repair))


def _check_originals(db: sqlite3.Connection, layout: IndexLayout, problems: list[Problem]) -> int:
    """Each kept original present, with its document's SHA-256; returns how many were checked."""
    rows = db.execute("SELECT id, filename, original, sha256 FROM documents WHERE original != '' ORDER BY id").fetchall()
    for document_id, filename, original, sha256 in rows:
        path = layout.resolve(original)
        repair = f"{RESTORE}, or add {filename} again (`kb add FILE`, or `kb index` on its folder)"
        try:
            actual = file_sha256(path)
        except FileNotFoundError:
            problems.append(Problem("originals", f"the kept copy of document {document_id} ({filename}), {original}, is missing", repair))
            continue
        except OSError as error:
            problems.append(Problem("originals", f"{original} (document {document_id}, {filename}) cannot be read: "
                                    f"{error.strerror or error}", repair))
            continue
        if actual != sha256:
            problems.append(Problem("originals", f"{original} (document {document_id}, {filename}) has changed: its SHA-256 "
                                    f"is {actual[:12]}…, the index recorded {sha256[:12]}…", repair))
    return len(rows)


def _ids(ids) -> str:
    shown = ", ".join(str(int(i)) for i in list(ids)[:_SHOWN])
    return shown + (", …" if len(ids) > _SHOWN else "")
