"""Indexing: skip what has not changed, extract, chunk, embed and store (``sources`` finds the files).

Every file is handled on its own: one that cannot be read is recorded in the
report with its reason and the run goes on; one whose content hash and
catalogue fields are unchanged is not read again. Files are read in worker
processes, in parallel and with a time and memory limit (``extraction_pool``).
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from .catalog import guess_type
from .chunk import ChunkSettings, chunk_sections
from .embed import Embedder, expect_passages, passage_vectors
from .errors import DuplicateDocument, ExtractionError
from .extraction_pool import Extraction, ExtractionLimits, extract_files, extract_one
from .language import assign_languages
from .layout import IndexLayout, temporary_path
from .near_duplicates import signature, similar_documents
from .notices import find_notices, strip_notices
from .ocr import OcrSettings
from .records import Document, ExtractedText, FileReport, IndexReport, Location, Passage, Section
from .sources import SourceFile, file_sha256
from .store import Store

__all__ = ["ReadFile", "AddOutcome", "read_file", "save_file", "add_file", "index_files", "index_records", "keep_original"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReadFile:
    """A file checked against the index and, when new or changed, read (``extracted`` is None when unchanged)."""

    source: SourceFile
    sha256: str
    existing: Document | None
    extracted: ExtractedText | None
    seconds: float


@dataclass(frozen=True)
class AddOutcome:
    """A document after ``add_file``, whether it was (re)indexed or already up to date, and what was read."""

    document: Document
    changed: bool
    extracted: ExtractedText | None = None


@dataclass(frozen=True)
class _Unread:
    """A new or changed file, checked against the index, still to be read."""

    source: SourceFile
    sha256: str
    existing: Document | None
    seconds: float


def index_files(store: Store, embedder: Embedder, files: list[SourceFile], chunking: ChunkSettings, progress: bool = False,
                ocr: OcrSettings = OcrSettings(), limits: ExtractionLimits | None = None) -> IndexReport:
    """Add new and changed files to the index; leave unchanged ones alone.

    Every file is read first, so that a notice the collection repeats on every first page
    (see ``notices``) is known before any passage is cut; then the files are embedded and saved.
    Files are checked against the index here, and the new and changed ones read in worker
    processes, all at once (``extraction_pool``).

    Args:
        store: the open index, which this call locks for writing.
        embedder: the model that embeds passages (the index's own).
        files: from ``find_files``.
        chunking: passage length and overlap.
        progress: show progress bars (for a terminal).
        ocr: how pages without readable text are OCR'd.
        limits: time per file and memory per worker for reading (default: ``KB_EXTRACT_*`` environment variables).

    Returns:
        What happened to each file, in the order of ``files``.
    """
    limits = ExtractionLimits.from_environ() if limits is None else limits
    report = IndexReport()
    started = time.perf_counter()
    with store.writing():
        reading = tqdm(total=len(files), desc="reading", unit="file", disable=not progress, dynamic_ncols=True)
        outcomes = _read_all(store, files, ocr, limits, report, reading)
        reading.close()
        read = [outcome for outcome in outcomes if isinstance(outcome, ReadFile) and outcome.extracted is not None]
        notices = store.remember_notices(find_notices([outcome.extracted for outcome in read]))
        expect_passages(embedder, sum(_rough_passages(outcome.extracted, chunking) for outcome in read))
        saving = tqdm(total=len(read), desc="embedding", unit="file", disable=not progress, dynamic_ncols=True)
        for outcome in outcomes:
            report.files.append(_save_one(store, embedder, outcome, chunking, notices, report) if isinstance(outcome, ReadFile) else outcome)
            saving.update(1 if isinstance(outcome, ReadFile) and outcome.extracted is not None else 0)
        saving.close()
    report.seconds = time.perf_counter() - started
    return report


def _rough_passages(extracted: ExtractedText, chunking: ChunkSettings) -> int:
    """About how many passages ``extracted`` makes: its words over the words a passage adds."""
    words = sum(section.text.count(" ") + 1 for section in extracted.sections)
    return words // max(chunking.max_words - chunking.overlap_words, 1) + 1


def _read_all(store: Store, files: list[SourceFile], ocr: OcrSettings, limits: ExtractionLimits, report: IndexReport,
              bar: tqdm) -> list[ReadFile | FileReport]:
    """Check every file against the index, then read the new and changed ones in worker processes, all at once."""
    checked = [_check_one(store, source, report) for source in files]
    unread = [item for item in checked if isinstance(item, _Unread)]
    bar.update(len(checked) - len(unread))
    extractions = iter(extract_files([item.source.path for item in unread], ocr, limits, on_each=lambda: bar.update(1)))
    return [_finish_read(item, next(extractions), report) if isinstance(item, _Unread) else item for item in checked]


def _check_one(store: Store, source: SourceFile, report: IndexReport) -> ReadFile | _Unread | FileReport:
    """Check one file against the index, or say in ``report`` why it is a duplicate or cannot be read."""
    label, started = str(source.path), time.perf_counter()
    try:
        return _check(store, source)
    except DuplicateDocument as error:
        report.duplicates[label] = error.existing
        return FileReport(label, "duplicate", reason=error.message, seconds=time.perf_counter() - started)
    except Exception as error:  # an unreadable file must not stop the run
        return _skipped(report, label, error, time.perf_counter() - started)


def _finish_read(unread: _Unread, extraction: Extraction, report: IndexReport) -> ReadFile | FileReport:
    """A read file, or, when it could not be read (or a parser failed on one odd file), its entry in ``report``."""
    seconds = unread.seconds + extraction.seconds
    if extraction.error is not None:
        return _skipped(report, str(unread.source.path), extraction.error, seconds)
    return ReadFile(unread.source, unread.sha256, unread.existing, extraction.text, seconds)


def _save_one(store: Store, embedder: Embedder, read: ReadFile, chunking: ChunkSettings, notices: set[str],
              report: IndexReport) -> FileReport:
    """Embed and save one read file (or count it unchanged) and say what happened to it."""
    label, started = str(read.source.path), time.perf_counter()
    if read.extracted is None:
        report.unchanged.append(label)
        document = read.existing
        return FileReport(label, "unchanged", title=document.title, format=document.format, passages=document.passage_count)
    try:
        document = save_file(store, embedder, read, chunking, notices).document
    except Exception as error:  # a failure while saving one file must not stop the run either
        return _skipped(report, label, error, read.seconds + time.perf_counter() - started)
    report.indexed.append(label)
    report.passages += document.passage_count
    extracted = read.extracted
    twins = store.documents_by_id(store.near_duplicates([document.id]).get(document.id, []))
    return FileReport(label, "indexed", title=document.title, format=document.format, pages=extracted.pages,
                      passages=document.passage_count, ocr_pages=extracted.ocr_pages, empty_pages=extracted.empty_pages,
                      language=document.metadata.get("language") or document.language,
                      seconds=read.seconds + time.perf_counter() - started,
                      near_duplicates=tuple(twin.filename for twin in twins.values()))


def _skipped(report: IndexReport, label: str, error: Exception, seconds: float) -> FileReport:
    """Record a skipped file with its one-line reason; unexpected errors are logged with their traceback."""
    if isinstance(error, ExtractionError):
        reason = error.reason
    elif isinstance(error, OSError):
        reason = f"cannot read the file ({error.strerror or error})"
    else:
        log.warning("unexpected error on %s", label, exc_info=error)
        reason = f"unexpected {type(error).__name__}: {error}"
    report.skipped[label] = reason
    return FileReport(label, "skipped", reason=reason, seconds=seconds)


def read_file(store: Store, source: SourceFile, ocr: OcrSettings = OcrSettings(),
              limits: ExtractionLimits | None = None) -> ReadFile:
    """Check a file against the index and read it when it is new or changed: the first half of adding it.

    Args:
        store: the open index (the caller holds its write lock).
        source: the file, its name, catalogue fields and identity.
        ocr: how pages without readable text are OCR'd.
        limits: time and memory for reading it in a worker process (default: ``KB_EXTRACT_*`` environment variables).

    Returns:
        The file with its hash, the document it was indexed as (if any) and its text (None when unchanged).

    Raises:
        DuplicateDocument: another document has the same content.
        ExtractionError: the file cannot be read (also when it takes too long or too much memory).
        OSError: the file cannot be opened.
    """
    checked = _check(store, source)
    if isinstance(checked, ReadFile):
        return checked
    extracted, seconds = extract_one(source.path, ocr, ExtractionLimits.from_environ() if limits is None else limits)
    return ReadFile(source, checked.sha256, checked.existing, extracted, checked.seconds + seconds)


def _check(store: Store, source: SourceFile) -> ReadFile | _Unread:
    """Hash a file and look it up: the ``ReadFile`` of an unchanged file (nothing to read), or the file to read.

    Raises:
        DuplicateDocument: another document has the same content.
        OSError: the file cannot be opened.
    """
    started = time.perf_counter()
    sha256 = source.sha256 or file_sha256(source.path)
    existing = None if source.is_upload else store.find_document(path=source.identity)
    if existing and existing.sha256 == sha256 and existing.metadata == source.catalog:
        return ReadFile(source, sha256, existing, None, time.perf_counter() - started)
    twin = store.find_document(sha256=sha256)
    if twin and (existing is None or twin.id != existing.id):
        raise DuplicateDocument(source.path, twin.id, twin.path, twin.filename)
    return _Unread(source, sha256, existing, time.perf_counter() - started)


def save_file(store: Store, embedder: Embedder, read: ReadFile, chunking: ChunkSettings, notices: set[str]) -> AddOutcome:
    """Chunk, embed and save a file that ``read_file`` read: the second half of adding it.

    Args:
        store: the open index (the caller holds its write lock).
        embedder: the index's model.
        read: from ``read_file``, with its text.
        chunking: passage length and overlap.
        notices: the collection's notice lines (``notices.notice_key``), kept out of the passages.

    Returns:
        The stored document, and what was read.
    """
    extracted, notice = strip_notices(read.extracted, notices)
    if not extracted.sections:  # the notice was all the text: keep it rather than refuse the file
        extracted, notice = read.extracted, ""
    existing = read.existing
    document = _store_file(store, embedder, read.source, extracted, read.sha256, existing.id if existing else 0, chunking, notice)
    if existing and existing.original and existing.original != document.original:
        store.layout.resolve(existing.original).unlink(missing_ok=True)
    return AddOutcome(document, changed=True, extracted=extracted)


def add_file(store: Store, embedder: Embedder, source: SourceFile, chunking: ChunkSettings,
             ocr: OcrSettings = OcrSettings(), limits: ExtractionLimits | None = None) -> AddOutcome:
    """Add a file, or update the document it was indexed as; unchanged content and fields are left alone.

    Args:
        store: the open index (the caller holds its write lock).
        embedder: the index's model.
        source: the file, its name, catalogue fields and identity.
        chunking: passage length and overlap.
        ocr: how pages without readable text are OCR'd.
        limits: time and memory for reading it in a worker process (default: ``KB_EXTRACT_*`` environment variables).

    Returns:
        The stored document, whether anything changed, and what was read.

    Raises:
        DuplicateDocument: another document has the same content.
        ExtractionError: the file cannot be read (also when it takes too long or too much memory).
        OSError: the file cannot be opened.
    """
    read = read_file(store, source, ocr, limits)
    if read.extracted is None:
        return AddOutcome(read.existing, changed=False)
    return save_file(store, embedder, read, chunking, store.notices())


def _store_file(store: Store, embedder: Embedder, source: SourceFile, extracted: ExtractedText, sha256: str, document_id: int,
                chunking: ChunkSettings, notice: str = "") -> Document:
    """Chunk, embed and save one extracted file with a kept copy, keeping ``document_id`` when it is an update."""
    catalog = source.catalog
    title = str(catalog.get("title") or extracted.title)
    language, passages = assign_languages(chunk_sections(extracted.sections, chunking), str(catalog.get("language") or ""))
    vectors = passage_vectors(embedder, [embedding_text(title, passage) for passage in passages])
    document = Document(
        id=document_id, path=source.identity, original=keep_original(store.layout, source.path, sha256),
        filename=source.name, title=title, type=str(catalog.get("type") or guess_type(extracted.format)),
        format=extracted.format, sha256=sha256, size=source.path.stat().st_size, indexed_at="", metadata=catalog,
        notice=notice, language=language,
    )
    own = signature([passage.text for passage in passages])
    others = {other: values for other, values in store.signatures().items() if other != document_id}
    return store.save_document(document, passages, vectors, signature=own, similar=similar_documents(own, others))


def keep_original(layout: IndexLayout, path: Path, sha256: str) -> str:
    """Copy a file into the index's originals under its hash (atomically); return the copy's relative path."""
    relative = layout.original(sha256, path.suffix)
    target = layout.resolve(relative)
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = temporary_path(target)
        shutil.copyfile(path, temporary)
        os.replace(temporary, target)
    return relative


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
        records: objects with ``key``, ``title``, ``text`` and ``sha256`` (``records.TextRecord``).
        chunking: passage length and overlap.
        progress: show a progress bar.
        batch: records embedded per model call.

    Returns:
        The run's report (records count as files).
    """
    report = IndexReport()
    started = time.perf_counter()
    bar = tqdm(total=len(records), unit="record", disable=not progress, dynamic_ncols=True)
    expect_passages(embedder, len(records))  # at least one passage each
    with store.writing():
        for first in range(0, len(records), batch):
            chunked = [(record, chunk_sections((Section(record.text, Location()),), chunking)) for record in records[first:first + batch]]
            texts = [embedding_text(record.title, passage) for record, passages in chunked for passage in passages]
            vectors = passage_vectors(embedder, texts)
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
