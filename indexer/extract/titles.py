"""Choose a document's title: its metadata when meaningful, else what its first page shows, else its file name.

Metadata titles are often left at a tool's default ("PowerPoint Presentation",
"Slide 1", "Microsoft Word - report.doc") or hold a file path; such a title
names nothing and gives way to the next candidate.
"""

from __future__ import annotations

import re
from pathlib import Path

__all__ = ["choose_title", "meaningful_title", "readable_file_name"]

_MAX_CHARS = 200
_TOOL_PREFIX = re.compile(r"^(?:microsoft (?:word|powerpoint|excel)|word|powerpoint)\s*-\s*", re.IGNORECASE)
_FILE_LIKE = re.compile(r"[\\/]|\.(?:docx?|pptx?|xlsx?|pdf|wpd|rtf|txt|indd|qxd|tmp|tex|dvi)$", re.IGNORECASE)
_PLACEHOLDER = re.compile(
    r"^(?:untitled|sin t[ií]tulo|sans titre|no title|title|titre|t[ií]tulo|document|documento|presentation|pr[ée]sentation|"
    r"presentaci[oó]n|(?:microsoft )?(?:powerpoint|word)(?: presentation| document)?|pr[ée]sentation powerpoint|"
    r"presentaci[oó]n de powerpoint|(?:slide|slayt|diapositiva|folie|page)\s*\d*|document\s*\d+|documento\s*\d+)$",
    re.IGNORECASE,
)


def meaningful_title(candidate: str) -> str:
    """``candidate`` tidied, or "" when it names nothing (a placeholder, a path, a number).

    Args:
        candidate: a title from metadata or from the content.

    Returns:
        The title on one line, or "".
    """
    title = " ".join(_TOOL_PREFIX.sub("", candidate or "").split())
    letters = sum(character.isalpha() for character in title)
    if letters < 3 or len(title) > _MAX_CHARS or _FILE_LIKE.search(title) or _PLACEHOLDER.match(title):
        return ""
    return title


def readable_file_name(path: Path) -> str:
    """A file name as words: ``Zambia_report-2017.pdf`` → ``Zambia report 2017``."""
    return " ".join(re.sub(r"[_\-.]+", " ", path.stem).split()) or path.name


def choose_title(path: Path, *candidates: str) -> str:
    """The first meaningful title among ``candidates`` (metadata first), else the file name as words.

    Args:
        path: the file, for the last resort.
        candidates: titles in order of preference.

    Returns:
        A non-empty title.
    """
    for candidate in candidates:
        title = meaningful_title(candidate)
        if title:
            return title
    return readable_file_name(path)
