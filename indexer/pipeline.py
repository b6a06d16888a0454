"""One file's way into the index: check it against the index, read it, cut it into passages, embed and store it.

``add_file`` does all of it for one file (``kb add``, the admin page); ``bulk_index`` runs the same steps for a
whole collection, reading files in worker processes and embedding the passages of several files at once.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .catalog import guess_type
from .chunk import ChunkSettings, chunk_sections
from .embed import Embedder, passage_vectors
from .errors import DuplicateDocument
from .extraction_pool import ExtractionLimits, extract_one
from .language import assign_languages
from .layout import IndexLayout, temporary_path
from .near_duplicates import signature, similar_documents
from .notices import strip_notices
from .ocr import OcrSettings
from .records import Document, ExtractedText, Passage
from .sources import SourceFile, file_sha256
from .store import Store

__all__ = ["ReadFile", "AddOutcome", "PreparedFile", "read_file", "check_file", "save_file", "prepare_file", "passage_texts",
           "store_prepared", "add_file", "keep_original", "embedding_text"]

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
class PreparedFile:
    """A read file cut into passages, ready to embed (``notice``: the collection's notice, taken out of its text)."""

    read: ReadFile
    extracted: ExtractedText
    notice: str
    title: str
    language: str
    passages: list[Passage]


@dataclass(frozen=True)
class UnreadFile:
    """A new or changed file, checked against the index, still to be read."""

    source: SourceFile
    sha256: str
    existing: Document | None
    seconds: float


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
    checked = check_file(store, source)
    if isinstance(checked, ReadFile):
        return checked
    extracted, seconds = extract_one(source.path, ocr, ExtractionLimits.from_environ() if limits is None else limits)
    return ReadFile(source, checked.sha256, checked.existing, extracted, checked.seconds + seconds)


def check_file(store: Store, source: SourceFile) -> ReadFile | UnreadFile:
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
    return UnreadFile(source, sha256, existing, time.perf_counter() - started)


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
    prepared = prepare_file(read, chunking, notices)
    document = store_prepared(store, prepared, passage_vectors(embedder, passage_texts(prepared)))
    return AddOutcome(document, changed=True, extracted=prepared.extracted)


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


def prepare_file(read: ReadFile, chunking: ChunkSettings, notices: set[str]) -> PreparedFile:
    """Cut a read file into passages, without the collection's notice lines, with its title and language."""
    extracted, notice = strip_notices(read.extracted, notices)
    if not extracted.sections:  # the notice was all the text: keep it rather than refuse the file
        extracted, notice = read.extracted, ""
    catalog = read.source.catalog
    language, passages = assign_languages(chunk_sections(extracted.sections, chunking), str(catalog.get("language") or ""))
    return PreparedFile(read, extracted, notice, str(catalog.get("title") or extracted.title), language, passages)


def passage_texts(prepared: PreparedFile) -> list[str]:
    """What the model embeds for each passage of a prepared file (``embedding_text``)."""
    return [embedding_text(prepared.title, passage) for passage in prepared.passages]


def store_prepared(store: Store, prepared: PreparedFile, vectors: np.ndarray) -> Document:
    """Save a prepared file with its passages' vectors and a kept copy, as an update of the document it was indexed as."""
    read, source, catalog = prepared.read, prepared.read.source, prepared.read.source.catalog
    existing = read.existing
    document = Document(
        id=existing.id if existing else 0, path=source.identity, original=keep_original(store.layout, source.path, read.sha256),
        filename=source.name, title=prepared.title, type=str(catalog.get("type") or guess_type(prepared.extracted.format)),
        format=prepared.extracted.format, sha256=read.sha256, size=source.path.stat().st_size, indexed_at="", metadata=catalog,
        notice=prepared.notice, language=prepared.language,
    )
    own = signature([passage.text for passage in prepared.passages])
    others = {other: values for other, values in store.signatures().items() if other != document.id}
    document = store.save_document(document, prepared.passages, vectors, signature=own, similar=similar_documents(own, others))
    if existing and existing.original and existing.original != document.original:
        store.layout.resolve(existing.original).unlink(missing_ok=True)
    return document


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
