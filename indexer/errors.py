"""Every failure the indexer reports, under one root so callers can catch them all.

Each error carries a message written for the person who caused it: what went
wrong, which file or field, and what to do next. The CLI prints it; the web app
turns it into ``{"error": {"code", "message"}}`` using ``code``.
"""

__all__ = [
    "KBError",
    "ExtractionError",
    "UnsupportedFormat",
    "EncryptedDocument",
    "CorruptDocument",
    "NoTextFound",
    "ExtractionTimeout",
    "ExtractionOutOfMemory",
    "ExtractionCrashed",
    "IndexNotBuilt",
    "IndexDamaged",
    "IndexOutdated",
    "ModelMismatch",
    "ModelUnavailable",
    "FileMissing",
    "DocumentNotFound",
    "InvalidQuery",
    "CatalogError",
    "DuplicateDocument",
    "InvalidField",
    "DatasetError",
    "BenchmarkFailed",
    "InvalidSetting",
]


class KBError(Exception):
    """Root of every error the knowledge base raises on purpose."""

    code = "kb_error"

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class ExtractionError(KBError):
    """A file could not be turned into text; the file is skipped, the run goes on."""

    code = "extraction_failed"

    def __init__(self, path, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path = str(path)
        self.reason = reason

    def __reduce__(self):
        # An exception pickles as ``type(self)(*self.args)``, and ``args`` holds only the joined message: without
        # this, an error raised in an extraction worker (``extraction_pool``) could not be unpickled in the parent.
        return type(self), (self.path, self.reason), self.__dict__


class UnsupportedFormat(ExtractionError):
    """The file's type is not one the indexer reads."""

    code = "unsupported_format"


class EncryptedDocument(ExtractionError):
    """The file needs a password to open."""

    code = "encrypted_document"


class CorruptDocument(ExtractionError):
    """The file is damaged or is not what its name says."""

    code = "corrupt_document"


class NoTextFound(ExtractionError):
    """The file opened but holds no text (an image-only scan, an empty deck)."""

    code = "no_text"


class ExtractionTimeout(ExtractionError):
    """Reading the file took longer than a worker may spend on one file (``KB_EXTRACT_SECONDS``)."""

    code = "extraction_timeout"


class ExtractionOutOfMemory(ExtractionError):
    """Reading the file needed more memory than a worker may use (``KB_EXTRACT_MEMORY_MB``)."""

    code = "extraction_out_of_memory"


class ExtractionCrashed(ExtractionError):
    """The worker reading the file died (a signal, e.g. a crash in a C library) before it answered."""

    code = "extraction_crashed"


class IndexNotBuilt(KBError):
    """The data directory holds no index yet."""

    code = "index_not_built"


class IndexDamaged(KBError):
    """A file of the index directory (its manifest) cannot be read: rebuild the index."""

    code = "index_damaged"


class IndexOutdated(KBError):
    """The index was written by a version of the indexer with another index format: rebuild it."""

    code = "index_outdated"


class ModelMismatch(KBError):
    """The index was built with another embedding model than the one asked for."""

    code = "model_mismatch"


class ModelUnavailable(KBError):
    """The embedding model could not be loaded."""

    code = "model_unavailable"


class FileMissing(KBError):
    """A file given to add does not exist (or is not a file)."""

    code = "file_missing"


class DocumentNotFound(KBError):
    """No document has the given id."""

    code = "document_not_found"


class InvalidQuery(KBError):
    """A search request is empty, too long, or has a bad parameter."""

    code = "invalid_query"


class CatalogError(KBError):
    """The catalogue file cannot be read or has a bad entry."""

    code = "catalog_error"


class DatasetError(KBError):
    """An evaluation dataset is missing files or is malformed."""

    code = "dataset_error"


class DuplicateDocument(KBError):
    """A file has the same content as a document already indexed."""

    code = "duplicate_document"

    def __init__(self, path, document_id: int, existing: str, filename: str):
        super().__init__(f"{path}: same content as document {document_id} ({filename}); nothing was added")
        self.document_id = document_id
        self.existing = existing


class InvalidField(KBError):
    """A catalogue field has an unknown name or a value of the wrong kind."""

    code = "invalid_field"


class BenchmarkFailed(KBError):
    """``kb bench --compare`` cannot measure a stack: a library it needs is missing, or a timed process failed."""

    code = "benchmark_failed"


class InvalidSetting(KBError):
    """A setting (a ``KB_*`` environment variable) has a value the indexer cannot use."""

    code = "invalid_setting"
