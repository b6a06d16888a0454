"""Text clean-up shared by every extractor.

Extracted text arrives with ligatures, soft hyphens, words broken across lines
and the running headers and footers that PDF pages repeat. These functions turn
it into plain Unicode text with one space between words and one newline
between lines, so passages read well and match the query's words.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter

__all__ = ["normalize_text", "strip_running_lines"]

_HYPHEN_BREAK = re.compile(r"(\w)-\n(?=[a-z])")
_SPACES = re.compile(r"[ \t\f\v\u00a0]+")
_BLANK_LINES = re.compile(r"\n{3,}")
_INVISIBLE = dict.fromkeys(map(ord, "\u00ad\u200b\u200c\u200d\ufeff"), None)
_DIGITS = re.compile(r"\d+")
_SPACES_ANY = re.compile(r"\s+")


def normalize_text(text: str) -> str:
    """Return ``text`` in NFKC form with line-end hyphenation joined and spacing tidied.

    Args:
        text: raw text from an extractor.

    Returns:
        The cleaned text: no invisible characters, single spaces, at most one blank line in a row.
    """
    text = unicodedata.normalize("NFKC", text).translate(_INVISIBLE)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _HYPHEN_BREAK.sub(r"\1", text)
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


def _line_key(line: str) -> str:
    """A line with its numbers masked and spaces dropped, so "Page 3", "Page 4" (and "- 3 -", "-12-") match."""
    return _SPACES_ANY.sub("", _DIGITS.sub("#", line.lower()))


def strip_running_lines(pages: list[str], edge_lines: int = 2, min_share: float = 0.5) -> list[str]:
    """Remove headers and footers that repeat at the top or bottom of many pages.

    A line counts as running when, with its digits masked, it appears among the
    first or last ``edge_lines`` lines of at least ``min_share`` of the pages
    (and of at least three pages), which spares short documents their content.

    Args:
        pages: the normalised text of each page, in order.
        edge_lines: how many lines at each end of a page may be a header or footer.
        min_share: the share of pages a line must repeat on.

    Returns:
        The pages without their running lines.
    """
    if len(pages) < 3:
        return pages
    counts: Counter[str] = Counter()
    for page in pages:
        lines = [line for line in page.split("\n") if line.strip()]
        edges = lines[:edge_lines] + lines[-edge_lines:]
        counts.update({_line_key(line) for line in edges})
    threshold = max(3, min_share * len(pages))
    running = {key for key, count in counts.items() if count >= threshold}
    if not running:
        return pages
    return [_drop_edges(page, running, edge_lines) for page in pages]


def _drop_edges(page: str, running: set[str], edge_lines: int) -> str:
    """Drop running lines found among the first and last ``edge_lines`` non-empty lines."""
    lines = page.split("\n")
    content = [i for i, line in enumerate(lines) if line.strip()]
    edges = set(content[:edge_lines] + content[-edge_lines:])
    kept = [line for i, line in enumerate(lines) if not (i in edges and _line_key(line) in running)]
    return "\n".join(kept).strip()
