"""PDF pages with their physical number and printed page label (pypdf)."""

from __future__ import annotations

import logging
from pathlib import Path

from pypdf import PdfReader, PasswordType
from pypdf.errors import DependencyError, FileNotDecryptedError, PyPdfError

from ..errors import CorruptDocument, EncryptedDocument
from ..normalize import normalize_text, strip_running_lines
from ..records import ExtractedText, Location, Section

__all__ = ["extract_pdf"]

log = logging.getLogger(__name__)
# Damaged files make pypdf log a warning per broken object; the skip reason says enough.
logging.getLogger("pypdf").setLevel(logging.ERROR)


def extract_pdf(path: Path) -> ExtractedText:
    """Read each page's text; open files encrypted with an empty user password.

    Args:
        path: the PDF file.

    Returns:
        One section per page that has text, located by page number and label.

    Raises:
        EncryptedDocument: the PDF needs a password to open.
        CorruptDocument: pypdf cannot parse the file.
    """
    try:
        reader = _open(path)
        pages = [_page_text(reader, number) for number in range(len(reader.pages))]
        labels = _page_labels(reader)
        title = _metadata_title(reader)
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, RecursionError) as error:
        raise CorruptDocument(path, f"unreadable PDF ({type(error).__name__}: {error}); re-export or repair it") from error
    pages = strip_running_lines(pages)
    sections = tuple(
        Section(text=text, location=Location(page=number, page_label=labels.get(number)))
        for number, text in enumerate(pages, start=1)
        if text
    )
    if not title and sections:
        title = sections[0].text.split("\n", 1)[0][:150]
    return ExtractedText(title=title, format="pdf", sections=sections)


def _open(path: Path) -> PdfReader:
    """Open the PDF, decrypting it with the empty password when it is encrypted."""
    reader = PdfReader(path, strict=False)
    if not reader.is_encrypted:
        return reader
    try:
        opened = reader.decrypt("")
    except DependencyError as error:
        raise EncryptedDocument(path, f"encrypted with a cipher that needs the 'cryptography' package ({error})") from error
    except FileNotDecryptedError as error:
        raise EncryptedDocument(path, "password-protected; save an unprotected copy and index that") from error
    if opened == PasswordType.NOT_DECRYPTED:
        raise EncryptedDocument(path, "password-protected; save an unprotected copy and index that")
    return reader


def _page_text(reader: PdfReader, index: int) -> str:
    """The normalised text of one page; a page that fails alone is left empty, not the whole file."""
    try:
        return normalize_text(reader.pages[index].extract_text() or "")
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, ZeroDivisionError) as error:
        log.info("page %d unreadable: %s", index + 1, error)
        return ""


def _page_labels(reader: PdfReader) -> dict[int, str]:
    """Printed page labels that differ from the physical page number, by page number."""
    try:
        labels = list(reader.page_labels)
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, IndexError):
        return {}
    return {number: label for number, label in enumerate(labels, start=1) if label and label != str(number)}


def _metadata_title(reader: PdfReader) -> str:
    """The document title from the PDF's metadata, or an empty string."""
    try:
        metadata = reader.metadata
        title = metadata.title if metadata else None
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError):
        return ""
    return normalize_text(str(title)) if title else ""
