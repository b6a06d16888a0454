"""Rebuild a PDF page's text into paragraphs from the position of its lines (pypdfium2).

A PDF holds positioned runs of text, not paragraphs. PDFium gives the runs
(text rectangles) in reading order; this module groups them into lines, drops
running headers, footers and page numbers, and joins lines into paragraphs:
a paragraph ends at a larger gap than the usual line spacing, a change of font
size, a bullet, or a short line that ends a sentence. Line-end hyphenation is
undone while joining.
"""

from __future__ import annotations

import re
import statistics
from collections import Counter
from dataclasses import dataclass

from ..normalize import join_lines, normalize_text

__all__ = ["Line", "page_lines", "paragraphs", "drop_running_lines", "largest_text", "hyphenated_words"]

_BULLET = re.compile(r"^(?:[•●▪■◦○►▸‣∙·*–—-]|\(?\d{1,2}[.)]|\(?[a-z][.)]|\(?[ivx]{1,4}[.)])\s", re.IGNORECASE)
_SENTENCE_END = re.compile(r"[.!?:;。]['\"”’)]?$")
_PAGE_NUMBER = re.compile(r"^[\W_]*(?:page|p\.|pág\.?|página)?\s*(?:\d{1,4}|[ivxlc]{1,6})(?:\s*(?:of|de|/)\s*\d{1,4})?[\W_]*$",
                          re.IGNORECASE)
_DIGITS = re.compile(r"\d+")
_COMPOUND = re.compile(r"[^\W\d_]+-[^\W\d_]+")
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class Line:
    """One line of a page: its text and box in PDF points (y grows upwards)."""

    text: str
    left: float
    right: float
    bottom: float
    top: float

    @property
    def height(self) -> float:
        return self.top - self.bottom


def page_lines(textpage) -> list[Line]:
    """The lines of a page, in PDFium's reading order, with their boxes.

    PDFium's text has the spaces it generates between words, and ends most
    lines with a generated line break; a line also ends where the next
    character sits outside its height (some files have no breaks at all).

    Args:
        textpage: a ``pypdfium2.PdfTextPage``.

    Returns:
        Lines with normalised text, in reading order.
    """
    text = textpage.get_text_range()
    if len(text) != textpage.count_chars():  # characters outside the BMP shift the indices: no geometry to be had
        return [Line(normalize_text(part), 0.0, 0.0, 0.0, 0.0) for part in text.splitlines() if part.strip()]
    lines: list[Line] = []
    chars: list[str] = []
    box: list[float] = []  # left, right, bottom, top of the current line's visible characters
    for index, character in enumerate(text):
        if character in "\r\n":
            _close_line(lines, chars, box)
            chars, box = [], []
            continue
        if not character.isspace():
            left, bottom, right, top = textpage.get_charbox(index, loose=True)
            if box and not box[2] <= (bottom + top) / 2 <= box[3]:
                _close_line(lines, chars, box)
                chars, box = [], []
            box = [min(box[0], left), max(box[1], right), min(box[2], bottom), max(box[3], top)] if box else [left, right, bottom, top]
        chars.append(character)
    _close_line(lines, chars, box)
    return lines


def _close_line(lines: list[Line], chars: list[str], box: list[float]) -> None:
    text = normalize_text("".join(chars))
    if text and box:
        lines.append(Line(text, box[0], box[1], box[2], box[3]))


def drop_running_lines(pages: list[list[Line]], edge_lines: int = 2, min_share: float = 0.5) -> list[list[Line]]:
    """Remove page numbers, and headers and footers that repeat at the top or bottom of many pages.

    A line counts as running when, with its digits masked, it stands among the
    first or last ``edge_lines`` lines of at least ``min_share`` of the pages (and
    of three pages at least), which spares short documents their content. A lone
    number (``12``, ``- 12 -``, ``Page 3 of 9``, ``iv``) at a page's edge is a page
    number wherever it stands.

    Args:
        pages: each page's lines, in order.
        edge_lines: how many lines at each end of a page may be a header or footer.
        min_share: the share of pages a line must repeat on.

    Returns:
        The pages without those lines.
    """
    counts: Counter[str] = Counter()
    for lines in pages:
        counts.update({_line_key(line.text) for line in lines[:edge_lines] + lines[-edge_lines:]})
    threshold = max(3, min_share * len(pages))
    running = {key for key, count in counts.items() if count >= threshold} if len(pages) >= 3 else set()
    return [_without_edges(lines, running, edge_lines) for lines in pages]


def _line_key(text: str) -> str:
    """A line with its numbers masked and spaces dropped, so "Page 3", "Page 4" (and "- 3 -", "-12-") match."""
    return _SPACES.sub("", _DIGITS.sub("#", text.lower()))


def _without_edges(lines: list[Line], running: set[str], edge_lines: int) -> list[Line]:
    edges = set(range(min(edge_lines, len(lines)))) | set(range(max(0, len(lines) - edge_lines), len(lines)))
    return [line for index, line in enumerate(lines)
            if not (index in edges and (_line_key(line.text) in running or _PAGE_NUMBER.match(line.text)))]


def hyphenated_words(pages: list[list[Line]]) -> frozenset[str]:
    """The hyphenated words written inside lines of a document (lower case), to tell them from line-end breaks."""
    return frozenset(word.lower() for lines in pages for line in lines for word in _COMPOUND.findall(line.text))


def paragraphs(lines: list[Line], compounds: frozenset[str] = frozenset()) -> list[str]:
    """Join a page's lines into paragraphs.

    Args:
        lines: the page's lines in reading order.
        compounds: the document's hyphenated words (``hyphenated_words``), kept whole across line ends.

    Returns:
        The paragraphs' texts, each on one line.
    """
    if not lines:
        return []
    spacing = _usual_spacing(lines)
    groups: list[list[Line]] = [[lines[0]]]
    for previous, line in zip(lines, lines[1:]):
        if _starts_paragraph(previous, line, spacing):
            groups.append([line])
        else:
            groups[-1].append(line)
    return [text for text in (join_lines([line.text for line in group], compounds) for group in groups) if text]


def _usual_spacing(lines: list[Line]) -> float:
    """The median distance between the tops of consecutive lines that follow each other down a column."""
    steps = [a.top - b.top for a, b in zip(lines, lines[1:]) if 0 < a.top - b.top < 3 * max(a.height, b.height)]
    single = 1.2 * statistics.median(line.height for line in lines)  # single spacing, from the type size
    if len(steps) >= 3:
        return statistics.median(steps)
    return min(steps + [single])  # too few lines to learn the spacing from: a gap among them may be a paragraph break


def _starts_paragraph(previous: Line, line: Line, spacing: float) -> bool:
    """Whether ``line`` begins a new paragraph rather than continuing ``previous``."""
    step = previous.top - line.top
    if step <= 0 or step > 3 * spacing:  # a new column, a jump back up, or a large gap
        return bool(_SENTENCE_END.search(previous.text)) or step > 0
    # A gap wider than the page's usual spacing, and wide for these lines' own size (a large title keeps its lines).
    if step > 1.4 * spacing and step > 1.35 * max(line.height, previous.height):
        return True
    if abs(line.height - previous.height) > 0.25 * max(line.height, previous.height):
        return True
    if _BULLET.match(line.text):
        return True
    width = max(previous.right, line.right) - min(previous.left, line.left)
    short = previous.right < max(previous.right, line.right) - 0.15 * width
    # A short line ends a paragraph when it ends a sentence, or when a capital follows it (a heading, a title).
    return short and (bool(_SENTENCE_END.search(previous.text)) or line.text[:1].isupper() or line.text[:1].isdigit())


def largest_text(lines: list[Line], max_chars: int = 200) -> str:
    """The text set in the largest size near the top of a page (its title, on a first page).

    Args:
        lines: the first page's lines.
        max_chars: longer runs are body text, not a title.

    Returns:
        The consecutive lines of the largest height, joined; "" when nothing stands out.
    """
    sized = [line for line in lines if sum(ch.isalpha() for ch in line.text) >= 3]
    if len(sized) < 1:
        return ""
    usual = statistics.median(line.height for line in sized)
    biggest = max(line.height for line in sized)
    if len(sized) > 1 and biggest < 1.15 * usual:
        return ""
    first = next(i for i, line in enumerate(sized) if line.height >= 0.9 * biggest)
    group = [sized[first]]
    for line in sized[first + 1:]:
        if line.height < 0.9 * biggest or group[-1].bottom - line.top > 2 * line.height:
            break
        group.append(line)
    title = join_lines([line.text for line in group])
    return title if len(title) <= max_chars else ""
