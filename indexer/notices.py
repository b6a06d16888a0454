"""Notices: a line that the documents of a collection repeat on their first page, kept out of passages.

A collection often stamps every document with the same line ("Reconstruction for
this knowledge base — not the original ILO publication.", "Draft — do not cite").
Left in, it opens the first passage of every document and crowds the top of the
answers. A line of at least a few words that stands in the first section of three
documents or more, and of at least half the documents read in one run, is such a
notice; the index remembers it, so a document added later loses it too, and
each document keeps the notice it carried (shown once, with the document).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import replace

from .records import ExtractedText

__all__ = ["find_notices", "strip_notices", "notice_key"]

_MIN_WORDS = 5
_MIN_DOCUMENTS = 3
_BLANK_LINES = re.compile(r"\n{3,}")


def notice_key(line: str) -> str:
    """A line compared without case or spacing differences."""
    return " ".join(line.lower().split())


def _first_lines(extracted: ExtractedText) -> set[str]:
    """The keys of the lines of the first section that are long enough to be a notice."""
    if not extracted.sections:
        return set()
    lines = extracted.sections[0].text.split("\n")
    return {notice_key(line) for line in lines if len(line.split()) >= _MIN_WORDS}


def find_notices(documents: list[ExtractedText], min_share: float = 0.5) -> set[str]:
    """The notice keys among ``documents``: first-section lines most of them share.

    Args:
        documents: the files read in one run.
        min_share: the share of the documents a line must stand in (and in three at least).

    Returns:
        The keys (``notice_key``) of the lines found.
    """
    counts: Counter[str] = Counter()
    for extracted in documents:
        counts.update(_first_lines(extracted))
    threshold = max(_MIN_DOCUMENTS, min_share * len(documents))
    return {key for key, count in counts.items() if count >= threshold}


def strip_notices(extracted: ExtractedText, notices: set[str]) -> tuple[ExtractedText, str]:
    """Remove the notice lines from the first section of ``extracted``.

    Args:
        extracted: one file as read.
        notices: notice keys (``notice_key``).

    Returns:
        The text without them (a first section left empty is dropped), and the removed lines joined ("" if none).
    """
    if not notices or not extracted.sections:
        return extracted, ""
    first = extracted.sections[0]
    lines = first.text.split("\n")
    removed = [line for line in lines if notice_key(line) in notices]
    if not removed:
        return extracted, ""
    kept = _BLANK_LINES.sub("\n\n", "\n".join(line for line in lines if notice_key(line) not in notices)).strip()
    rest = extracted.sections[1:]
    sections = ((replace(first, text=kept),) if kept else ()) + tuple(rest)
    return replace(extracted, sections=sections), " ".join(removed)
