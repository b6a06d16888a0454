"""indexer: extract, chunk, embed and store documents; answer questions with cited passages.

Start with ``KnowledgeBase``::

    from indexer import KnowledgeBase

    if __name__ == "__main__":  # files are read in worker processes, which import this script again
        kb = KnowledgeBase("var/kb")
        kb.index(["corpus"])
        for hit in kb.search("How do informal workers join social security in Thailand?").hits:
            print(hit.score, hit.document.title, hit.passage.location.describe())
"""

from .audit import AuditEntry
from .backup import BackupReport, RestoreReport, backup_index, restore_index
from .check import CheckReport, Problem, check_index
from .chunk import ChunkSettings
from .embed import DEFAULT_MODEL, Embedder, load_embedder
from .errors import *  # noqa: F401,F403  (the error classes are part of the public API)
from .errors import __all__ as _error_names
from .extract import SUPPORTED_FORMATS, extract
from .kb import KnowledgeBase, Stats
from .records import Document, ExtractedText, Hit, IndexReport, Location, Passage, SearchResult, Section, TextRecord
from .serialize import document_to_dict, hit_to_dict, result_to_dict

__all__ = [
    "KnowledgeBase", "Stats", "ChunkSettings", "DEFAULT_MODEL", "Embedder", "load_embedder", "extract",
    "SUPPORTED_FORMATS", "Document", "ExtractedText", "Hit", "IndexReport", "Location", "Passage", "SearchResult",
    "Section", "TextRecord", "document_to_dict", "hit_to_dict", "result_to_dict", "backup_index", "restore_index",
    "BackupReport", "RestoreReport", "check_index", "CheckReport", "Problem", "AuditEntry", *_error_names,
]
