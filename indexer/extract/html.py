"""HTML and Markdown files split by heading (BeautifulSoup; Markdown via markdown-it-py)."""

from __future__ import annotations

from pathlib import Path

from bs4 import BeautifulSoup
from markdown_it import MarkdownIt

from ..normalize import normalize_text
from ..records import ExtractedText, Location, Section
from .text import read_text

__all__ = ["extract_html", "extract_markdown", "sections_from_html"]

_HEADINGS = ("h1", "h2", "h3", "h4")
_BLOCKS = ("p", "div", "li", "tr", "br", "table", "section", "article", "ul", "ol", "pre", "blockquote", "dd", "dt", "figcaption")
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
    for cell in soup.find_all(("td", "th")):
        cell.append(" | ")
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
        body = normalize_text(piece.replace(" | \n", "\n"))
        if body:
            sections.append(Section(text=body, location=Location(section=heading or None), heading=heading))
    return tuple(sections)
