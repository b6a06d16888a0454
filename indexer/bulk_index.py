"""Indexing many files or records at once: read them all in worker processes, embed across files, save one by one.

``kb index`` and evaluation builds come here; adding one file (``kb add``, the admin page) goes through
``pipeline.add_file``. Every file is handled on its own: one that cannot be read, embedded or saved is
recorded in the report with its reason and the run goes on; one whose content hash and catalogue fields
are unchanged is not read again.
"""

from __future__ import annotations

import logging
import time

import numpy as np
from tqdm import tqdm

from .chunk import ChunkSettings, chunk_sections
from .embed import Embedder, expect_passages, passage_vectors
from .errors import DuplicateDocument, ExtractionError
from .extraction_pool import Extraction, ExtractionLimits, extract_files
from .notices import find_notices
from .ocr import OcrSettings
from .pipeline import (PreparedFile, ReadFile, UnreadFile, check_file, embedding_text, passage_texts, prepare_file,
                       store_prepared)
from .records import Document, ExtractedText, FileReport, IndexReport, Location, Section
from .sources import SourceFile
from .store import Store

__all__ = ["EMBED_GROUP", "index_files", "index_records"]

log = logging.getLogger(__name__)

#: Passages embedded in one model call while indexing many files: enough batches to keep every core busy (and
#: PyTorch in bfloat16, ``bulk_runtime``) where each file has a page or two, few enough to show progress.
EMBED_GROUP = 512


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
        read = [outcome for outcome in outcomes if _has_text(outcome)]
        notices = store.remember_notices(find_notices([outcome.extracted for outcome in read]))
        expect_passages(embedder, sum(_rough_passages(outcome.extracted, chunking) for outcome in read))
        saving = tqdm(total=len(read), desc="embedding", unit="file", disable=not progress, dynamic_ncols=True)
        for group in _groups(outcomes, chunking):
            _save_group(store, embedder, group, chunking, notices, report)
            saving.update(sum(1 for outcome in group if _has_text(outcome)))
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
    unread = [item for item in checked if isinstance(item, UnreadFile)]
    bar.update(len(checked) - len(unread))
    extractions = iter(extract_files([item.source.path for item in unread], ocr, limits, on_each=lambda: bar.update(1)))
    return [_finish_read(item, next(extractions), report) if isinstance(item, UnreadFile) else item for item in checked]


def _check_one(store: Store, source: SourceFile, report: IndexReport) -> ReadFile | UnreadFile | FileReport:
    """Check one file against the index, or say in ``report`` why it is a duplicate or cannot be read."""
    label, started = str(source.path), time.perf_counter()
    try:
        return check_file(store, source)
    except DuplicateDocument as error:
        report.duplicates[label] = error.existing
        return FileReport(label, "duplicate", reason=error.message, seconds=time.perf_counter() - started)
    except Exception as error:  # an unreadable file must not stop the run
        return _skipped(report, label, error, time.perf_counter() - started)


def _finish_read(unread: UnreadFile, extraction: Extraction, report: IndexReport) -> ReadFile | FileReport:
    """A read file, or, when it could not be read (or a parser failed on one odd file), its entry in ``report``."""
    seconds = unread.seconds + extraction.seconds
    if extraction.error is not None:
        return _skipped(report, str(unread.source.path), extraction.error, seconds)
    return ReadFile(unread.source, unread.sha256, unread.existing, extraction.text, seconds)


def _has_text(outcome: ReadFile | FileReport) -> bool:
    """Whether ``outcome`` is a file read for indexing (not unchanged, not skipped)."""
    return isinstance(outcome, ReadFile) and outcome.extracted is not None


def _groups(outcomes: list[ReadFile | FileReport], chunking: ChunkSettings) -> list[list[ReadFile | FileReport]]:
    """``outcomes`` in order, cut into groups of about ``EMBED_GROUP`` passages (by ``_rough_passages``)."""
    groups: list[list[ReadFile | FileReport]] = [[]]
    passages = 0
    for outcome in outcomes:
        if passages >= EMBED_GROUP:
            groups.append([])
            passages = 0
        groups[-1].append(outcome)
        passages += _rough_passages(outcome.extracted, chunking) if _has_text(outcome) else 0
    return [group for group in groups if group]


def _save_group(store: Store, embedder: Embedder, group: list[ReadFile | FileReport], chunking: ChunkSettings,
                notices: set[str], report: IndexReport) -> None:
    """Embed the passages of a group's read files in one call, then save each file; say in ``report`` what happened.

    A file that fails (to be cut, embedded or saved) is skipped with its reason; the others are saved.
    """
    prepared: dict[int, PreparedFile | Exception] = {}
    for position, outcome in enumerate(group):
        if _has_text(outcome):
            try:
                prepared[position] = prepare_file(outcome, chunking, notices)
            except Exception as error:  # one odd file must not stop the run
                prepared[position] = error
    ready = {position: item for position, item in prepared.items() if isinstance(item, PreparedFile)}
    started = time.perf_counter()
    vectors = _group_vectors(embedder, ready)
    per_passage = (time.perf_counter() - started) / max(sum(len(item.passages) for item in ready.values()), 1)
    for position, outcome in enumerate(group):
        if not isinstance(outcome, ReadFile):
            report.files.append(outcome)
        elif outcome.extracted is None:
            report.unchanged.append(str(outcome.source.path))
            document = outcome.existing
            report.files.append(FileReport(str(outcome.source.path), "unchanged", title=document.title,
                                           format=document.format, passages=document.passage_count))
        else:
            report.files.append(_save_one(store, prepared[position], vectors.get(position), per_passage, report, outcome))


def _group_vectors(embedder: Embedder, prepared: dict[int, PreparedFile]) -> dict[int, np.ndarray | Exception]:
    """The passage vectors of each prepared file, from one model call (file by file if that call fails)."""
    texts = [text for ready in prepared.values() for text in passage_texts(ready)]
    try:
        vectors = passage_vectors(embedder, texts) if texts else np.empty((0, embedder.dimension), dtype=np.float32)
    except Exception:  # one file's text broke the call: embed file by file, so that only that file is skipped
        return {position: _vectors_or_error(embedder, ready) for position, ready in prepared.items()}
    result, offset = {}, 0
    for position, ready in prepared.items():
        result[position] = vectors[offset:offset + len(ready.passages)]
        offset += len(ready.passages)
    return result


def _vectors_or_error(embedder: Embedder, prepared: PreparedFile) -> np.ndarray | Exception:
    try:
        return passage_vectors(embedder, passage_texts(prepared))
    except Exception as error:
        return error


def _save_one(store: Store, prepared: PreparedFile | Exception, vectors: np.ndarray | Exception | None, per_passage: float,
              report: IndexReport, read: ReadFile) -> FileReport:
    """Save one read file with its vectors and say what happened to it (skipped, with the reason, on any failure)."""
    label, started = str(read.source.path), time.perf_counter()
    try:
        for failure in (prepared, vectors):
            if isinstance(failure, Exception):
                raise failure
        document = store_prepared(store, prepared, vectors)
    except Exception as error:  # a failure while saving one file must not stop the run either
        return _skipped(report, label, error, read.seconds + time.perf_counter() - started)
    report.indexed.append(label)
    report.passages += document.passage_count
    extracted = read.extracted
    twins = store.documents_by_id(store.near_duplicates([document.id]).get(document.id, []))
    return FileReport(label, "indexed", title=document.title, format=document.format, pages=extracted.pages,
                      passages=document.passage_count, ocr_pages=extracted.ocr_pages, empty_pages=extracted.empty_pages,
                      language=document.metadata.get("language") or document.language,
                      seconds=read.seconds + per_passage * len(prepared.passages) + time.perf_counter() - started,
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
