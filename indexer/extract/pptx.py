"""PPTX slides: title, body text, tables, grouped shapes, charts and speaker notes (python-pptx)."""

from __future__ import annotations

import zipfile
from pathlib import Path

from lxml.etree import LxmlError
from pptx import Presentation
from pptx.enum.shapes import MSO_SHAPE_TYPE
from pptx.exc import PythonPptxError

from ..errors import CorruptDocument
from ..normalize import normalize_text
from ..records import ExtractedText, Location, Section

__all__ = ["extract_pptx"]


def extract_pptx(path: Path) -> ExtractedText:
    """Read every slide in order, one section per slide, titled by the slide title.

    Args:
        path: the PPTX file.

    Returns:
        One section per slide with text, located by slide number (1-based).

    Raises:
        CorruptDocument: the package is damaged or misses a part.
    """
    try:
        deck = Presentation(str(path))
        sections = tuple(_slide_section(slide, number) for number, slide in enumerate(deck.slides, start=1))
        title = deck.core_properties.title or ""
    except (PythonPptxError, KeyError, ValueError, zipfile.BadZipFile, LxmlError, AttributeError) as error:
        raise CorruptDocument(path, f"damaged PPTX ({type(error).__name__}: {error}); re-save it in PowerPoint or LibreOffice") from error
    if not title and sections:
        title = next((section.heading for section in sections if section.heading), "")
    return ExtractedText(title=normalize_text(title), format="pptx", sections=sections)


def _slide_section(slide, number: int) -> Section:
    """The slide's title, shape texts and notes as one section."""
    title_shape = slide.shapes.title
    title = normalize_text(title_shape.text_frame.text) if title_shape is not None and title_shape.has_text_frame else ""
    lines = [title] if title else []
    for shape in slide.shapes:
        if title_shape is not None and shape.shape_id == title_shape.shape_id:
            continue
        lines.extend(_shape_lines(shape))
    if slide.has_notes_slide and slide.notes_slide.notes_text_frame is not None:
        notes = slide.notes_slide.notes_text_frame.text.strip()
        if notes:
            lines.append(f"Notes: {notes}")
    return Section(text=normalize_text("\n".join(lines)), location=Location(slide=number), heading=title)


def _shape_lines(shape) -> list[str]:
    """The text lines of one shape, looking inside groups, tables and charts."""
    if shape.shape_type == MSO_SHAPE_TYPE.GROUP:
        return [line for inner in shape.shapes for line in _shape_lines(inner)]
    if getattr(shape, "has_table", False) and shape.has_table:
        return [" | ".join(cell.text.strip() for cell in row.cells) for row in shape.table.rows]
    if getattr(shape, "has_chart", False) and shape.has_chart:
        return _chart_lines(shape.chart)
    if shape.has_text_frame:
        return [paragraph.text for paragraph in shape.text_frame.paragraphs if paragraph.text.strip()]
    return []


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
