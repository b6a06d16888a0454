"""Turn a file into text with locations: one ``extract(path)`` entry for every format.

The format is decided from the file's content, not only its name, so a PDF
called ``.doc`` is read as a PDF and a binary file called ``.txt`` is refused.
Each format has its own module with one ``extract_<format>(path)`` function.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from ..errors import CorruptDocument, NoTextFound, UnsupportedFormat
from ..records import ExtractedText
from .docx import extract_docx
from .html import extract_html, extract_markdown
from .pdf import extract_pdf
from .pptx import extract_pptx
from .text import extract_text

__all__ = ["extract", "detect_format", "SUPPORTED_EXTENSIONS", "SUPPORTED_FORMATS"]

_EXTRACTORS = {
    "pdf": extract_pdf,
    "pptx": extract_pptx,
    "docx": extract_docx,
    "html": extract_html,
    "markdown": extract_markdown,
    "text": extract_text,
}
SUPPORTED_FORMATS = tuple(_EXTRACTORS)
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


def extract(path: str | Path) -> ExtractedText:
    """Read a file and return its text, section by section, with locations.

    Args:
        path: the file to read.

    Returns:
        The title, format and non-empty sections of the file.

    Raises:
        ExtractionError: (or a subclass) naming the file and saying why it cannot be read.
    """
    path = Path(path)
    extracted = _EXTRACTORS[detect_format(path)](path)
    sections = tuple(section for section in extracted.sections if section.text.strip())
    if not sections:
        raise NoTextFound(path, "no extractable text (an image-only scan or an empty file); OCR it first")
    title = extracted.title.strip() or " ".join(path.stem.replace("_", " ").replace("-", " ").split())
    return ExtractedText(title=title, format=extracted.format, sections=sections)
