"""PPTX slides: title, body text, tables, grouped shapes, charts and speaker notes (python-pptx, lxml).

python-pptx reads each slide; a slide it cannot read (a shape pointing at a
missing part, ...) is read from its XML instead, and so is every slide of a deck
python-pptx cannot open: the ``a:t`` text of ``ppt/slides/slideN.xml`` in the
order of ``p:sldIdLst``, one section per slide numbered from 1. A slide that is
only a picture (a scanned or exported page) is read by OCR when OCR is on.
"""

from __future__ import annotations

import io
import logging
import zipfile
from pathlib import Path

from lxml.etree import LxmlError, _Element
from pptx import Presentation
from pptx.enum.shapes import MSO_SHAPE_TYPE
from pptx.exc import PythonPptxError

from ..errors import CorruptDocument, NoTextFound
from ..normalize import normalize_text
from ..ocr import OcrSettings, ocr_image, tesseract_available
from ..records import ExtractedText, Location, Section
from .ooxml import CONTAINER_ERRORS, TableCell, core_title, read_part, related_parts, span_count, table_lines

__all__ = ["extract_pptx"]

_A = "{http://schemas.openxmlformats.org/drawingml/2006/main}"
_P = "{http://schemas.openxmlformats.org/presentationml/2006/main}"
_R_ID = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"
_MAIN = "ppt/presentation.xml"
# Pictures smaller than this (logos, icons) hold no text worth reading.
_MIN_PICTURE_PIXELS = 200 * 200
log = logging.getLogger(__name__)
_TITLE_PLACEHOLDERS = ("title", "ctrTitle")
# What python-pptx raises on a package, a part or a shape it cannot make sense of.
_PPTX_ERRORS = (PythonPptxError, KeyError, ValueError, IndexError, AttributeError, TypeError, NotImplementedError,
                LxmlError, *CONTAINER_ERRORS)


def extract_pptx(path: Path, ocr: OcrSettings | None = None) -> ExtractedText:
    """Read every slide in order, one section per slide, titled by the slide title.

    Args:
        path: the PPTX file.
        ocr: how slides that are only pictures are read (default: from the environment).

    Returns:
        One section per slide with text, located by slide number (1-based).

    Raises:
        CorruptDocument: the file is not a readable ZIP, or python-pptx fails and
            ``ppt/presentation.xml`` is not XML.
        NoTextFound: the deck has no slides.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            title, sections = _read_deck(path, archive, OcrSettings.from_environ() if ocr is None else ocr)
    except CONTAINER_ERRORS as error:
        raise _damaged(path, f"{type(error).__name__}: {error}") from error
    if not sections:
        raise NoTextFound(path, "the deck has no slides")
    first_title = next((section.heading for section in sections if section.heading), "")
    return ExtractedText(title=normalize_text(title), format="pptx", sections=sections, content_title=first_title,
                         pages=len(sections), ocr_pages=tuple(n for n, section in enumerate(sections, 1) if section.location.ocr))


def _damaged(path, what: str) -> CorruptDocument:
    """The refusal of a file that is no readable PPTX, naming what failed."""
    return CorruptDocument(path, f"damaged PPTX ({what}); re-save it in PowerPoint or LibreOffice")


def _read_deck(path: Path, archive: zipfile.ZipFile, ocr: OcrSettings) -> tuple[str, tuple[Section, ...]]:
    """The deck title and one section per slide (empty for a slide without text): python-pptx, else raw XML."""
    try:
        deck = Presentation(str(path))
        slides = list(deck.slides)
        title = deck.core_properties.title or ""
    except _PPTX_ERRORS:
        parts = _slide_parts(archive)
        return core_title(archive), tuple(_xml_slide(archive, part, number) for number, part in enumerate(parts, start=1))
    return title, tuple(_slide(archive, slide, number, ocr) for number, slide in enumerate(slides, start=1))


def _slide(archive: zipfile.ZipFile, slide, number: int, ocr: OcrSettings) -> Section:
    """One slide through python-pptx, or from its XML when python-pptx fails on one of its shapes."""
    try:
        return _slide_section(slide, number, ocr)
    except _PPTX_ERRORS:
        return _xml_slide(archive, str(slide.part.partname).lstrip("/"), number)


def _slide_section(slide, number: int, ocr: OcrSettings) -> Section:
    """The slide's title, shape texts and notes as one section; a slide with no other text has its pictures OCR'd."""
    title_shape = slide.shapes.title
    title = normalize_text(title_shape.text_frame.text) if title_shape is not None and title_shape.has_text_frame else ""
    lines = [title] if title else []
    for shape in slide.shapes:
        if title_shape is not None and shape.shape_id == title_shape.shape_id:
            continue
        lines.extend(_shape_lines(shape))
    read_by_ocr = False
    if not any(line.strip() for line in lines[1 if title else 0:]) and ocr.enabled:
        pictures = _picture_text(slide.shapes, ocr)
        read_by_ocr = bool(pictures)
        lines.extend(pictures)
    if slide.has_notes_slide and slide.notes_slide.notes_text_frame is not None:
        lines.append(_notes_line(slide.notes_slide.notes_text_frame.text))
    return _section(lines, number, title, read_by_ocr)


def _picture_text(shapes, ocr: OcrSettings) -> list[str]:
    """The paragraphs Tesseract reads in a slide's pictures (inside groups too), largest picture first."""
    pictures = [shape for shape in _flatten(shapes) if shape.shape_type == MSO_SHAPE_TYPE.PICTURE]
    if not pictures or not tesseract_available():
        return []
    from PIL import Image, UnidentifiedImageError  # only slides that are pictures pay for the import

    paragraphs: list[str] = []
    for picture in sorted(pictures, key=lambda shape: -(shape.width or 0) * (shape.height or 0)):
        try:
            image = Image.open(io.BytesIO(picture.image.blob))
            image.load()
        except (UnidentifiedImageError, OSError, ValueError, KeyError, Image.DecompressionBombError) as error:
            log.info("picture not read: %s", error)  # EMF/WMF, a missing part, a picture of over 179 million pixels
            continue
        if image.width * image.height >= _MIN_PICTURE_PIXELS:
            read = ocr_image(image.convert("RGB"), ocr)
            paragraphs.extend(read.paragraphs if read else ())
    return paragraphs


def _flatten(shapes) -> list:
    """Every shape, with the shapes inside groups in place of the groups."""
    return [inner for shape in shapes
            for inner in (_flatten(shape.shapes) if shape.shape_type == MSO_SHAPE_TYPE.GROUP else [shape])]


def _section(lines: list[str], number: int, title: str, read_by_ocr: bool = False) -> Section:
    """One slide's non-empty lines as a section located by the slide number."""
    return Section(text=normalize_text("\n".join(line for line in lines if line.strip())),
                   location=Location(slide=number, ocr=read_by_ocr), heading=title)


def _notes_line(notes: str) -> str:
    """Speaker notes as one block marked as such ("" when there are none)."""
    return f"Notes: {notes.strip()}" if notes.strip() else ""


def _shape_lines(shape) -> list[str]:
    """The text lines of one shape, looking inside groups, tables and charts."""
    if shape.shape_type == MSO_SHAPE_TYPE.GROUP:
        return [line for inner in shape.shapes for line in _shape_lines(inner)]
    if getattr(shape, "has_table", False) and shape.has_table:
        return table_lines(_table_rows(shape.table))
    if getattr(shape, "has_chart", False) and shape.has_chart:
        return _chart_lines(shape.chart)
    if shape.has_text_frame:
        return [paragraph.text for paragraph in shape.text_frame.paragraphs if paragraph.text.strip()]
    return []


def _table_rows(table) -> list[list[TableCell]]:
    """A table's cells with their spans; the cells a merged cell covers are left out."""
    return [
        [TableCell(cell.text, cell.span_width, cell.span_height) for cell in row.cells if not cell.is_spanned]
        for row in table.rows
    ]


def _chart_lines(chart) -> list[str]:
    """A chart's title, categories and series names: the text a reader sees on it."""
    lines = []
    if chart.has_title and chart.chart_title.has_text_frame:
        lines.append(chart.chart_title.text_frame.text)
    try:
        for plot in chart.plots:
            lines.append(", ".join(str(category) for category in plot.categories if str(category).strip()))
            lines.extend(series.name for series in plot.series if series.name)
    except NotImplementedError:  # python-pptx cannot read every chart type (3-D area, ...)
        pass
    return [line for line in lines if line]


# -- the raw XML, when python-pptx fails -------------------------------------------------


def _slide_parts(archive: zipfile.ZipFile) -> list[str]:
    """The slide part names in presentation order: ``p:sldIdLst`` resolved through the relationships."""
    presentation = read_part(archive, _MAIN)
    if presentation is None:
        raise _damaged(archive.filename, f"{_MAIN} is missing or not XML")
    targets = related_parts(archive, _MAIN, "slide")
    return [targets.get(entry.get(_R_ID, ""), "") for entry in presentation.iterfind(f"{_P}sldIdLst/{_P}sldId")]


def _xml_slide(archive: zipfile.ZipFile, part: str, number: int) -> Section:
    """A slide read from its XML: the title placeholder, every other paragraph and table, then the notes."""
    root = read_part(archive, part)
    if root is None:  # a missing or broken slide keeps its number, without text
        return _section([], number, "")
    title_shape = next((shape for shape in root.iter(f"{_P}sp") if _placeholder(shape) in _TITLE_PLACEHOLDERS), None)
    title = normalize_text(" ".join(_a_lines(title_shape))) if title_shape is not None else ""
    lines = [title]
    for element in root.iter(f"{_A}p", f"{_A}tbl"):
        if element.tag == f"{_A}tbl":
            lines.extend(table_lines(_xml_rows(element)))
        elif not any(up is title_shape or up.tag == f"{_A}tbl" for up in element.iterancestors()):
            lines.append(_a_text(element))
    lines.append(_notes_line("\n".join(_xml_notes(archive, part))))
    return _section(lines, number, title)


def _placeholder(shape: _Element) -> str:
    """The placeholder type of a ``p:sp`` ("" for a shape that is no placeholder)."""
    placeholder = shape.find(f"{_P}nvSpPr/{_P}nvPr/{_P}ph")
    return "" if placeholder is None else placeholder.get("type", "obj")


def _a_text(paragraph: _Element) -> str:
    """An ``a:p`` paragraph's text; a line break becomes a space."""
    return "".join((node.text or "") if node.tag == f"{_A}t" else " " for node in paragraph.iter(f"{_A}t", f"{_A}br"))


def _a_lines(element: _Element) -> list[str]:
    """The text of each ``a:p`` paragraph inside ``element``."""
    return [_a_text(paragraph) for paragraph in element.iter(f"{_A}p")]


def _xml_rows(table: _Element) -> list[list[TableCell]]:
    """A DrawingML table's cells with their spans; the cells a merge covers (``hMerge``, ``vMerge``) are left out."""
    return [
        [TableCell(" ".join(_a_lines(cell)), span_count(cell.get("gridSpan")), span_count(cell.get("rowSpan")))
         for cell in row.findall(f"{_A}tc") if not ({cell.get("hMerge"), cell.get("vMerge")} & {"1", "true"})]
        for row in table.findall(f"{_A}tr")
    ]


def _xml_notes(archive: zipfile.ZipFile, part: str) -> list[str]:
    """The lines of the slide's speaker notes: the body placeholder of its notes slide."""
    for notes_part in related_parts(archive, part, "notesSlide").values():
        notes = read_part(archive, notes_part)
        shapes = notes.iter(f"{_P}sp") if notes is not None else ()
        body = next((shape for shape in shapes if _placeholder(shape) == "body"), None)
        if body is not None:
            return _a_lines(body)
    return []
