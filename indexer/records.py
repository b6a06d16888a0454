"""The typed records that flow through the indexer: Section → Passage → Hit.

Extractors produce ``ExtractedText`` made of ``Section`` objects (one page, one
slide or one heading section each); the chunker turns sections into
``Passage`` objects; the store gives them ids and keeps ``Document`` rows; the
searcher returns ``Hit`` objects that join a passage with its document.
``TextRecord`` is text that comes without a file (a record of a BEIR corpus),
indexed as a document of its own.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Location", "Section", "ExtractedText", "TextRecord", "Passage", "Document", "Hit", "SearchResult", "FileReport",
           "IndexReport"]


@dataclass(frozen=True)
class Location:
    """Where a piece of text sits in its file: a page, a slide or a heading section."""

    page: int | None = None
    page_label: str | None = None
    slide: int | None = None
    section: str | None = None
    #: The text was read from an image of the page or slide by OCR (Tesseract).
    ocr: bool = False

    def to_dict(self) -> dict[str, Any]:
        """The location as the API shows it, without empty fields (``"ocr": true`` only when read by OCR)."""
        located: dict[str, Any] = {}
        if self.slide is not None:
            located = {"slide": self.slide}
        elif self.page is not None:
            located = {"page": self.page}
            if self.page_label:
                located["page_label"] = self.page_label
        elif self.section:
            located = {"section": self.section}
        if self.ocr:
            located["ocr"] = True
        return located

    def describe(self) -> str:
        """A short human label such as ``p. 3 (iii)``, ``slide 4`` or a section title (``· read by OCR`` after OCR'd text)."""
        if self.slide is not None:
            where = f"slide {self.slide}"
        elif self.page is not None:
            label = f" ({self.page_label})" if self.page_label and self.page_label != str(self.page) else ""
            where = f"p. {self.page}{label}"
        else:
            where = self.section or ""
        return f"{where} · read by OCR" if self.ocr else where

    @property
    def url_fragment(self) -> str:
        """The fragment that opens a PDF viewer at this page (empty elsewhere)."""
        return f"#page={self.page}" if self.page is not None else ""


@dataclass(frozen=True)
class Section:
    """One unit of extracted text: a page, a slide, or the text under one heading."""

    text: str
    location: Location
    heading: str = ""


@dataclass(frozen=True)
class ExtractedText:
    """Everything an extractor read from one file.

    ``title`` is the file's own (metadata) title as found; ``content_title`` what the
    content shows as its title (a PDF's largest text on page 1). ``pages`` counts pages or
    slides; ``ocr_pages`` and ``empty_pages`` list those read by OCR and those with no text.
    """

    title: str
    format: str
    sections: tuple[Section, ...]
    content_title: str = ""
    pages: int = 0
    ocr_pages: tuple[int, ...] = ()
    empty_pages: tuple[int, ...] = ()


@dataclass(frozen=True)
class TextRecord:
    """Text without a file (one record of a BEIR corpus), indexed as a document by ``KnowledgeBase.index_records``."""

    key: str
    title: str
    text: str

    @property
    def sha256(self) -> str:
        """The content hash the document is stored with (title and text)."""
        return hashlib.sha256(f"{self.title}\n{self.text}".encode()).hexdigest()


@dataclass(frozen=True)
class Passage:
    """A chunk of a section, the unit that is embedded, searched and shown."""

    text: str
    location: Location
    heading: str = ""
    ordinal: int = 0
    char_start: int = 0
    char_end: int = 0
    id: int | None = None
    document_id: int | None = None
    #: ISO 639-1 code of the passage's language ("" when unknown).
    language: str = ""


@dataclass(frozen=True)
class Document:
    """A file in the index, with its catalogue fields."""

    id: int
    path: str
    filename: str
    title: str
    type: str
    format: str
    sha256: str
    size: int
    indexed_at: str
    passage_count: int = 0
    metadata: dict[str, Any] = field(default_factory=dict)
    original: str = ""
    #: ISO 639-1 code detected from the text ("" when unknown); a catalogue ``language`` wins where it is set.
    language: str = ""
    #: A notice the collection repeats on every document's first page, kept out of the passages.
    notice: str = ""


@dataclass(frozen=True)
class Hit:
    """One ranked answer: a passage, its document, its score and the query terms in it."""

    rank: int
    score: float
    passage: Passage
    document: Document
    highlights: tuple[tuple[int, int], ...] = ()
    #: The sentence (or two) of the passage that best answers the question, when it was asked for.
    answer: tuple[int, int] | None = None
    #: Near-duplicate documents (the same text as another format or version), shown once: here.
    also_as: tuple[Document, ...] = ()

    @property
    def where(self) -> str:
        """Where the passage is (``p. 3``, ``slide 4``, a section title), or "" when that only repeats the document title."""
        label = self.passage.location.describe()
        return "" if label == self.document.title else label


@dataclass(frozen=True)
class SearchResult:
    """The answer to one question."""

    query: str
    hits: tuple[Hit, ...]
    took_ms: float
    #: Facet field -> value -> how many candidate documents have it; empty unless the request asked (``facets``).
    facets: dict[str, dict[str, int]] = field(default_factory=dict)
    mode: str = "hybrid"
    grouped: bool = False


@dataclass(frozen=True)
class FileReport:
    """What indexing did with one file, as ``kb index --report`` and ``/admin`` list it.

    ``outcome`` is ``indexed``, ``unchanged``, ``duplicate`` or ``skipped`` (then ``reason`` says why).
    ``pages`` counts pages or slides (sections for other formats); ``ocr_pages`` and ``empty_pages``
    list the pages read by OCR and those left without text.
    """

    path: str
    outcome: str
    title: str = ""
    format: str = ""
    pages: int = 0
    passages: int = 0
    ocr_pages: tuple[int, ...] = ()
    empty_pages: tuple[int, ...] = ()
    language: str = ""
    seconds: float = 0.0
    reason: str = ""
    #: File names of indexed documents whose text is nearly the same (another format or version).
    near_duplicates: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "outcome": self.outcome, "title": self.title, "format": self.format, "pages": self.pages,
                "passages": self.passages, "ocr_pages": list(self.ocr_pages), "empty_pages": list(self.empty_pages),
                "language": self.language, "seconds": round(self.seconds, 3), "reason": self.reason,
                "near_duplicates": list(self.near_duplicates)}


@dataclass
class IndexReport:
    """What one indexing run did, file by file (mutable: filled in as the run goes)."""

    indexed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    duplicates: dict[str, str] = field(default_factory=dict)
    removed: list[str] = field(default_factory=list)
    passages: int = 0
    seconds: float = 0.0
    files: list[FileReport] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The whole run as ``kb index --report FILE`` writes it: a summary and one entry per file."""
        return {"summary": self.summary(), "seconds": round(self.seconds, 3), "passages": self.passages,
                "removed": list(self.removed), "files": [entry.to_dict() for entry in self.files]}

    def summary(self) -> str:
        """One line: how many files were indexed, unchanged, duplicates and skipped."""
        return (
            f"{len(self.indexed)} indexed ({self.passages} passages), {len(self.unchanged)} unchanged, "
            f"{len(self.duplicates)} duplicate, {len(self.skipped)} skipped"
            + (f", {len(self.removed)} removed" if self.removed else "") + f" in {self.seconds:.1f}s"
        )
