"""Plain-text files, read with the first encoding that fits."""

from __future__ import annotations

from pathlib import Path

from ..normalize import normalize_text
from ..records import ExtractedText, Location, Section

__all__ = ["extract_text", "read_text"]

_ENCODINGS = ("utf-8-sig", "cp1252", "latin-1")


def read_text(path: Path) -> str:
    """Decode a text file as UTF-8, falling back to Windows-1252 and Latin-1 (which never fails)."""
    raw = path.read_bytes()
    for encoding in _ENCODINGS:
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise AssertionError("latin-1 decodes any byte string")


def extract_text(path: Path) -> ExtractedText:
    """Read a plain-text file as one section titled by its first line.

    Args:
        path: the text file.

    Returns:
        A single section without a location.
    """
    text = normalize_text(read_text(path))
    title = text.split("\n", 1)[0][:150] if text else ""
    return ExtractedText(title=title, format="text", sections=(Section(text=text, location=Location()),))
