"""Cut sections into passages along sentence boundaries, with overlap.

A passage never crosses a section (page, slide or heading section), so it keeps
one location. Inside a section, sentences are packed until ``max_words``; the
next passage starts with the last sentences of the previous one, up to
``overlap_words``, so an answer split across the cut is still found whole.
A section that holds nothing but its heading (a heading directly followed by a
sub-heading) is no passage: it would match its own words and show no text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .records import Passage, Section

__all__ = ["ChunkSettings", "chunk_sections", "sentence_spans"]

# A sentence ends at a line break, or at . ! ? (and any closing quote or bracket, which stays with the
# sentence) followed by space and a capital, digit or opening mark.
_SENTENCE_END = re.compile(r"\n+|(?:(?<=[.!?])|(?<=[.!?][\"'”’)]))\s+(?=[A-Z0-9\"'“‘(\[¿¡])")
_WORD = re.compile(r"\S+")


@dataclass(frozen=True)
class ChunkSettings:
    """How long passages are and how much consecutive passages share, in words."""

    max_words: int = 160
    overlap_words: int = 32


def sentence_spans(text: str, max_words: int) -> list[tuple[int, int]]:
    """Character ranges of the sentences of ``text``; over-long ones are cut at ``max_words``.

    Args:
        text: the section text.
        max_words: the longest sentence kept whole.

    Returns:
        ``(start, end)`` pairs covering every non-blank sentence in order.
    """
    spans, start = [], 0
    for match in _SENTENCE_END.finditer(text):
        spans.extend(_word_capped(text, start, match.start(), max_words))
        start = match.end()
    spans.extend(_word_capped(text, start, len(text), max_words))
    return spans


def _word_capped(text: str, start: int, end: int, max_words: int) -> list[tuple[int, int]]:
    """Split ``text[start:end]`` into pieces of at most ``max_words`` words, trimmed of blanks."""
    words = [(m.start(), m.end()) for m in _WORD.finditer(text, start, end)]
    return [(words[i][0], words[min(i + max_words, len(words)) - 1][1]) for i in range(0, len(words), max_words)]


def chunk_sections(sections: tuple[Section, ...] | list[Section], settings: ChunkSettings = ChunkSettings()) -> list[Passage]:
    """Turn a document's sections into passages, numbered in reading order.

    Args:
        sections: the extracted sections of one document.
        settings: passage length and overlap.

    Returns:
        Passages with their location, heading, ordinal and character range in the section text.
    """
    passages: list[Passage] = []
    # A document of headings alone keeps them: they are all the text it has.
    with_body = [section for section in sections if not _heading_only(section)] or sections
    for section in with_body:
        for start, end in _windows(section.text, settings):
            passages.append(
                Passage(
                    text=section.text[start:end],
                    location=section.location,
                    heading=section.heading,
                    ordinal=len(passages),
                    char_start=start,
                    char_end=end,
                )
            )
    return passages


def _heading_only(section: Section) -> bool:
    return bool(section.heading) and section.text.strip() == section.heading.strip()


def _windows(text: str, settings: ChunkSettings) -> list[tuple[int, int]]:
    """Group sentence spans into overlapping windows of at most ``max_words`` words."""
    spans = sentence_spans(text, settings.max_words)
    counts = [len(text[s:e].split()) for s, e in spans]
    windows, first = [], 0
    while first < len(spans):
        last, words = first, counts[first]
        while last + 1 < len(spans) and words + counts[last + 1] <= settings.max_words:
            last += 1
            words += counts[last]
        windows.append((spans[first][0], spans[last][1]))
        if last + 1 >= len(spans):
            break
        first = _overlap_start(counts, first, last, settings.overlap_words)
    return windows


def _overlap_start(counts: list[int], first: int, last: int, overlap_words: int) -> int:
    """The first sentence of the next window: back from ``last`` while the overlap fits."""
    start, shared = last + 1, 0
    while start - 1 > first and shared + counts[start - 1] <= overlap_words:
        start -= 1
        shared += counts[start]
    return start
