"""Raw-XML helpers shared by the DOCX and PPTX readers, and table rows written as labelled lines.

python-docx and python-pptx refuse some files that Word and PowerPoint open
(an irregular table, a missing part). The readers then fall back to the XML in
the ZIP container, which these helpers parse and navigate: the parts a part
points to, the core title. ``table_lines`` turns a table of any format (DOCX,
PPTX, HTML) into one line per row that names each value by its column header.
"""

from __future__ import annotations

import posixpath
import zipfile
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

from lxml import etree

__all__ = ["TableCell", "table_lines", "nested_table_text", "span_count", "parse_xml", "read_part", "related_parts",
           "core_title", "CELL_SEPARATOR", "CONTAINER_ERRORS"]

#: Between the values of one table row.
CELL_SEPARATOR = " · "
_PACKAGE_RELS = "{http://schemas.openxmlformats.org/package/2006/relationships}"
_DC_TITLE = "{http://purl.org/dc/elements/1.1/}title"
#: What reading a damaged ZIP container raises (bad header, bad compressed data, an encrypted member).
CONTAINER_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError)
# No entity expansion and no network access: the XML comes from files people upload.
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
# Marks a grid position no cell has filled yet.
_FREE = object()
# The widest and tallest spans honoured: a bogus span of millions must not allocate millions of cells.
_MAX_SPAN, _MAX_ROWSPAN = 100, 1000


@dataclass(frozen=True)
class TableCell:
    """One cell as a table stores it: its text and how many grid columns and rows it covers.

    ``text`` is None for a cell that continues the vertically merged cell above it
    (DOCX ``w:vMerge``): it takes that cell's text.
    """

    text: str | None
    colspan: int = 1
    rowspan: int = 1


def parse_xml(blob: bytes) -> etree._Element:
    """Parse one XML part of an Office file safely.

    Args:
        blob: the part's bytes.

    Returns:
        The root element.

    Raises:
        lxml.etree.XMLSyntaxError: the part is not well-formed XML.
    """
    return etree.fromstring(blob, _PARSER)


def read_part(archive: zipfile.ZipFile, part: str) -> etree._Element | None:
    """Parse one part of the package, or None when it is missing or not well-formed XML.

    Args:
        archive: the open Office file.
        part: the part name, e.g. ``ppt/slides/slide1.xml``.

    Returns:
        The root element, or None: a damaged secondary part costs its own text, not the file's.
    """
    try:
        return parse_xml(archive.read(part))
    except (KeyError, etree.LxmlError, *CONTAINER_ERRORS):
        return None


def related_parts(archive: zipfile.ZipFile, part: str, kind: str) -> dict[str, str]:
    """The parts that ``part`` points to with relationships of one kind, in the order listed.

    Args:
        archive: the open Office file.
        part: a part name such as ``word/document.xml``.
        kind: the last segment of the relationship type (``header``, ``slide``, ``notesSlide``),
            so the transitional and the strict OOXML URIs both match.

    Returns:
        ``{relationship id: part name}`` of the targets inside the package, in order (a target may be
        missing from the ZIP: callers check).
    """
    folder, name = posixpath.split(part)
    rels = read_part(archive, posixpath.join(folder, "_rels", f"{name}.rels"))
    if rels is None:
        return {}
    targets: dict[str, str] = {}
    for rel in rels.iter(f"{_PACKAGE_RELS}Relationship"):
        if rel.get("TargetMode") == "External" or rel.get("Type", "").rsplit("/", 1)[-1] != kind:
            continue
        target = rel.get("Target", "")
        resolved = target.lstrip("/") if target.startswith("/") else posixpath.normpath(posixpath.join(folder, target))
        targets[rel.get("Id", "")] = resolved
    return targets


def core_title(archive: zipfile.ZipFile) -> str:
    """The document title from ``docProps/core.xml`` ("" when there is none or it is unreadable)."""
    core = read_part(archive, "docProps/core.xml")
    title = core.find(_DC_TITLE) if core is not None else None
    return (title.text or "") if title is not None else ""


def table_lines(rows: Sequence[Sequence[TableCell]], header: int = 0) -> list[str]:
    """Write a table as one line per row, each value named by its column header.

    ``Country: Thailand · Scheme: Section 40``. The header is row ``header`` (the first row
    unless an HTML table marks another with ``<th>``) when at least two rows hold text; a
    one-row table, or one whose header row is mostly empty, is written as its cells joined
    with `` · ``. A first row that is one cell across the whole table is a caption, written
    as it is; a header row with merged cells takes the row under it as sub-headers
    (``Contribution / Employer: 5%``). A horizontally merged cell is listed once; a vertically
    merged one is repeated on every row it covers, so each line stands on its own. Empty
    cells are left out. The header row itself is written only when a column header names
    no value, so that no text is lost.

    Args:
        rows: the cells of each row, left to right, as the table stores them.
        header: the index of the header row; rows above it are written as they are.

    Returns:
        The non-empty lines, top to bottom.
    """
    grid = _grid(rows)
    lines = [_plain(row) for row in grid[:header]]
    body = [row for row in grid[header:] if _values(row)]
    if len(body) > 2 and _spans_all(body[0]):
        lines.append(_plain(body.pop(0)))
    if len(body) < 2 or not _is_header(body[0]):
        return _distinct(lines + [_plain(row) for row in body])
    heads = body[:2] if len(body) > 2 and None in body[0] and _is_header(body[1]) else body[:1]
    labels, data = _labels(heads), body[len(heads):]
    if not _names_all_values(labels, data):
        lines.extend(_plain(row) for row in heads)
    return _distinct(lines + [_labelled(row, labels) for row in data])


def _distinct(lines: list[str]) -> list[str]:
    """The non-empty lines, less a line equal to the one before (a vertically merged cell alone on its rows)."""
    return [line for number, line in enumerate(lines) if line and (number == 0 or line != lines[number - 1])]


def _grid(rows: Sequence[Sequence[TableCell]]) -> list[list[str | None]]:
    """Lay the cells on the table's grid: "" where nothing is, None right of a cell's first column."""
    grid: list[list] = [[] for _ in rows]
    for r, cells in enumerate(rows):
        column = 0
        for cell in cells:
            while column < len(grid[r]) and grid[r][column] is not _FREE:  # taken by a cell from a row above
                column += 1
            text = " ".join((cell.text if cell.text is not None else _above(grid, r, column)).split())
            colspan = min(max(cell.colspan, 1), _MAX_SPAN)
            for down in range(min(max(cell.rowspan, 1), _MAX_ROWSPAN, len(rows) - r)):
                for across in range(colspan):
                    _put(grid[r + down], column + across, text if across == 0 else None)
            column += colspan
    return [["" if value is _FREE else value for value in row] for row in grid]


def _above(grid: list[list], r: int, column: int) -> str:
    """The text of the cell above, which a vertically merged cell continues."""
    value = grid[r - 1][column] if r > 0 and column < len(grid[r - 1]) else ""
    return value if isinstance(value, str) else ""


def _put(row: list, column: int, value: str | None) -> None:
    """Fill one free grid position; a position already taken keeps its first cell."""
    row.extend([_FREE] * (column + 1 - len(row)))
    if row[column] is _FREE:
        row[column] = value


def _values(row: list[str | None]) -> list[str]:
    """The row's non-empty texts, left to right."""
    return [value for value in row if value]


def _plain(row: list[str | None]) -> str:
    """A row as its non-empty cells joined by the separator, without headers."""
    return CELL_SEPARATOR.join(_values(row))


def _spans_all(row: list[str | None]) -> bool:
    """True for a row that is one cell across a table of several columns (a caption or a group title)."""
    return len(row) > 1 and bool(row[0]) and all(value is None for value in row[1:])


def _is_header(row: list[str | None]) -> bool:
    """A header names at least half of its cells; a mostly empty first row is data."""
    cells = [value for value in row if value is not None]
    return 2 * len(_values(row)) >= len(cells)


def _labels(heads: list[list[str | None]]) -> list[tuple[str, ...]]:
    """The header texts of every grid column, top header first; a merged header cell heads each column it covers."""
    per_row = []
    for head in heads:
        labels, last = [], ""
        for value in head:
            last = last if value is None else value
            labels.append(last)
        per_row.append(labels)
    width = max(len(labels) for labels in per_row)
    return [tuple(dict.fromkeys(labels[c] for labels in per_row if c < len(labels) and labels[c])) for c in range(width)]


def _named(row: list[str | None], labels: list[tuple[str, ...]]) -> list[tuple[tuple[str, ...], str]]:
    """(headers, value) of each value of a data row: the headers of every column the value covers.

    A header cell merged down into the row (its value is one of its own headers) is no value.
    """
    pairs = []
    for column, value in enumerate(row):
        end = column + 1
        while end < len(row) and row[end] is None:
            end += 1
        headers = tuple(dict.fromkeys(part for label in labels[column:end] for part in label))
        if value and value not in headers:
            pairs.append((headers, value))
    return pairs


def _labelled(row: list[str | None], labels: list[tuple[str, ...]]) -> str:
    """``Header: value`` for each value of a row; a row that is one cell across stays as it is."""
    if _spans_all(row):
        return _plain(row)
    pairs = _named(row, labels)
    return CELL_SEPARATOR.join(f"{' / '.join(headers)}: {value}" if headers else value for headers, value in pairs)


def _names_all_values(labels: list[tuple[str, ...]], data: list[list[str | None]]) -> bool:
    """True when every column header names at least one value (else the header row is written out)."""
    used = {header for row in data for headers, _ in _named(row, labels) for header in headers}
    return all(header in used for label in labels for header in label)


def span_count(value: object) -> int:
    """A ``colspan``/``rowspan``/``gridSpan`` attribute as a count: 1 when absent or not a positive number."""
    text = str(value or "").strip()
    return int(text) if text.isdigit() and int(text) > 0 else 1


def nested_table_text(lines: list[str]) -> str:
    """A table nested in a cell as part of the cell's text: its rows in brackets, joined by "; "."""
    return f"({'; '.join(lines)})" if lines else ""
