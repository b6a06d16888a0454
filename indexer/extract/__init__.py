"""Turn a file into text with locations: one ``extract(path)`` entry for every format.

The format is decided from the file's content, not only its name, so a PDF
called ``.doc`` is read as a PDF and a binary file called ``.txt`` is refused.
Compressed content is measured before a reader opens the file (``expansion``),
so a compression bomb is refused rather than inflated.
Each format has its own module with one ``extract_<format>(path)`` function,
imported on first use: a process that only searches never loads pypdfium2,
python-docx, python-pptx or BeautifulSoup (about 0.3 s of a worker's start).
"""

from __future__ import annotations

import importlib
import zipfile
from dataclasses import replace
from pathlib import Path
from typing import Callable

from ..errors import CorruptDocument, NoTextFound, UnsupportedFormat
from ..ocr import OcrSettings, tesseract_available
from ..records import ExtractedText
from .expansion import ExpansionLimits, check_expansion
from .titles import choose_title

__all__ = ["extract", "detect_format", "ExpansionLimits", "READER_MODULES", "SUPPORTED_EXTENSIONS", "SUPPORTED_FORMATS"]

# Format -> (module of this package, its function), imported by ``_extractor`` when a file of that format comes.
_EXTRACTORS = {
    "pdf": (".pdf", "extract_pdf"),
    "pptx": (".pptx", "extract_pptx"),
    "docx": (".docx", "extract_docx"),
    "html": (".html", "extract_html"),
    "markdown": (".html", "extract_markdown"),
    "text": (".text", "extract_text"),
}
SUPPORTED_FORMATS = tuple(_EXTRACTORS)
#: Every format's reader module, for a process that loads them all at once (the extraction workers, ``extraction_pool``).
READER_MODULES = tuple(dict.fromkeys(f"{__name__}{module}" for module, _ in _EXTRACTORS.values()))
#: File endings that ``kb index DIR`` picks up when it walks a folder.
SUPPORTED_EXTENSIONS = (".pdf", ".pptx", ".docx", ".html", ".htm", ".md", ".markdown", ".txt", ".doc", ".ppt")
_TEXT_EXTENSIONS = {".md": "markdown", ".markdown": "markdown", ".html": "html", ".htm": "html"}
_OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_SUPPORTED_HINT = "supported types: PDF, PPTX, DOCX, HTML, Markdown and plain text"


def detect_format(path: Path) -> str:
    """Name the format of ``path`` from its first bytes (and, for text, its ending).

    Args:
        path: the file to look at.

    Returns:
        One of ``SUPPORTED_FORMATS``.

    Raises:
        UnsupportedFormat: for legacy Office files and binary files of other types.
    """
    with open(path, "rb") as handle:
        head = handle.read(4096)
    if b"%PDF-" in head[:1024]:
        return "pdf"
    if head.startswith(b"PK\x03\x04"):
        return _office_format(path)
    if head.startswith(_OLE2_MAGIC):
        raise UnsupportedFormat(path, "legacy binary Office file (.doc/.ppt/.xls); save it as .docx or .pptx and index that")
    if b"\x00" in head:
        raise UnsupportedFormat(path, f"binary file of an unknown type; {_SUPPORTED_HINT}")
    if path.suffix.lower() in _TEXT_EXTENSIONS:
        return _TEXT_EXTENSIONS[path.suffix.lower()]
    if head.lstrip()[:15].lower().startswith((b"<!doctype html", b"<html")):
        return "html"
    return "text"


def _office_format(path: Path) -> str:
    """Tell a PPTX from a DOCX by the parts inside the ZIP container."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
    except zipfile.BadZipFile as error:
        raise CorruptDocument(path, f"damaged ZIP container ({error}); re-save the file") from error
    if "ppt/presentation.xml" in names:
        return "pptx"
    if "word/document.xml" in names:
        return "docx"
    raise UnsupportedFormat(path, f"ZIP file that is neither a PPTX nor a DOCX; {_SUPPORTED_HINT}")


def extract(path: str | Path, ocr: OcrSettings | None = None, expansion: ExpansionLimits | None = None) -> ExtractedText:
    """Read a file and return its text, section by section, with locations and a meaningful title.

    Args:
        path: the file to read.
        ocr: how PDF pages without readable text are OCR'd (default: from the environment).
        expansion: how far its compressed content may expand (default: from the environment).

    Returns:
        The title, format and non-empty sections of the file, with page counts for the ingestion report.

    Raises:
        ExtractionError: (or a subclass) naming the file and saying why it cannot be read;
            ``ExpansionTooLarge`` before reading it, when its content would expand past ``expansion``.
    """
    path = Path(path)
    file_format = detect_format(path)
    check_expansion(path, file_format, ExpansionLimits.from_environ() if expansion is None else expansion)
    read = _extractor(file_format)
    if file_format in ("pdf", "pptx"):  # the formats whose pages or slides may be pictures of text
        extracted = read(path, OcrSettings.from_environ() if ocr is None else ocr)
    else:
        extracted = read(path)
    sections = tuple(section for section in extracted.sections if section.text.strip())
    if not sections:
        raise NoTextFound(path, _no_text_reason(extracted, ocr))
    first_heading = next((section.heading for section in sections if section.heading), "")
    title = choose_title(path, extracted.title, extracted.content_title, first_heading)
    return replace(extracted, title=title, sections=sections, pages=extracted.pages or len(sections))


def _extractor(file_format: str) -> Callable[..., ExtractedText]:
    """The ``extract_<format>`` function of a format, its module imported now if it was not yet."""
    module_name, function_name = _EXTRACTORS[file_format]
    return getattr(importlib.import_module(module_name, __name__), function_name)


def _no_text_reason(extracted: ExtractedText, ocr: OcrSettings | None) -> str:
    """Why a file gave no text, and what to do about it."""
    if extracted.format != "pdf" or not extracted.pages:
        return "no extractable text (an empty file, or slides or pages without text)"
    ocr = OcrSettings.from_environ() if ocr is None else ocr
    if not ocr.enabled:
        return "no extractable text (an image-only scan?) and OCR is off; set KB_OCR=1 to read scans"
    if not tesseract_available():
        return "no extractable text (an image-only scan?) and Tesseract is not installed; install tesseract-ocr (make install)"
    return f"no readable text on any of its {extracted.pages} pages, even after OCR ({ocr.languages})"
