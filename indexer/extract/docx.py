"""DOCX files split by heading, plus their headers, footers, notes, comments and text boxes.

python-docx reads the body. A table it cannot lay out (an irregular grid) is read
from its XML, and a document it cannot open at all is read from
``word/document.xml`` directly (lxml). Text python-docx does not expose — text
boxes, headers, footers, footnotes, endnotes, comments — is read from the XML
parts, one section per kind, named after it ("Header", "Footnotes", ...).
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path

import docx
from docx.document import Document
from docx.opc.exceptions import PackageNotFoundError
from docx.table import Table, _Row
from docx.text.paragraph import Paragraph
from lxml.etree import LxmlError, _Element

from ..errors import CorruptDocument
from ..normalize import normalize_text
from ..records import ExtractedText, Location, Section
from .ooxml import CONTAINER_ERRORS, TableCell, core_title, nested_table_text, read_part, related_parts, table_lines
from .titles import readable_file_name

__all__ = ["extract_docx"]

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_P, _R, _T, _TAB, _BR, _CR = (f"{_W}{tag}" for tag in ("p", "r", "t", "tab", "br", "cr"))
_TBL, _TR, _TC, _VAL, _TEXT_BOX = f"{_W}tbl", f"{_W}tr", f"{_W}tc", f"{_W}val", f"{_W}txbxContent"
# Word keeps a second copy of each text box for older readers under mc:Fallback.
_FALLBACK = "{http://schemas.openxmlformats.org/markup-compatibility/2006}Fallback"
_MAIN = "word/document.xml"
#: (section name, relationship kind) of the parts indexed after the body, in this order.
_PARTS = (("Header", "header"), ("Footer", "footer"), ("Footnotes", "footnotes"), ("Endnotes", "endnotes"),
          ("Comments", "comments"))
# What python-docx raises on a package, a part or an element it cannot make sense of.
_DOCX_ERRORS = (PackageNotFoundError, KeyError, ValueError, IndexError, AttributeError, TypeError, LxmlError,
                *CONTAINER_ERRORS)

# An item of a body: the heading it starts ("" for none) and its lines.
_Item = tuple[str, list[str]]


def extract_docx(path: Path) -> ExtractedText:
    """Read the body in order, starting a new section at every heading, then the other parts.

    Args:
        path: the DOCX file.

    Returns:
        One section per heading (text before the first heading forms its own section),
        located by its heading text, then one section each for text boxes, headers,
        footers, footnotes, endnotes and comments that hold text.

    Raises:
        CorruptDocument: the file is not a readable ZIP, or its main part is missing or not XML.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            title, body, root = _read_body(path, archive)
            sections = body + _part_sections(archive, root)
    except CONTAINER_ERRORS as error:
        raise _damaged(path, error) from error
    # The title comes from the body's headings, never from the "Header" or "Comments" sections after it.
    first_heading = next((section.heading for section in body if section.heading), "")
    return ExtractedText(title=normalize_text(title), format="docx", sections=sections,
                         content_title=first_heading or readable_file_name(path))


def _read_body(path: Path, archive: zipfile.ZipFile) -> tuple[str, tuple[Section, ...], _Element]:
    """The title, the body sections and the main part's root: python-docx first, raw XML when it fails."""
    try:
        document = docx.Document(str(path))
        return document.core_properties.title or "", _sections(_docx_items(document)), document.element
    except _DOCX_ERRORS as error:
        root = read_part(archive, _MAIN)
        if root is None:
            raise _damaged(path, error) from error
        return core_title(archive), _sections(_xml_items(root)), root


def _damaged(path: Path, error: Exception) -> CorruptDocument:
    """The refusal of a file that is no readable DOCX, naming what failed."""
    return CorruptDocument(path, f"damaged DOCX ({type(error).__name__}: {error}); re-save it in Word or LibreOffice")


def _sections(items: Iterable[_Item]) -> tuple[Section, ...]:
    """Group the body's lines under the heading that precedes them."""
    sections: list[Section] = []
    heading, lines = "", []
    for item_heading, item_lines in items:
        if item_heading:
            sections.append(_section(heading, lines))
            heading, lines = item_heading, []
        lines.extend(line for line in item_lines if line.strip())
    sections.append(_section(heading, lines))
    return tuple(section for section in sections if section.text)


def _section(heading: str, lines: list[str]) -> Section:
    """A section of the lines, located by its heading (the body's, or a part name such as "Header")."""
    return Section(text=normalize_text("\n".join(lines)), location=Location(section=heading or None), heading=heading)


# -- the body through python-docx --------------------------------------------------


def _docx_items(document: Document) -> Iterator[_Item]:
    """Each body paragraph (with its heading text if it is one) and each table as its row lines."""
    for block in document.iter_inner_content():
        if isinstance(block, Table):
            yield "", _table_lines(block)
        else:
            yield (normalize_text(block.text) if _is_heading(block) else ""), [block.text]


def _is_heading(paragraph) -> bool:
    """True for Heading n and Title paragraphs (a file with no styles part has none)."""
    try:
        style = paragraph.style.name if paragraph.style is not None else ""
    except (KeyError, ValueError):
        return False
    return bool(paragraph.text.strip()) and (style.startswith("Heading") or style == "Title")


def _table_lines(table: Table) -> list[str]:
    """One labelled line per row; a table python-docx cannot lay out is read from its XML."""
    try:
        rows = [_docx_row(row) for row in table.rows]
    except (ValueError, IndexError):  # e.g. "no `tc` element at grid_offset=1": a w:vMerge under a w:gridSpan
        rows = _xml_rows(table._tbl)
    return table_lines(rows)


def _docx_row(row: _Row) -> list[TableCell]:
    """A row's cells with their spans (python-docx repeats a merged cell once per grid column)."""
    cells = [TableCell("", row.grid_cols_before)] if row.grid_cols_before else []
    previous = None
    for cell in row.cells:
        if cell._tc is previous:
            cells[-1] = TableCell(cells[-1].text, cells[-1].colspan + 1)
        else:
            cells.append(TableCell(" ".join(_cell_parts(cell.iter_inner_content()))))
        previous = cell._tc
    return cells


def _cell_parts(blocks) -> Iterator[str]:
    """The texts of a cell's paragraphs (python-docx or XML) and of the tables nested in it."""
    for block in blocks:
        if isinstance(block, Table):
            yield nested_table_text(_table_lines(block))
        elif isinstance(block, list):
            yield nested_table_text(block)
        elif isinstance(block, Paragraph):
            yield block.text
        else:
            yield _xml_text(block)


# -- the raw XML: fallback body, irregular tables, text boxes and other parts ---------------


def _xml_items(root) -> Iterator[_Item]:
    """Each paragraph of ``w:body`` (a heading when its ``w:pStyle`` is Heading… or Title…) and each table."""
    body = root.find(f"{_W}body")
    for block in _xml_blocks(body if body is not None else root):
        if isinstance(block, list):
            yield "", block
        else:
            text = _xml_text(block)
            style = block.find(f"{_W}pPr/{_W}pStyle")
            is_heading = style is not None and style.get(_VAL, "").lower().startswith(("heading", "title"))
            yield (normalize_text(text) if is_heading else ""), [text]


def _xml_blocks(container) -> Iterator:
    """The ``w:p`` elements and the tables (as row lines) of a story in reading order, inside content controls too."""
    for child in container:
        if child.tag == _P:
            yield child
        elif child.tag == _TBL:
            yield table_lines(_xml_rows(child))
        elif isinstance(child.tag, str) and child.tag != _FALLBACK:  # w:sdt, w:footnote, w:comment ... (not XML comments)
            yield from _xml_blocks(child)


def _xml_text(paragraph) -> str:
    """A paragraph's own text (runs, tabs, breaks), without the text boxes anchored in it."""
    parts = []
    for node in paragraph.iter(_T, _TAB, _BR, _CR):
        if node.getparent().tag == _R and next(node.iterancestors(_P), None) is paragraph:
            parts.append((node.text or "") if node.tag == _T else " ")
    return "".join(parts)


def _xml_rows(table) -> list[list[TableCell]]:
    """The cells of a ``w:tbl`` from its XML: ``w:gridBefore``, ``w:gridSpan`` and ``w:vMerge`` continuations."""
    rows = []
    for tr in table.findall(_TR):
        before = _number(tr.find(f"{_W}trPr/{_W}gridBefore"))
        cells = [TableCell("", before)] if before else []
        for tc in tr.findall(_TC):
            merge = tc.find(f"{_W}tcPr/{_W}vMerge")
            continued = merge is not None and merge.get(_VAL, "continue") == "continue"
            text = None if continued else " ".join(_cell_parts(_xml_blocks(tc)))
            cells.append(TableCell(text, _number(tc.find(f"{_W}tcPr/{_W}gridSpan")) or 1))
        rows.append(cells)
    return rows


def _number(element) -> int:
    """The ``w:val`` of a count element such as ``w:gridSpan`` (0 when absent or not a number)."""
    try:
        return int(element.get(_VAL)) if element is not None else 0
    except (TypeError, ValueError):
        return 0


def _xml_lines(container) -> list[str]:
    """The paragraph texts and table rows of a story, one per line."""
    return [line for block in _xml_blocks(container) for line in (block if isinstance(block, list) else [_xml_text(block)])]


def _text_box_lines(root) -> list[str]:
    """The text of every text box of a part, once (the older-reader copy under ``mc:Fallback`` is skipped)."""
    boxes = (box for box in root.iter(_TEXT_BOX) if not any(up.tag == _FALLBACK for up in box.iterancestors()))
    return [line for box in boxes for line in _xml_lines(box)]


def _part_sections(archive: zipfile.ZipFile, root) -> tuple[Section, ...]:
    """The body's text boxes, then headers, footers, footnotes, endnotes and comments: one section each."""
    sections = [_section("Text boxes", _text_box_lines(root))]
    for name, kind in _PARTS:
        stories = [read_part(archive, part) for part in related_parts(archive, _MAIN, kind).values()]
        lines = [line for story in stories if story is not None for line in _xml_lines(story) + _text_box_lines(story)]
        if name in ("Header", "Footer"):  # every section of a document may repeat the same header
            lines = list(dict.fromkeys(" ".join(line.split()) for line in lines))
        sections.append(_section(name, lines))
    return tuple(section for section in sections if section.text)
