"""HTML and Markdown files split by heading (BeautifulSoup; Markdown via markdown-it-py)."""

from __future__ import annotations

from pathlib import Path

from bs4 import BeautifulSoup, Tag
from markdown_it import MarkdownIt

from ..normalize import normalize_text
from ..records import ExtractedText, Location, Section
from .ooxml import TableCell, nested_table_text, span_count, table_lines
from .text import read_text

__all__ = ["extract_html", "extract_markdown", "sections_from_html"]

_HEADINGS = ("h1", "h2", "h3", "h4")
# Tables are written out as row lines first; "tr", "td" and "th" remain only for cells outside any table.
_BLOCKS = ("p", "div", "li", "tr", "td", "th", "br", "section", "article", "ul", "ol", "pre", "blockquote", "dd", "dt",
           "figcaption")
_NOISE = ("script", "style", "noscript", "template", "nav", "svg", "iframe", "head")
# A character no document holds, marking where a heading stood once the tags are gone.
_MARK = "\u0000"


def extract_html(path: Path) -> ExtractedText:
    """Read an HTML file: visible text, split at h1–h4, titled by ``<title>`` or the first heading.

    Args:
        path: the HTML file.

    Returns:
        One section per heading, located by the heading text.
    """
    title, sections = sections_from_html(read_text(path))
    return ExtractedText(title=title, format="html", sections=sections)


def extract_markdown(path: Path) -> ExtractedText:
    """Read a Markdown file by rendering it to HTML first, so both share one splitter.

    Args:
        path: the Markdown file.

    Returns:
        One section per heading, located by the heading text.
    """
    source = read_text(path)
    html = MarkdownIt("commonmark").enable("table").render(_without_front_matter(source))
    title, sections = sections_from_html(html)
    return ExtractedText(title=title, format="markdown", sections=sections)


def _without_front_matter(source: str) -> str:
    """Drop a leading YAML front-matter block, which is metadata, not content."""
    if source.startswith("---\n"):
        end = source.find("\n---", 4)
        if end != -1:
            return source[end + 4 :]
    return source


def sections_from_html(html: str) -> tuple[str, tuple[Section, ...]]:
    """Split an HTML string into (title, sections) at its headings.

    Args:
        html: a whole page or a fragment.

    Returns:
        The page title (``<title>``, else the first heading, else empty) and the sections.
    """
    soup = BeautifulSoup(html, "html.parser")
    page_title = soup.title.get_text(" ", strip=True) if soup.title else ""
    for tag in soup.find_all(_NOISE):
        tag.decompose()
    # Innermost first: a nested table becomes text of its cell before the table around it is written.
    for table in reversed(soup.find_all("table")):
        lines = _table_lines(table)
        nested = table.find_parent(("td", "th")) is not None
        table.replace_with(f" {nested_table_text(lines)} " if nested else "\n" + "\n".join(lines) + "\n")
    for block in soup.find_all(_BLOCKS):
        block.insert_before("\n")
        block.append("\n")
    for heading in soup.find_all(_HEADINGS):
        heading.replace_with(f"\n{_MARK}{heading.get_text(' ', strip=True)}\n")
    sections = _split_at_marks(soup.get_text(""))
    first_heading = next((section.heading for section in sections if section.heading), "")
    return normalize_text(page_title) or first_heading, sections


def _split_at_marks(text: str) -> tuple[Section, ...]:
    """Cut the flattened text at heading marks; each piece starts with its heading line."""
    sections = []
    for number, piece in enumerate(text.split(_MARK)):
        heading, _, _ = piece.partition("\n")
        heading = normalize_text(heading) if number > 0 else ""  # every piece but the first follows a mark
        body = normalize_text(piece)
        if body:
            sections.append(Section(text=body, location=Location(section=heading or None), heading=heading))
    return tuple(sections)


def _table_lines(table: Tag) -> list[str]:
    """A table's caption and rows, each value named by its column header.

    The header is the first row made of ``<th>`` cells, else the first row; a table whose
    ``<th>`` cells only head rows (a key–value table) has no header row and is written plainly.
    """
    rows = [row.find_all(("td", "th"), recursive=False) for row in table.find_all("tr")]
    th_rows = [number for number, cells in enumerate(rows) if cells and all(cell.name == "th" for cell in cells)]
    if th_rows:
        header = th_rows[0]
    elif any(cell.name == "th" for cells in rows for cell in cells):
        header = len(rows)  # every row lies "above the header": each is written as it is
    else:
        header = 0
    lines = table_lines([[_cell(cell) for cell in cells] for cells in rows], header=header)
    caption = table.find("caption")
    return [caption.get_text(" ", strip=True), *lines] if caption else lines


def _cell(cell: Tag) -> TableCell:
    """A ``<td>`` or ``<th>`` as a table cell: its text and spans."""
    return TableCell(cell.get_text(" ", strip=True), span_count(cell.get("colspan")), span_count(cell.get("rowspan")))
