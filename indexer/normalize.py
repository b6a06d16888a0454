"""Text clean-up shared by every extractor.

Extracted text arrives with ligatures, soft hyphens and words broken across
lines. ``normalize_text`` turns it into plain Unicode text with one space between
words and one newline between lines, so passages read well and match the
query's words. (Running headers and footers of PDF pages are dropped by
``extract.pdf_layout``, which sees where lines stand.)
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["normalize_text"]

_HYPHEN_BREAK = re.compile(r"(\w)-\n(?=[a-z])")
_SPACES = re.compile(r"[ \t\f\v\u00a0]+")
_BLANK_LINES = re.compile(r"\n{3,}")
_INVISIBLE = dict.fromkeys(map(ord, "\u00ad\u200b\u200c\u200d\ufeff"), None)


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
