"""Indexing: find files, skip what has not changed, extract, chunk, embed and store.

Every file is handled on its own: one that cannot be read is recorded in the
report with its reason and the run goes on; one whose content hash and
catalogue fields are unchanged is not read again.
"""

from __future__ import annotations

import hashlib
import shutil
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import pathspec
from tqdm import tqdm

from .catalog import read_catalog, guess_type
from .chunk import ChunkSettings, chunk_sections
from .embed import Embedder
from .errors import DuplicateDocument, ExtractionError
from .extract import SUPPORTED_EXTENSIONS, extract
from .records import Document, IndexReport, Location, Passage, Section
from .store import Store

__all__ = ["SourceFile", "AddOutcome", "find_files", "add_file", "index_files", "index_records", "keep_original", "IGNORE_NAME"]

log = logging.getLogger(__name__)
IGNORE_NAME = ".kbignore"


@dataclass(frozen=True)
class SourceFile:
    """A file to index, with the name it is shown under and its catalogue fields.

    ``key`` identifies the document across updates: the resolved path for files on disk
    (the default), ``upload:NAME`` for uploads.
    """

    path: Path
    name: str
    catalog: dict[str, Any] = field(default_factory=dict)
    key: str = ""

    @property
    def identity(self) -> str:
        return self.key or str(self.path.resolve())


@dataclass(frozen=True)
class AddOutcome:
    """A document after ``add_file``, and whether it was (re)indexed or already up to date."""

    document: Document
    changed: bool


def find_files(paths: list[Path]) -> list[SourceFile]:
    """Expand files and folders into the files to index.

    Folders are walked recursively for supported endings, leaving out hidden
    entries and what a ``.kbignore`` (gitignore syntax) in the folder names.
    Files named directly are taken whatever their ending.

    Args:
        paths: files and folders.

    Returns:
        The files, with their catalogue fields from the folder's ``catalog.yaml``.
    """
    found: list[SourceFile] = []
    for path in paths:
        if path.is_dir():
            found.extend(_walk(path))
        else:
            catalog = read_catalog(path.parent) if path.parent.exists() else {}
            found.append(SourceFile(path=path, name=path.name, catalog=catalog.get(path.name, {})))
    return found


def _walk(folder: Path) -> Iterator[SourceFile]:
    catalog = read_catalog(folder)
    ignore_file = folder / IGNORE_NAME
    ignored = pathspec.GitIgnoreSpec.from_lines(ignore_file.read_text().splitlines() if ignore_file.exists() else [])
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(name for name in dirs if not name.startswith("."))
        for name in sorted(files):
            path = Path(root, name)
            relative = path.relative_to(folder).as_posix()
            if name.startswith(".") or path.suffix.lower() not in SUPPORTED_EXTENSIONS or ignored.match_file(relative):
                continue
            yield SourceFile(path=path, name=relative, catalog=catalog.get(relative, {}))


def file_sha256(path: Path) -> str:
    """The hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def index_files(store: Store, embedder: Embedder, files: list[SourceFile], chunking: ChunkSettings, progress: bool = False) -> IndexReport:
    """Add new and changed files to the index; leave unchanged ones alone.

    Args:
        store: the open index, which this call locks for writing.
        embedder: the model that embeds passages (the index's own).
        files: from ``find_files``.
        chunking: passage length and overlap.
        progress: show a progress bar (for a terminal).

    Returns:
        What happened to each file.
    """
    report = IndexReport()
    started = time.perf_counter()
    bar = tqdm(files, unit="file", disable=not progress, dynamic_ncols=True)
    with store.writing():
        for source in bar:
            bar.set_postfix_str(f"{report.passages} passages", refresh=False)
            _index_one(store, embedder, source, chunking, report)
    bar.close()
    report.seconds = time.perf_counter() - started
    return report


def _index_one(store: Store, embedder: Embedder, source: SourceFile, chunking: ChunkSettings, report: IndexReport) -> None:
    """Index one file into ``report``; every failure becomes a skip reason."""
    label = str(source.path)
    try:
        outcome = add_file(store, embedder, source, chunking)
    except DuplicateDocument as error:
        report.duplicates[label] = error.existing
        return
    except ExtractionError as error:
        report.skipped[label] = error.reason
        return
    except OSError as error:
        report.skipped[label] = f"cannot read the file ({error.strerror or error})"
        return
    except Exception as error:  # a parser bug on one odd file must not stop the run
        log.debug("unexpected error on %s", label, exc_info=True)
        report.skipped[label] = f"unexpected {type(error).__name__}: {error}"
        return
    if not outcome.changed:
        report.unchanged.append(label)
        return
    report.indexed.append(label)
    report.passages += outcome.document.passage_count


def add_file(store: Store, embedder: Embedder, source: SourceFile, chunking: ChunkSettings) -> AddOutcome:
    """Add a file, or update the document it was indexed as; unchanged content and fields are left alone.

    Args:
        store: the open index (the caller holds its write lock).
        embedder: the index's model.
        source: the file, its name, catalogue fields and identity.
        chunking: passage length and overlap.

    Returns:
        The stored document and whether anything changed.

    Raises:
        DuplicateDocument: another document has the same content.
        ExtractionError: the file cannot be read.
        OSError: the file cannot be opened.
    """
    sha256 = file_sha256(source.path)
    existing = store.find_document(path=source.identity)
    if existing and existing.sha256 == sha256 and existing.metadata == source.catalog:
        return AddOutcome(existing, changed=False)
    twin = store.find_document(sha256=sha256)
    if twin and (existing is None or twin.id != existing.id):
        raise DuplicateDocument(source.path, twin.id, twin.path, twin.filename)
    document = _store_file(store, embedder, source, sha256, existing.id if existing else 0, chunking)
    if existing and existing.original and existing.original != document.original:
        (store.data_dir / existing.original).unlink(missing_ok=True)
    return AddOutcome(document, changed=True)


def _store_file(store: Store, embedder: Embedder, source: SourceFile, sha256: str, document_id: int, chunking: ChunkSettings) -> Document:
    """Extract, chunk, embed and save one file with a kept copy, keeping ``document_id`` when it is an update."""
    extracted = extract(source.path)
    catalog = source.catalog
    title = str(catalog.get("title") or extracted.title)
    passages = chunk_sections(extracted.sections, chunking)
    vectors = embedder.encode([embedding_text(title, passage) for passage in passages])
    document = Document(
        id=document_id, path=source.identity, original=keep_original(store.data_dir, source.path, sha256),
        filename=source.name, title=title, type=str(catalog.get("type") or guess_type(extracted.format)),
        format=extracted.format, sha256=sha256, size=source.path.stat().st_size, indexed_at="", metadata=catalog,
    )
    return store.save_document(document, passages, vectors)


def keep_original(data_dir: Path, path: Path, sha256: str) -> str:
    """Copy a file into ``<data_dir>/originals/`` under its hash (atomically); return the copy's relative path."""
    relative = Path("originals") / f"{sha256}{path.suffix.lower()}"
    target = data_dir / relative
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        shutil.copyfile(path, temporary)
        os.replace(temporary, target)
    return relative.as_posix()


def embedding_text(title: str, passage: Passage) -> str:
    """What is embedded for a passage: its text behind the document title and its heading."""
    context = [title]
    if passage.heading and not passage.text.startswith(passage.heading):
        context.append(passage.heading)
    return "\n".join(context + [passage.text])


def index_records(store: Store, embedder: Embedder, records: list, chunking: ChunkSettings, progress: bool = False,
                  batch: int = 256) -> IndexReport:
    """Index text records (an evaluation corpus) as documents, embedding across records in batches.

    Args:
        store: the open index, locked for writing during the call.
        embedder: the index's model.
        records: objects with ``key``, ``title``, ``text`` and ``sha256`` (``evaluate.TextRecord``).
        chunking: passage length and overlap.
        progress: show a progress bar.
        batch: records embedded per model call.

    Returns:
        The run's report (records count as files).
    """
    report = IndexReport()
    started = time.perf_counter()
    bar = tqdm(total=len(records), unit="record", disable=not progress, dynamic_ncols=True)
    with store.writing():
        for first in range(0, len(records), batch):
            chunked = [(record, chunk_sections((Section(record.text, Location()),), chunking)) for record in records[first:first + batch]]
            texts = [embedding_text(record.title, passage) for record, passages in chunked for passage in passages]
            vectors = embedder.encode(texts)
            offset = 0
            for record, passages in chunked:
                document = Document(id=0, path=f"record:{record.key}", filename=record.key, title=record.title, type="record",
                                    format="text", sha256=record.sha256, size=len(record.text), indexed_at="")
                store.save_document(document, passages, vectors[offset:offset + len(passages)])
                offset += len(passages)
                report.indexed.append(record.key)
                report.passages += len(passages)
            bar.update(len(chunked))
    bar.close()
    report.seconds = time.perf_counter() - started
    return report
