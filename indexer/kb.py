"""``KnowledgeBase``: the indexer's front door, used by the CLI and the web app."""

from __future__ import annotations

import json
import os
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping

from .audit import AuditEntry, carry_over, local_client, read_recent, record, result_of
from .chunk import ChunkSettings
from .embed import DEFAULT_MODEL, Embedder, load_embedder, model_name, question_vector, precision_from_environ, split_model_name
from .catalog import clean_fields, read_catalog
from .errors import DocumentNotFound, FileMissing, IndexNotBuilt, IndexReplaced, KBError, ModelMismatch
from .extraction_pool import ExtractionLimits
from .language import detect_language
from .ocr import OcrSettings
from .bulk_index import index_files, index_records
from .pipeline import add_file
from .sources import SourceFile, file_sha256, find_files
from .records import Document, IndexReport, SearchResult
from .search import Fusion, SearchRequest, search
from .layout import IndexLayout, Manifest, staging_dir, swap_in
from .settings import default
from .store import Store

__all__ = ["KnowledgeBase", "Stats"]


@dataclass(frozen=True)
class Stats:
    """The index at a glance, as ``GET /api/health`` and ``kb stats`` show it."""

    documents: int
    passages: int
    model: str
    dimension: int
    version: int

    def to_dict(self) -> dict:
        return {"ok": True, "documents": self.documents, "passages": self.passages, "model": self.model,
                "dimension": self.dimension, "version": self.version}


def _model_options(name: str) -> str:
    """The CLI options that choose the model named ``name`` (``x@int8``: ``--model 'x' --precision int8``)."""
    model, precision = split_model_name(name)
    return f"--model {model!r}" + (f" --precision {precision}" if precision != "fp32" else "")


class KnowledgeBase:
    """An index directory and the model that reads and writes it.

    The model and the store load on first use and are kept, so a process pays
    for them once.

    Args:
        data_dir: the index directory (created by the first ``index`` call).
        model: sentence-transformers model name or path; must match the index's.
        precision: ``fp32`` or ``int8`` (a quantised copy of the model); must match the index's.
            Default: ``KB_PRECISION``, else fp32. A model name ending in ``@int8`` says it too.
        embedder: an already loaded embedder (tests pass a fake one); default: load ``model``.
        chunking: passage length and overlap for indexing.
        max_query_chars: the longest question ``search`` accepts.
        per_document: default cap on passages of one document in a result (0: none).
        fusion: how hybrid search combines dense and keyword scores (default: the one chosen for the model).
        ocr: how PDF pages without readable text are OCR'd (default: ``KB_OCR*`` environment variables).
        limits: time per file and memory per worker process for reading files
            (default: ``KB_EXTRACT_SECONDS`` and ``KB_EXTRACT_MEMORY_MB``).
    """

    def __init__(self, data_dir: str | Path, model: str = DEFAULT_MODEL, embedder: Embedder | None = None,
                 chunking: ChunkSettings = ChunkSettings(), max_query_chars: int = default("KB_MAX_QUERY_CHARS"),
                 per_document: int = default("KB_PER_DOCUMENT"),
                 fusion: Fusion | None = None, ocr: OcrSettings | None = None, precision: str | None = None,
                 limits: ExtractionLimits | None = None):
        self.data_dir = Path(data_dir)
        self.layout = IndexLayout(self.data_dir)
        self.per_document = per_document
        if embedder is None:
            # The name the manifest keeps: the model, with "@int8" when quantised.
            model = model_name(*split_model_name(model, precision_from_environ() if precision is None else precision))
        self.model = embedder.name if embedder is not None else model
        self.fusion = fusion or Fusion.for_model(self.model)
        self.chunking = chunking
        self.max_query_chars = max_query_chars
        self.ocr = OcrSettings.from_environ() if ocr is None else ocr
        self.limits = ExtractionLimits.from_environ() if limits is None else limits
        self._embedder = embedder
        self._store: Store | None = None
        self._lock = threading.Lock()
        self._manifest_inode: int | None = None
        self._model_lock = threading.Lock()

    @property
    def embedder(self) -> Embedder:
        """The model, loaded on first use, once even when several threads ask at the same moment."""
        if self._embedder is None:
            with self._model_lock:
                if self._embedder is None:
                    self._embedder = load_embedder(self.model)
        return self._embedder

    @property
    def store(self) -> Store:
        """The open index directory.

        Raises:
            IndexNotBuilt: nothing was indexed yet.
            ModelMismatch: the index was built with another model.
        """
        with self._lock:
            if self._store is not None and self._rebuilt_since_opened():
                self._store.close()
                self._store = None
            if self._store is None:
                store = Store.open(self.data_dir)
                self._check_model(store.manifest)
                self._store = store
                self._manifest_inode = _inode(self.layout.manifest)
            return self._store

    def _rebuilt_since_opened(self) -> bool:
        """Whether ``kb index --rebuild`` put another index in this directory since it was opened (one stat)."""
        inode = _inode(self.layout.manifest)
        if inode is None or inode == self._manifest_inode:
            return False
        try:
            return self.layout.read_manifest().generation != self._store.manifest.generation
        except KBError:  # being replaced, or not readable: keep answering from the index already open
            return False

    def _check_model(self, manifest: Manifest) -> None:
        if manifest.model == self.model:
            return
        (theirs, their_precision), (ours, our_precision) = split_model_name(manifest.model), split_model_name(self.model)
        if theirs == ours:
            raise ModelMismatch(
                f"the index in {self.data_dir} was built with {theirs!r} at {their_precision} precision, not "
                f"{our_precision}; use the index's precision (--precision {their_precision} / KB_PRECISION={their_precision}), "
                f"or rebuild it with `kb index --rebuild --precision {our_precision}` (or use another --data-dir)"
            )
        raise ModelMismatch(
            f"the index in {self.data_dir} was built with model {manifest.model!r} ({manifest.dimension} dimensions), "
            f"not {self.model!r}; search with {_model_options(manifest.model)}, or rebuild with "
            f"`kb index --rebuild {_model_options(self.model)}` (or use another --data-dir)"
        )

    def index(self, paths: list[str | Path], progress: bool = False, rebuild: bool = False, prune: bool = False,
              client: str | None = None) -> IndexReport:
        """Synchronise files and folders: new and changed files are (re)read, unchanged ones skipped.

        Args:
            paths: files and folders (walked recursively).
            progress: show a progress bar.
            rebuild: build a new index from nothing beside the old one and swap it in (e.g. to change the model).
            prune: remove documents indexed from under the given folders whose files are gone.
            client: who asked, for the audit log (default: ``local:<user>``).

        Returns:
            The run's report.
        """
        report = self._rebuild(paths, progress, prune) if rebuild else self._synchronise(paths, progress, prune, client)
        # Each file the run (re)indexed, in one write to the audit log.
        found = (self.store.find_document(path=str(Path(label).resolve())) for label in report.indexed)
        record(self.layout.audit_log, *(AuditEntry.now(client or local_client(), "index", document.id, document.filename,
                                                       document.sha256) for document in found if document is not None))
        return report

    def _synchronise(self, paths: list[str | Path], progress: bool, prune: bool, client: str | None) -> IndexReport:
        """``index`` without ``rebuild``: bring this index in step with the files."""
        files = find_files([Path(path) for path in paths])
        store = self._writable_store()
        report = index_files(store, self.embedder, files, self.chunking, progress=progress, ocr=self.ocr,
                             limits=self.limits)
        if prune:
            kept = {source.identity for source in files}
            folders = [str(Path(path).resolve()) + os.sep for path in paths if Path(path).is_dir()]
            for document in store.documents():
                if document.path.startswith(tuple(folders)) and document.path not in kept:
                    self.remove(document.id, client=client)
                    report.removed.append(document.path)
        _write_json(self.layout.index_report, report.to_dict())
        return report

    def _rebuild(self, paths: list[str | Path], progress: bool, prune: bool) -> IndexReport:
        """Build a new index beside this one, then swap it in under the write lock; servers reopen it at their next search.

        The old index keeps answering while the new one is built, and stays as it was if the build fails.
        """
        staging = staging_dir(self.data_dir)
        shutil.rmtree(staging, ignore_errors=True)
        fresh = KnowledgeBase(staging, model=self.model, embedder=self.embedder, chunking=self.chunking,
                              max_query_chars=self.max_query_chars, per_document=self.per_document, fusion=self.fusion,
                              ocr=self.ocr, limits=self.limits)
        try:
            report = fresh._synchronise(paths, progress, prune, None)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        finally:
            fresh.close()
        self.close()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with self.layout.write_locked():  # no writer may be halfway through the old index
            carry_over(self.layout.audit_log, staging)  # the log of changes outlives the index it describes
            swap_in(staging, self.data_dir)
        return report

    def last_index_report(self) -> dict | None:
        """The report of the last ``index`` run on this data directory, as ``IndexReport.to_dict`` wrote it, or None."""
        path = self.layout.index_report
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def add(self, path: str | Path, fields: dict | None = None, filename: str | None = None,
            client: str | None = None) -> Document:
        """Add one file, or update the document it was added from (same path on disk); the audit log records it.

        Args:
            path: the file.
            fields: catalogue fields (title, type, session, countries, language, date, speakers,
                organisation), over those of the folder's ``catalog.yaml``.
            filename: for uploads: the name to show; each upload is a new document.
            client: who asked, for the audit log: the web client's address, ``cli:<user>`` (default: ``local:<user>``).

        Returns:
            The stored document.

        Raises:
            DuplicateDocument: another document has the same content.
            ExtractionError: the file cannot be read (unsupported, encrypted, no text, damaged).
            InvalidField: a bad field.
            FileMissing: there is no such file.
        """
        path = Path(path)
        try:
            document = self._again_if_replaced(lambda: self._add(path, fields, filename))
        except Exception as error:
            self._audit("add", client, None, filename or path.name, _sha256_if_file(path), result_of(error))
            raise
        self._audit("add", client, document.id, document.filename, document.sha256)
        return document

    @staticmethod
    def _again_if_replaced(change: Callable[[], Document]) -> Document:
        """Run ``change``, and once more if a rebuild or restore swapped in another index while it waited for the
        write lock (nothing was written; the second run opens the new index, as ``store`` notices)."""
        try:
            return change()
        except IndexReplaced:
            return change()

    def _add(self, path: Path, fields: dict | None, filename: str | None) -> Document:
        if not path.is_file():
            raise FileMissing(f"{path}: no such file; check the path")
        catalog = {} if filename else read_catalog(path.parent).get(path.name, {})
        # An upload is a new document each time (two sites' "report.pdf" must not overwrite each other);
        # a file on disk is recognised by its path, so adding it again updates it.
        sha256 = file_sha256(path) if filename else ""
        source = SourceFile(path=path, name=filename or path.name, catalog={**catalog, **clean_fields(fields or {})},
                            key=f"upload:{sha256}" if filename else "", sha256=sha256)
        store = self._writable_store()
        with store.writing():
            return add_file(store, self.embedder, source, self.chunking, self.ocr, self.limits).document

    def update(self, document_id: int, fields: dict, client: str | None = None) -> Document:
        """Change a document's catalogue fields; a field set to None or "" is removed. The audit log records it.

        Args:
            document_id: the document.
            fields: catalogue fields to change.
            client: who asked, for the audit log (as for ``add``).

        Raises:
            DocumentNotFound: no such document.
            InvalidField: a bad field.
        """
        try:
            document = self._again_if_replaced(lambda: self._update(document_id, fields))
        except Exception as error:
            self._audit("update", client, document_id, self._filename_of(document_id), result=result_of(error))
            raise
        self._audit("update", client, document.id, document.filename)
        return document

    def _update(self, document_id: int, fields: dict) -> Document:
        store = self.store
        with store.writing():
            current = store.document(document_id)
            cleared = {name for name, value in fields.items() if value in (None, "", [])}
            metadata = {key: value for key, value in current.metadata.items() if key not in cleared}
            metadata.update(clean_fields(fields))
            title = str(metadata.get("title") or current.title)
            type_ = str(metadata.get("type") or current.type)
            return store.update_fields(document_id, title, type_, metadata)

    def remove(self, document_id: int, client: str | None = None) -> Document:
        """Remove a document, its passages, vectors and kept original; return what it was. The audit log records it.

        Args:
            document_id: the document.
            client: who asked, for the audit log (as for ``add``).

        Raises:
            DocumentNotFound: no such document.
        """
        try:
            document = self._again_if_replaced(lambda: self._remove(document_id))
        except Exception as error:
            self._audit("remove", client, document_id, self._filename_of(document_id), result=result_of(error))
            raise
        self._audit("remove", client, document.id, document.filename)
        return document

    def _remove(self, document_id: int) -> Document:
        store = self.store
        with store.writing():
            document = store.delete_document(document_id)
        if document.original:
            self.layout.resolve(document.original).unlink(missing_ok=True)
        return document

    def audit_log(self, count: int = 50) -> list[AuditEntry]:
        """The last ``count`` entries of the audit log, newest first."""
        return read_recent(self.layout.audit_log, count)

    def _audit(self, action: str, client: str | None, document_id: int | None, filename: str, sha256: str = "",
               result: str = "ok") -> None:
        record(self.layout.audit_log, AuditEntry.now(client or local_client(), action, document_id, filename, sha256, result))

    def _filename_of(self, document_id: int) -> str:
        """The file name of a document, for the audit entry of a failed change ("" when there is none)."""
        try:
            return self.store.document(document_id).filename
        except KBError:
            return ""

    def find(self, id_or_path: str) -> Document:
        """The document with this id, or indexed from this path.

        Raises:
            DocumentNotFound: there is none.
        """
        if id_or_path.isdigit():
            return self.store.document(int(id_or_path))
        found = self.store.find_document(path=str(Path(id_or_path).resolve()))
        if found is None:
            raise DocumentNotFound(f"no document indexed from {id_or_path}; `kb list` shows ids and files")
        return found

    def index_records(self, records: list, progress: bool = False) -> IndexReport:
        """Index text records (``records.TextRecord``: a BEIR corpus) as documents, for evaluation and benchmarks."""
        return index_records(self._writable_store(), self.embedder, records, self.chunking, progress=progress)

    def _writable_store(self) -> Store:
        """The store, created with this model's manifest when the directory has none yet."""
        if self.layout.manifest.exists():
            return self.store
        with self._lock:
            self._store = Store.create(self.data_dir, Manifest(model=self.model, dimension=self.embedder.dimension))
        return self._store

    def search(self, query: str, k: int = default("KB_DEFAULT_K"), mode: str = "hybrid", filters: Mapping[str, tuple[str, ...]] | None = None,
               per_document: int | None = None, group: bool = False, collapse: bool = True,
               max_chars: int | None = None, answers: int = 0, highlights: bool = False, facets: bool = False) -> SearchResult:
        """Rank passages for a question (see ``indexer.search.search``).

        Args:
            query: the question.
            k: passages to return (documents, with ``group``).
            mode: ``hybrid``, ``dense`` or ``keyword``.
            filters: catalogue field -> accepted values, applied before ranking.
            per_document: at most this many passages of one document (0: no cap; default: the KB's).
            group: one entry per document with its best passages.
            collapse: show near-duplicate documents once, the others as ``Hit.also_as`` (evaluation turns it off).
            max_chars: the longest question accepted (default: the KB's ``max_query_chars``, the web API's limit;
                evaluation passes its own, ``evaluation.evaluate.EVAL_MAX_QUERY_CHARS``).
            answers: mark the answering sentence (``Hit.answer``) in this many of the first hits.
            highlights: find the question's words in each hit (``Hit.highlights``; else only in hits with ``answers``).
            facets: count facet values over the candidates (``SearchResult.facets``; else it is empty).

        Raises:
            InvalidQuery: a bad question, k, mode or filter.
        """
        cap = self.per_document if per_document is None else per_document
        request = SearchRequest(query=query, k=k, mode=mode, filters=dict(filters or {}), per_document=cap, group=group,
                                collapse_near_duplicates=collapse, answers=answers, highlights=highlights, facets=facets)
        limit = self.max_query_chars if max_chars is None else max_chars
        return search(self.store, self.embedder, request, fusion=self.fusion, max_chars=limit)

    def documents(self) -> list[Document]:
        """Every indexed document with its passage count."""
        return self.store.documents()

    def document(self, document_id: int) -> Document:
        """One document by id (raises DocumentNotFound)."""
        return self.store.document(document_id)

    def stats(self) -> Stats:
        """Counts, model and version of the index."""
        store = self.store
        documents, passages = store.counts()
        return Stats(documents=documents, passages=passages, model=store.manifest.model,
                     dimension=store.manifest.dimension, version=store.version())

    def close(self) -> None:
        """Close this thread's database connection."""
        if self._store is not None:
            self._store.close()
            self._store = None

    def warm(self) -> None:
        """Load the model, the language detector and, if there is an index, its vectors, ahead of the first question."""
        self.embedder.encode(["warm up"])
        question_vector(self.embedder, "warm up", quick=True)  # hybrid questions may run on a copy of their own
        detect_language("warm up the language detector")  # questions are stemmed in their own language too
        try:
            self.store.vector_index()
        except IndexNotBuilt:
            pass


def _sha256_if_file(path: Path) -> str:
    """The SHA-256 of a file for the audit log, "" when it cannot be read."""
    try:
        return file_sha256(path)
    except OSError:
        return ""


def _inode(path: Path) -> int | None:
    try:
        return os.stat(path).st_ino
    except OSError:
        return None


def _write_json(path: Path, value: dict) -> None:
    """Write ``value`` to ``path`` atomically (a reader never sees half a file)."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(json.dumps(value, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    os.replace(temporary, path)
