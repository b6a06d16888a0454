"""Every failure the indexer reports, under one root so callers can catch them all.

Each error carries a message written for the person who caused it: what went
wrong, which file or field, and what to do next. The CLI prints it; the web app
turns it into ``{"error": {"code", "message"}}`` using ``code``, answered with the HTTP ``status`` declared
beside it (a class without one of its own takes its parent's). Nothing here imports the web app.
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
    "ExpansionTooLarge",
    "ExtractionCrashed",
    "IndexNotBuilt",
    "IndexDamaged",
    "IndexOutdated",
    "IndexReplaced",
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
    "BackupRefused",
    "BackupDamaged",
    "RestoreRefused",
]


class KBError(Exception):
    """Root of every error the knowledge base raises on purpose."""

    code = "kb_error"
    #: The HTTP status the web app answers with; 500 for an error nobody gave one.
    status = 500

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class ExtractionError(KBError):
    """A file could not be turned into text; the file is skipped, the run goes on."""

    code = "extraction_failed"
    status = 422

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
    status = 415


class EncryptedDocument(ExtractionError):
    """The file needs a password to open."""

    code = "encrypted_document"
    status = 422


class CorruptDocument(ExtractionError):
    """The file is damaged or is not what its name says."""

    code = "corrupt_document"
    status = 422


class NoTextFound(ExtractionError):
    """The file opened but holds no text (an image-only scan, an empty deck)."""

    code = "no_text"
    status = 422


class ExtractionTimeout(ExtractionError):
    """Reading the file took longer than a worker may spend on one file (``KB_EXTRACT_SECONDS``)."""

    code = "extraction_timeout"
    status = 413  # too big to read within the time one file may take: the limit, not the server, refused it


class ExtractionOutOfMemory(ExtractionError):
    """Reading the file needed more memory than a worker may use (``KB_EXTRACT_MEMORY_MB``)."""

    code = "extraction_out_of_memory"
    status = 413  # too big to read within the memory one file may use


class ExpansionTooLarge(ExtractionError):
    """The file's compressed content would expand past a limit (``KB_EXTRACT_MAX_EXPANDED_MB``, ``KB_EXTRACT_MAX_PARTS``,
    ``KB_EXTRACT_MAX_RATIO``): a compression bomb, or a file too large to read. Checked before the file is read."""

    code = "expansion_too_large"
    status = 413  # too big to read, as the time and memory limits say: the limit, not the server, refused it


class ExtractionCrashed(ExtractionError):
    """The worker reading the file died (a signal, e.g. a crash in a C library) before it answered."""

    code = "extraction_crashed"
    status = 422  # the file made the reader crash: the file is at fault, and the server answers the next request


class IndexNotBuilt(KBError):
    """The data directory holds no index yet."""

    code = "index_not_built"
    status = 503


class IndexDamaged(KBError):
    """A file of the index directory (its manifest) cannot be read: rebuild the index."""

    code = "index_damaged"
    status = 503  # the service cannot answer until the index is rebuilt


class IndexReplaced(KBError):
    """A change waited for the write lock while ``kb index --rebuild`` or ``kb restore`` put another index in place."""

    code = "index_replaced"
    status = 409  # nothing was changed; the same request, sent again, goes to the new index


class IndexOutdated(KBError):
    """The index was written by a version of the indexer with another index format: rebuild it."""

    code = "index_outdated"
    status = 503


class ModelMismatch(KBError):
    """The index was built with another embedding model than the one asked for."""

    code = "model_mismatch"
    status = 503


class ModelUnavailable(KBError):
    """The embedding model could not be loaded."""

    code = "model_unavailable"
    status = 503


class FileMissing(KBError):
    """A file given to add does not exist (or is not a file)."""

    code = "file_missing"
    status = 404


class DocumentNotFound(KBError):
    """No document has the given id."""

    code = "document_not_found"
    status = 404


class InvalidQuery(KBError):
    """A search request is empty, too long, or has a bad parameter."""

    code = "invalid_query"
    status = 400


class CatalogError(KBError):
    """The catalogue file cannot be read or has a bad entry."""

    code = "catalog_error"
    status = 422  # a malformed catalogue: the fault is in the data given, not in the server


class DatasetError(KBError):
    """An evaluation dataset is missing files or is malformed."""

    code = "dataset_error"
    status = 400


class DuplicateDocument(KBError):
    """A file has the same content as a document already indexed."""

    code = "duplicate_document"
    status = 409

    def __init__(self, path, document_id: int, existing: str, filename: str):
        super().__init__(f"{path}: same content as document {document_id} ({filename}); nothing was added")
        self.document_id = document_id
        self.existing = existing


class InvalidField(KBError):
    """A catalogue field has an unknown name or a value of the wrong kind."""

    code = "invalid_field"
    status = 400


class BenchmarkFailed(KBError):
    """``kb bench --compare`` cannot measure a stack: a library it needs is missing, or a timed process failed."""

    code = "benchmark_failed"
    status = 500  # a measurement the server ran failed, not the request


class InvalidSetting(KBError):
    """A setting (a ``KB_*`` environment variable) has a value the indexer cannot use."""

    code = "invalid_setting"
    status = 500  # the server is misconfigured (a KB_* variable); the message still says which and how to fix it


class BackupRefused(KBError):
    """``kb backup DEST``: DEST already holds something (a backup never writes over anything) or lies inside the index."""

    code = "backup_refused"
    status = 409


class BackupDamaged(KBError):
    """``kb restore SRC``: SRC is not a backup, or fails ``kb check``; nothing was restored."""

    code = "backup_damaged"
    status = 422  # the backup given is at fault, not the server


class RestoreRefused(KBError):
    """``kb restore``: the data directory holds files that are not an index, which a restore would delete."""

    code = "restore_refused"
    status = 409
