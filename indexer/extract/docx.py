"""DOCX files split by heading: paragraphs and tables under each heading (python-docx)."""

from __future__ import annotations

import zipfile
from pathlib import Path

import docx
from docx.opc.exceptions import PackageNotFoundError
from docx.table import Table
from lxml.etree import LxmlError

from ..errors import CorruptDocument
from ..normalize import normalize_text
from ..records import ExtractedText, Location, Section

__all__ = ["extract_docx"]


def extract_docx(path: Path) -> ExtractedText:
    """Read the body in order and start a new section at every heading.

    Args:
        path: the DOCX file.

    Returns:
        One section per heading (text before the first heading forms its own section),
        located by its heading text.

    Raises:
        CorruptDocument: the package cannot be opened.
    """
    try:
        document = docx.Document(str(path))
        blocks = list(document.iter_inner_content())
        title = document.core_properties.title or ""
        sections = _sections(blocks)
    except (PackageNotFoundError, KeyError, ValueError, zipfile.BadZipFile, LxmlError) as error:
        raise CorruptDocument(path, f"damaged DOCX ({type(error).__name__}: {error}); re-save it in Word or LibreOffice") from error
    if not title:
        title = next((section.heading for section in sections if section.heading), "")
    return ExtractedText(title=normalize_text(title), format="docx", sections=sections)


def _sections(blocks) -> tuple[Section, ...]:
    """Group paragraphs and tables under the heading that precedes them."""
    sections: list[Section] = []
    heading, lines = "", []
    for block in blocks:
        if isinstance(block, Table):
            lines.extend(_table_lines(block))
        elif _is_heading(block):
            sections.append(_section(heading, lines))
            heading, lines = normalize_text(block.text), [block.text]
        elif block.text.strip():
            lines.append(block.text)
    sections.append(_section(heading, lines))
    return tuple(section for section in sections if section.text)


def _section(heading: str, lines: list[str]) -> Section:
    return Section(text=normalize_text("\n".join(lines)), location=Location(section=heading or None), heading=heading)


def _is_heading(paragraph) -> bool:
    """True for Heading n and Title paragraphs (a file with no styles part has none)."""
    try:
        style = paragraph.style.name if paragraph.style is not None else ""
    except (KeyError, ValueError):
        return False
    return bool(paragraph.text.strip()) and (style.startswith("Heading") or style == "Title")


def _table_lines(table: Table) -> list[str]:
    """One line per row, cells joined by `` | ``; merged cells are listed once."""
    lines = []
    for row in table.rows:
        cells: list[str] = []
        for cell in row.cells:
            text = " ".join(cell.text.split())
            if text and (not cells or cells[-1] != text):
                cells.append(text)
        if cells:
            lines.append(" | ".join(cells))
    return lines
