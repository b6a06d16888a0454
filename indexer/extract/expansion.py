"""Refuse a file whose compressed content would expand past a limit, before any reader inflates it.

A DOCX or PPTX is a ZIP container, and python-docx and python-pptx read every part
into memory when they open one: a part of a few kilobytes that inflates to gigabytes
(a zip bomb) would fill the reading worker's memory. The container's central directory
declares each part's sizes, so their total, the number of parts and each part's ratio
are checked here without inflating anything. A header that declares less than its part
holds is no way round it: zipfile stops a part at its declared size and refuses it (a
CRC mismatch, ``CorruptDocument``), after inflating it once in memory, which the
worker's memory limit (``KB_EXTRACT_MEMORY_MB``) bounds.

A PDF declares no expanded sizes, and PDFium inflates a page's content streams whole
before reading them, aborting the worker when memory runs out. So each zlib stream of
a PDF is inflated here, a megabyte at a time and thrown away, up to the limit: the
cost is one pass over its compressed streams, at no more memory than a megabyte. A
stream behind another filter first (ASCII85, then Flate) is not seen; the memory limit
still stops it, reported as a crash that names ``KB_EXTRACT_MEMORY_MB``.
"""

from __future__ import annotations

import mmap
import re
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

from ..errors import CorruptDocument, ExpansionTooLarge
from ..settings import default, read

__all__ = ["ExpansionLimits", "check_expansion"]

_MB = 2**20
# A part smaller than this expanded is too small to matter, whatever its ratio (a tiny part can compress 100 times).
_RATIO_FLOOR = _MB
# What is inflated and thrown away at a time while measuring a PDF stream.
_STEP = _MB
# Where a PDF stream's data starts: the keyword, then CRLF or LF (never "endstream").
_STREAM_START = re.compile(rb"(?<!end)stream\r?\n")
# Bytes of a part's name shown in a message: the name comes from the file, so it is cut short and made printable.
_NAME_CHARS = 80
_ADVICE = "a compression bomb, or a file too large to read; if the file is genuine, raise {setting} or split the file"


@dataclass(frozen=True)
class ExpansionLimits:
    """How far a file's compressed content may expand before it is read.

    Attributes:
        expanded_mb: megabytes a DOCX's or PPTX's parts may expand to together, and any one PDF stream
            (``KB_EXTRACT_MAX_EXPANDED_MB``).
        parts: ZIP entries a DOCX or PPTX may hold (``KB_EXTRACT_MAX_PARTS``).
        ratio: times its compressed size one part over 1 MB expanded may expand (``KB_EXTRACT_MAX_RATIO``);
            zeros deflate about 1,000 times, XML about 10 (30 at most in the real documents).
    """

    expanded_mb: int = default("KB_EXTRACT_MAX_EXPANDED_MB")
    parts: int = default("KB_EXTRACT_MAX_PARTS")
    ratio: float = default("KB_EXTRACT_MAX_RATIO")

    @classmethod
    def from_environ(cls, environ: dict[str, str] | None = None) -> ExpansionLimits:
        """The defaults, overridden by ``KB_EXTRACT_MAX_EXPANDED_MB``, ``KB_EXTRACT_MAX_PARTS`` and ``KB_EXTRACT_MAX_RATIO``.

        Raises:
            InvalidSetting: one of them is set to a value it cannot take.
        """
        return cls(expanded_mb=read("KB_EXTRACT_MAX_EXPANDED_MB", environ), parts=read("KB_EXTRACT_MAX_PARTS", environ),
                   ratio=read("KB_EXTRACT_MAX_RATIO", environ))


def check_expansion(path: Path, file_format: str, limits: ExpansionLimits) -> None:
    """Refuse the file if its compressed content would expand past ``limits``; formats without any pass.

    Args:
        path: the file.
        file_format: its format, from ``detect_format``.
        limits: how far its content may expand.

    Raises:
        ExpansionTooLarge: the file would expand past a limit; the message names the file, the limit and its setting.
        CorruptDocument: a DOCX or PPTX whose ZIP directory cannot be read.
    """
    if file_format in ("docx", "pptx"):
        _check_zip(path, limits)
    elif file_format == "pdf":
        _check_pdf(path, limits)


def _check_zip(path: Path, limits: ExpansionLimits) -> None:
    """The parts' number, their declared total and each one's ratio, from the central directory alone."""
    try:
        with zipfile.ZipFile(path) as archive:
            parts = archive.infolist()
    except zipfile.BadZipFile as error:
        raise CorruptDocument(path, f"damaged ZIP container ({error}); re-save the file") from error
    if len(parts) > limits.parts:
        raise ExpansionTooLarge(path, f"holds {len(parts):,} parts, more than KB_EXTRACT_MAX_PARTS ({limits.parts:,}): "
                                      + _ADVICE.format(setting="KB_EXTRACT_MAX_PARTS"))
    total = sum(part.file_size for part in parts)
    if total > limits.expanded_mb * _MB:
        raise ExpansionTooLarge(path, f"would expand past {limits.expanded_mb:,} MB (KB_EXTRACT_MAX_EXPANDED_MB): its "
                                      f"parts declare {_megabytes(total)} MB; "
                                      + _ADVICE.format(setting="KB_EXTRACT_MAX_EXPANDED_MB"))
    for part in parts:
        ratio = part.file_size / max(part.compress_size, 1)
        if part.file_size > _RATIO_FLOOR and ratio > limits.ratio:
            raise ExpansionTooLarge(path, f"its part {_printable(part.filename)} would expand {ratio:,.0f} times (to "
                                          f"{_megabytes(part.file_size)} MB), more than KB_EXTRACT_MAX_RATIO "
                                          f"({limits.ratio:g}): " + _ADVICE.format(setting="KB_EXTRACT_MAX_RATIO"))


def _check_pdf(path: Path, limits: ExpansionLimits) -> None:
    """Inflate every zlib stream of the PDF, without keeping it, and refuse the first that expands past the limit."""
    limit = limits.expanded_mb * _MB
    with open(path, "rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
        for start in _STREAM_START.finditer(data):
            if _inflated_size(data, start.end(), limit) > limit:
                raise ExpansionTooLarge(path, f"a compressed stream (at byte {start.end():,}) would expand past "
                                              f"{limits.expanded_mb:,} MB (KB_EXTRACT_MAX_EXPANDED_MB): "
                                              + _ADVICE.format(setting="KB_EXTRACT_MAX_EXPANDED_MB"))


def _inflated_size(data: mmap.mmap, start: int, limit: int) -> int:
    """How many bytes the zlib stream at ``start`` inflates to, counted up to just past ``limit``.

    Data that is no zlib stream (another filter, an uncompressed stream) or that breaks off counts what it gave
    until then: reading it is PDFium's business, and it is no bomb.
    """
    inflater = zlib.decompressobj()
    expanded = 0
    try:
        for offset in range(start, len(data), _STEP):
            pending = data[offset:offset + _STEP]
            while pending:
                expanded += len(inflater.decompress(pending, _STEP))
                if inflater.eof or expanded > limit:
                    return expanded
                pending = inflater.unconsumed_tail
    except zlib.error:
        pass
    return expanded


def _megabytes(size: int) -> str:
    return f"{size / _MB:,.0f}"


def _printable(name: str) -> str:
    """A part's name as a message may show it: control characters escaped, cut to ``_NAME_CHARS``."""
    shown = "".join(character if character.isprintable() else ascii(character)[1:-1] for character in name)
    return shown if len(shown) <= _NAME_CHARS else shown[:_NAME_CHARS] + "…"
