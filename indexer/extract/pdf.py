"""PDF pages as paragraphs, with their physical number and printed page label (pypdfium2 + Tesseract).

PDFium was chosen over pypdf by measurement on the real PDFs of
``../shared/documents/real`` (``scripts/compare_pdf_extractors.py``): as few
split words, fewer words broken inside a line, and 15 times faster. It opens
files encrypted with an empty user password by itself. Pages without a text
layer, with a garbage one, or covered by an image with hardly any text are
rendered and read by Tesseract (``indexer.ocr``), when it is installed and OCR is on.
"""

from __future__ import annotations

import ctypes
import logging
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path

import pypdfium2
import pypdfium2.raw as pdfium_c

from ..errors import CorruptDocument, EncryptedDocument
from ..normalize import normalize_text
from ..ocr import OcrQueue, OcrSettings, looks_like_text, tesseract_available
from ..records import ExtractedText, Location, Section
from .pdf_layout import Line, drop_running_lines, hyphenated_words, largest_text, page_lines, paragraphs

__all__ = ["extract_pdf"]

log = logging.getLogger(__name__)
# A page with less text than this and mostly covered by images is a scan with a stray caption.
_SPARSE_CHARS = 100
_IMAGE_COVER = 0.3


@dataclass(frozen=True)
class _Page:
    """One page as read: its lines from the text layer, or paragraphs from OCR (``pending`` while Tesseract reads it);
    ``loaded`` is False for a page PDFium could not load at all."""

    lines: tuple[Line, ...] = ()
    ocr_paragraphs: tuple[str, ...] = ()
    ocr: bool = False
    pending: Future | None = None
    loaded: bool = True


def extract_pdf(path: Path, ocr: OcrSettings | None = None) -> ExtractedText:
    """Read each page's text as paragraphs; OCR pages that have no readable text.

    Args:
        path: the PDF file.
        ocr: OCR settings (default: from the environment, see ``OcrSettings.from_environ``).

    Returns:
        One section per page with text, located by page number, printed label and whether OCR read it.

    Raises:
        EncryptedDocument: the PDF needs a password to open.
        CorruptDocument: PDFium cannot parse the file, or cannot load any of its pages (a page tree that loops).
    """
    ocr = OcrSettings.from_environ() if ocr is None else ocr
    document = _open(path)
    try:
        # PDFium renders the pages one by one (it is not thread-safe); Tesseract reads them meanwhile, one per core.
        with OcrQueue(ocr) as queue:
            pages = [_settled(page) for page in [_read_page(document, index, ocr, queue) for index in range(len(document))]]
        labels = _page_labels(document)
        title = normalize_text(str(document.get_metadata_dict().get("Title") or ""))
    finally:
        document.close()
    if pages and not any(page.loaded for page in pages):
        raise CorruptDocument(path, f"none of its {len(pages)} pages can be loaded: its page tree is broken (it loops "
                                    "back on itself, or points at objects that are no pages); re-export or repair it")
    kept = drop_running_lines([list(page.lines) for page in pages])
    compounds = hyphenated_words(kept)
    texts = [("\n\n".join(page.ocr_paragraphs) if page.ocr else "\n\n".join(paragraphs(lines, compounds)))
             for page, lines in zip(pages, kept)]
    sections = tuple(
        Section(text=text, location=Location(page=number, page_label=labels.get(number), ocr=page.ocr))
        for number, (page, text) in enumerate(zip(pages, texts), start=1) if text
    )
    return ExtractedText(
        title=title, format="pdf", sections=sections, content_title=largest_text(kept[0]) if kept else "",
        pages=len(pages), ocr_pages=tuple(n for n, page in enumerate(pages, 1) if page.ocr),
        empty_pages=tuple(n for n, text in enumerate(texts, 1) if not text),
    )


def _open(path: Path) -> pypdfium2.PdfDocument:
    """Open the PDF (PDFium tries the empty user password itself)."""
    try:
        return pypdfium2.PdfDocument(str(path))
    except pypdfium2.PdfiumError as error:
        if "password" in str(error).lower():
            raise EncryptedDocument(path, "password-protected; save an unprotected copy and index that") from error
        raise CorruptDocument(path, f"unreadable PDF ({error}); re-export or repair it") from error


def _read_page(document: pypdfium2.PdfDocument, index: int, ocr: OcrSettings, queue: OcrQueue) -> _Page:
    """One page's lines, and its image queued for OCR when the text layer is missing or garbage."""
    try:
        page = document[index]
    except pypdfium2.PdfiumError as error:  # PDFium stops at a loop in the page tree: the page it would reach fails
        log.info("page %d cannot be loaded: %s", index + 1, error)
        return _Page(loaded=False)
    try:
        lines = tuple(page_lines(page.get_textpage()))
        text = " ".join(line.text for line in lines)
        if not (ocr.enabled and _needs_ocr(page, text)):
            return _Page(lines=lines)
        if not tesseract_available():
            log.warning("page %d has no readable text and Tesseract is not installed; install tesseract-ocr", index + 1)
            return _Page(lines=lines if looks_like_text(text) else ())
        image = page.render(scale=ocr.dpi / 72, grayscale=True).to_pil()
    except pypdfium2.PdfiumError as error:  # one broken page is left empty, not the whole file
        log.info("page %d unreadable: %s", index + 1, error)
        return _Page()
    finally:
        page.close()
    return _Page(lines=lines, pending=queue.submit(image))


def _settled(page: _Page) -> _Page:
    """The page with its OCR answer in, when that reads better than its text layer."""
    if page.pending is None:
        return page
    read = page.pending.result()
    text = " ".join(line.text for line in page.lines)
    if read is not None and read.paragraphs and looks_like_text(read.text) and len(read.text) > len(text) / 2:
        return _Page(ocr_paragraphs=read.paragraphs, ocr=True)
    return _Page(lines=page.lines if looks_like_text(text) else ())


def _needs_ocr(page: pypdfium2.PdfPage, text: str) -> bool:
    """No text, garbage text, or a little text on a page mostly covered by images."""
    if not text.strip() or not looks_like_text(text):
        return True
    if len(text) >= _SPARSE_CHARS:
        return False
    width, height = page.get_size()
    covered = 0.0
    for image in page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE], max_depth=3):
        left, bottom, right, top = image.get_bounds()
        covered += max(0.0, min(right, width) - max(left, 0.0)) * max(0.0, min(top, height) - max(bottom, 0.0))
    return covered >= _IMAGE_COVER * width * height


def _page_labels(document: pypdfium2.PdfDocument) -> dict[int, str]:
    """Printed page labels that differ from the physical page number, by page number."""
    labels = {}
    for index in range(len(document)):
        size = pdfium_c.FPDF_GetPageLabel(document.raw, index, None, 0)
        if size <= 2:  # no label: just the UTF-16 terminator, or nothing
            continue
        buffer = ctypes.create_string_buffer(size)
        pdfium_c.FPDF_GetPageLabel(document.raw, index, buffer, size)
        label = buffer.raw[: size - 2].decode("utf-16-le", errors="replace").strip()
        if label and label != str(index + 1):
            labels[index + 1] = label
    return labels
