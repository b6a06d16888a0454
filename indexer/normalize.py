"""Text clean-up shared by every extractor.

Extracted text arrives with ligatures, soft hyphens and words broken across
lines. ``normalize_text`` turns it into plain Unicode text with one space between
words and one newline between lines, and ``join_lines`` joins the lines of one
paragraph (PDF layout, OCR), so passages read well and match the query's words. (Running headers and footers of PDF pages are dropped by
``extract.pdf_layout``, which sees where lines stand.)
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["normalize_text", "join_lines"]

_HYPHEN_BREAK = re.compile(r"(\w)-\n(?=[a-z])")
_SPACES = re.compile(r"[ \t\f\v\u00a0]+")
_BLANK_LINES = re.compile(r"\n{3,}")
_INVISIBLE = dict.fromkeys(map(ord, "\u00ad\u200b\u200c\u200d\ufeff"), None)
_ENDS_WITH_HYPHEN = re.compile(r"(?<=[^\W\d_])-$")
_SOFT_HYPHENS = ("\u00ad", "\x02", "\ufffe")
_LAST_WORD = re.compile(r"[^\W\d_]+$")
_FIRST_WORD = re.compile(r"[^\W\d_]+")
#: Prefixes written with a hyphen ("self-employed", "non-contributory"), whatever the line break.
_HYPHEN_PREFIXES = frozenset({"self", "non"})


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


def join_lines(lines: list[str], compounds: frozenset[str] = frozenset()) -> str:
    """Join the lines of one paragraph with spaces, undoing hyphenation at line ends.

    A hyphen at a line end is a break ("unemploy-" + "ment" → "unemployment") unless
    the two halves form a compound the document writes with a hyphen elsewhere, or
    start with "self-" or "non-" ("self-" + "employed" stays "self-employed").

    Args:
        lines: the paragraph's lines, top to bottom.
        compounds: hyphenated words (lower case) seen inside lines of the same document.

    Returns:
        One line of text.
    """
    text = ""
    for line in (line.strip() for line in lines):
        if not line:
            continue
        if text.endswith(_SOFT_HYPHENS) or _ENDS_WITH_HYPHEN.search(text):
            text = text[:-1] + ("-" if _keeps_hyphen(text[:-1], line, compounds) else "") + line
        else:
            text = f"{text} {line}" if text else line
    return text.replace("\x02", "-").replace("\ufffe", "-")


def _keeps_hyphen(before: str, after: str, compounds: frozenset[str]) -> bool:
    """Whether a line-end hyphen between ``before`` and ``after`` belongs to the word ("Asia-Pacific", "self-employed")."""
    left = _LAST_WORD.search(before)
    right = _FIRST_WORD.match(after)
    if not left or not right or not after[:1].islower():
        return bool(left and right)  # "Asia-" + "Pacific": a capital after a hyphen is a compound
    return f"{left.group().lower()}-{right.group().lower()}" in compounds or left.group().lower() in _HYPHEN_PREFIXES
