"""``kb backup`` and ``kb restore``: a consistent copy of a serving index directory, and putting one back.

What "consistent" means here. SQLite is the truth; the copy must hold a database state, the kept
originals that state names, and vector and keyword snapshots no newer than it (readers bring a snapshot
up to the database's version; one newer than the database would be skipped). How the copy gets there
without stopping writers for long (a ``kb index`` run holds the write lock for its whole run):

1. Every file of ``originals/`` is copied first, with no lock: originals are named by their SHA-256,
   written whole before the document that names them is committed, and never changed, only deleted.
2. The database is copied with SQLite's online backup API in one step: one read transaction, so one
   committed state, while writers go on (WAL).
3. The originals that state names and step 1 missed (added meanwhile) are copied, and the newest
   snapshots not newer than its version are opened (an open file survives its deletion by a writer).
4. Had a writer deleted one of those meanwhile (a remove or update committed after step 2), or a
   ``--rebuild`` replaced the index, steps 2-4 run again; the last try holds the write lock, under
   which nothing changes, so a busy index still gets its backup, after the writer in progress.

The snapshots are then copied from the open files, the rest written, everything synced, and the
folder, built under a hidden name beside DEST, renamed to DEST: a killed backup leaves no DEST, only
the hidden ``.DEST.partial-<pid>`` folder, which can be deleted.

``restore_index`` copies a backup (checked first with ``check.check_index``) the same way into the
staging folder ``kb index --rebuild`` uses, gives it a new generation (so running servers reopen it)
and swaps it in under the write lock in one step (``layout.swap_in``): a killed restore leaves the old
index or the new one. The audit log is not rolled back: the directory's own log is carried over.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from .audit import carry_over
from .check import check_index
from .errors import BackupDamaged, BackupRefused, RestoreRefused
from .keyword_index import SNAPSHOT_FILES
from .layout import IndexLayout, Manifest, staging_dir, swap_in

__all__ = ["BackupReport", "RestoreReport", "backup_index", "restore_index"]

# Lock-free tries before the last one, which holds the write lock.
_ATTEMPTS = 3


@dataclass(frozen=True)
class BackupReport:
    """What ``backup_index`` copied. ``missing_originals`` lists kept copies the source itself lacks (see ``kb check``)."""

    source: str
    destination: str
    documents: int
    passages: int
    originals: int
    version: int
    missing_originals: tuple[str, ...] = ()


@dataclass(frozen=True)
class RestoreReport:
    """What ``restore_index`` put in place: the backup's contents under a new generation."""

    source: str
    data_dir: str
    documents: int
    passages: int
    version: int
    generation: str


@dataclass
class _Capture:
    """One consistent point of a source directory, copied but for the snapshots, held open to copy after."""

    manifest: Manifest
    version: int = 0
    documents: int = 0
    passages: int = 0
    originals: frozenset[str] = frozenset()
    missing: tuple[str, ...] = ()
    snapshots: dict[str, BinaryIO] = field(default_factory=dict)


def backup_index(data_dir: str | Path, destination: str | Path) -> BackupReport:
    """Copy an index directory, which may be serving and written to, to a new folder.

    Args:
        data_dir: the index directory.
        destination: the backup's folder; it must not exist, or be empty.

    Returns:
        What was copied.

    Raises:
        IndexNotBuilt, IndexDamaged, IndexOutdated: ``data_dir`` holds no index this version reads.
        BackupRefused: ``destination`` holds something, or lies inside ``data_dir``.
    """
    layout, destination = IndexLayout(Path(data_dir)), Path(destination)
    layout.read_manifest()
    _check_destination(layout, destination)
    partial = destination.with_name(f".{destination.name}.partial-{os.getpid()}")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    try:
        captured = _capture(layout, IndexLayout(partial))
        IndexLayout(partial).write_manifest(captured.manifest)  # the same generation: what it is a copy of
        for extra in (layout.index_report, layout.audit_log):
            if extra.exists():
                _copy_file(extra, partial / extra.name)
        _sync_tree(partial)
        _check_destination(layout, destination)
        try:
            os.replace(partial, destination)  # an empty folder is replaced; anything else refuses
        except OSError as error:
            raise BackupRefused(f"{destination} could not be written ({error.strerror or error}); nothing was changed there") from error
        _sync(destination.parent)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return BackupReport(str(layout.data_dir), str(destination), captured.documents, captured.passages,
                        len(captured.originals) - len(captured.missing), captured.version, captured.missing)


def restore_index(source: str | Path, data_dir: str | Path) -> RestoreReport:
    """Put a backup in place of an index directory (or where there is none yet), in one step.

    Args:
        source: the backup (``backup_index``'s destination, or another index directory).
        data_dir: the index directory to replace.

    Returns:
        What was restored.

    Raises:
        BackupDamaged: ``source`` is not an index, or ``kb check`` finds it damaged; nothing was changed.
        RestoreRefused: ``data_dir`` holds files that are not an index (a restore would delete them).
    """
    backup, layout = IndexLayout(Path(source)), IndexLayout(Path(data_dir))
    report = check_index(backup.data_dir)
    if not report.ok:
        problems = "; ".join(problem.message for problem in report.problems[:3])
        raise BackupDamaged(f"{backup.data_dir} is not a whole backup ({problems}); nothing was restored. "
                            f"`kb check --data-dir {backup.data_dir}` lists every problem")
    _check_replaceable(backup, layout)
    staging = staging_dir(layout.data_dir)
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        captured = _capture(backup, IndexLayout(staging))
        old = captured.manifest
        # A new generation: servers holding the index open notice the change and reopen it.
        written = IndexLayout(staging).write_manifest(Manifest(old.model, old.dimension, old.format_version))
        for extra in (backup.index_report, backup.audit_log):
            if extra.exists():
                _copy_file(extra, staging / extra.name)
        _sync_tree(staging)
        with layout.write_locked() if layout.data_dir.is_dir() else nullcontext():
            carry_over(layout.audit_log, staging)  # the log of changes is the directory's, not the backup's
            swap_in(staging, layout.data_dir)
        _sync(layout.data_dir.parent)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return RestoreReport(str(backup.data_dir), str(layout.data_dir), captured.documents, captured.passages,
                         captured.version, written.generation)


def _check_destination(layout: IndexLayout, destination: Path) -> None:
    if destination.exists() and (not destination.is_dir() or any(destination.iterdir())):
        raise BackupRefused(f"{destination} already exists and is not empty; give a new folder (a backup never writes over anything)")
    if destination.resolve().is_relative_to(layout.data_dir.resolve()):
        raise BackupRefused(f"{destination} is inside the index directory {layout.data_dir}; put backups elsewhere")


def _check_replaceable(backup: IndexLayout, layout: IndexLayout) -> None:
    """Refuse to replace a folder that holds something other than an index, or the backup itself."""
    if layout.data_dir.resolve() == backup.data_dir.resolve():
        raise RestoreRefused(f"{backup.data_dir} is the index directory itself; restore from a backup elsewhere")
    if not layout.data_dir.exists():
        return
    if not layout.data_dir.is_dir():
        raise RestoreRefused(f"{layout.data_dir} is a file, not an index directory; choose another --data-dir")
    names = {path.name for path in layout.data_dir.iterdir()}
    if names and not names & {layout.manifest.name, layout.database.name} and names - {layout.audit_log.name, layout.write_lock.name}:
        raise RestoreRefused(f"{layout.data_dir} holds files but no index (no manifest.json or kb.sqlite3); a restore "
                             "would delete them: choose an empty or new --data-dir")


def _capture(source: IndexLayout, target: IndexLayout) -> _Capture:
    """Copy one consistent point of ``source`` into ``target`` (the module docstring says how)."""
    _copy_originals(source, target, names=None)
    for attempt in range(_ATTEMPTS + 1):
        final = attempt == _ATTEMPTS
        with source.write_locked() if final else nullcontext():
            captured = _try_capture(source, target, final)
        if captured is not None:
            break
    for name in _listing(target.originals_dir):  # copied in step 1, deleted from the index since
        if f"originals/{name}" not in captured.originals:
            (target.originals_dir / name).unlink()
    for relative, handle in captured.snapshots.items():
        with handle:
            (target.data_dir / relative).parent.mkdir(parents=True, exist_ok=True)
            with open(target.data_dir / relative, "wb") as copy:
                shutil.copyfileobj(handle, copy, 1 << 20)
    return captured


def _try_capture(source: IndexLayout, target: IndexLayout, final: bool) -> _Capture | None:
    """Steps 2-3: the database, then what it names; None when a writer got in the way (unless ``final``)."""
    manifest = source.read_manifest()
    _copy_database(source.database, target.database)
    captured = _read_capture(target.database, manifest)
    captured.missing = tuple(_copy_originals(source, target, names=sorted(captured.originals)))
    opened = _open_snapshots(source, captured.version)
    captured.snapshots = opened or {}
    replaced = source.read_manifest().generation != manifest.generation
    if final or not (captured.missing or replaced or opened is None):
        return captured
    for handle in captured.snapshots.values():
        handle.close()
    return None


def _read_capture(database: Path, manifest: Manifest) -> _Capture:
    db = sqlite3.connect(database)
    try:
        version = db.execute("SELECT value FROM meta WHERE key = 'version'").fetchone()
        originals = frozenset(row[0] for row in db.execute("SELECT original FROM documents WHERE original != ''"))
        documents = db.execute("SELECT count(*) FROM documents").fetchone()[0]
        passages = db.execute("SELECT count(*) FROM passages").fetchone()[0]
    finally:
        db.close()
    return _Capture(manifest, int(version[0]) if version else 0, documents, passages, originals)


def _copy_database(source: Path, target: Path) -> None:
    """Copy a live SQLite database with the online backup API, in one step (one committed state)."""
    target.unlink(missing_ok=True)
    reading = sqlite3.connect(source.resolve().as_uri() + "?mode=ro", uri=True, timeout=30)
    writing = sqlite3.connect(target)
    try:
        reading.backup(writing)
        # A plain rollback-journal file: whole in itself, and reading it later leaves no -wal or -shm beside it.
        # Whoever opens it to serve (store_rows.connect) turns WAL on again.
        writing.execute("PRAGMA journal_mode=DELETE")
    finally:
        writing.close()
        reading.close()


def _copy_originals(source: IndexLayout, target: IndexLayout, names: list[str] | None) -> list[str]:
    """Copy kept originals (all of them, or these ``originals/…`` paths) not copied yet; return those not found."""
    if names is None:
        names = [f"originals/{name}" for name in _listing(source.originals_dir)]
    missing = []
    for relative in names:
        destination = target.resolve(relative)
        if destination.exists():  # named by content: a file of that name holds those bytes
            continue
        destination.parent.mkdir(parents=True, exist_ok=True)
        try:
            _copy_file(source.resolve(relative), destination)
        except FileNotFoundError:
            missing.append(relative)
    return missing


def _open_snapshots(source: IndexLayout, version: int) -> dict[str, BinaryIO] | None:
    """Open the newest vector and keyword snapshots not newer than ``version``; None if one vanished meanwhile."""
    opened: dict[str, BinaryIO] = {}
    vectors = max((v for v in source.vectors_snapshots() if v <= version), default=None)
    keywords = max((v for v in source.keywords_snapshots() if v <= version), default=None)
    paths = [source.vectors_snapshot(vectors)] if vectors is not None else []
    if keywords is not None:
        paths += [source.keywords_snapshot(keywords) / name for name in SNAPSHOT_FILES]
    try:
        for path in paths:
            opened[path.relative_to(source.data_dir).as_posix()] = open(path, "rb")
    except FileNotFoundError:  # replaced by a newer one (and deleted) between the listing and the opening
        for handle in opened.values():
            handle.close()
        return None
    return opened


def _listing(folder: Path) -> list[str]:
    """The file names in a folder, without the hidden ones (files being written), [] when there is no folder."""
    try:
        return sorted(name for name in os.listdir(folder) if not name.startswith("."))
    except FileNotFoundError:
        return []


def _copy_file(source: Path, destination: Path) -> None:
    shutil.copyfile(source, destination)


def _sync_tree(root: Path) -> None:
    """fsync every file and folder under ``root``, so that the rename that follows publishes a whole copy."""
    for folder, _, files in os.walk(root):
        for name in files:
            _sync(Path(folder) / name)
        _sync(Path(folder))


def _sync(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
