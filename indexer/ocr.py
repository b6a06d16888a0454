"""Read text from page images with Tesseract (through pytesseract), and tell text from garbage.

Scanned reports have no text layer, and some PDFs carry a text layer that is
garbage (a bad OCR layer, fonts without a Unicode map). The PDF reader renders
such pages and hands them here. Tesseract is a Debian package
(``tesseract-ocr`` with the ``-eng``, ``-spa`` and ``-fra`` language data), which
``make install`` installs when it is missing; without it, OCR is skipped and the
page stays unread, which the ingestion report says.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import shutil
import threading
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator

from .normalize import join_lines
from .settings import default, read

__all__ = ["OcrSettings", "OcrPage", "OcrQueue", "ocr_image", "tesseract_available", "looks_like_text"]

log = logging.getLogger(__name__)

_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)
_LATIN = re.compile(r"^[a-zà-öø-ÿ]+$", re.IGNORECASE)
_VOWELS = frozenset("aeiouyàáâãäåæèéêëìíîïòóôõöøùúûüýÿœ")
_BAD_CHARS = re.compile(r"[\ufffd\ue000-\uf8ff\x00-\x08\x0e-\x1f]")


@dataclass(frozen=True)
class OcrSettings:
    """Whether and how pages without readable text are OCR'd.

    Attributes:
        enabled: OCR at all (``KB_OCR``; off: such pages stay unread).
        languages: Tesseract language codes joined by ``+`` (``KB_OCR_LANGUAGES``).
        page_timeout: seconds Tesseract may spend on one page before the page is left unread (``KB_OCR_PAGE_TIMEOUT``).
        dpi: resolution pages are rendered at for Tesseract, which reads best near 300.
    """

    enabled: bool = default("KB_OCR")
    languages: str = default("KB_OCR_LANGUAGES")
    page_timeout: float = default("KB_OCR_PAGE_TIMEOUT")
    dpi: int = 300

    @classmethod
    def from_environ(cls, environ: dict[str, str] | None = None) -> OcrSettings:
        """The defaults, overridden by ``KB_OCR`` (0/1), ``KB_OCR_LANGUAGES`` and ``KB_OCR_PAGE_TIMEOUT``.

        Raises:
            InvalidSetting: ``KB_OCR`` is not a yes/no value, or ``KB_OCR_PAGE_TIMEOUT`` no positive number.
        """
        return cls(enabled=read("KB_OCR", environ), languages=read("KB_OCR_LANGUAGES", environ),
                   page_timeout=read("KB_OCR_PAGE_TIMEOUT", environ))


@dataclass(frozen=True)
class OcrPage:
    """What Tesseract read on one page: paragraphs, and its mean word confidence (0–100)."""

    paragraphs: tuple[str, ...]
    confidence: float

    @property
    def text(self) -> str:
        return "\n\n".join(self.paragraphs)


@functools.lru_cache(maxsize=1)
def tesseract_available() -> bool:
    """True when the ``tesseract`` program can be run."""
    return shutil.which("tesseract") is not None


def ocr_image(image: Any, settings: OcrSettings) -> OcrPage | None:
    """Read the words of a page image, grouped into Tesseract's paragraphs.

    Args:
        image: a PIL image of the page.
        settings: languages and time limit.

    Returns:
        The paragraphs and mean confidence, or None when Tesseract is missing, fails or runs out of time.
    """
    import pytesseract  # only pages that need OCR pay for the import

    try:
        with _one_thread_per_tesseract():
            data = pytesseract.image_to_data(image, lang=settings.languages, timeout=settings.page_timeout,
                                             output_type=pytesseract.Output.DICT)
    except (pytesseract.TesseractError, pytesseract.TesseractNotFoundError, RuntimeError, OSError) as error:
        # RuntimeError is pytesseract's "process timeout".
        log.warning("OCR failed: %s", error)
        return None
    return _paragraphs(data)


class OcrQueue:
    """Page images read by Tesseract in the background, one process per core, a few pages ahead at most.

    Use it as a context manager; ``submit`` hands back a future of ``ocr_image``'s answer
    and waits first while too many pages are queued, so a long scan never holds more than
    a few rendered pages in memory.
    """

    def __init__(self, settings: OcrSettings):
        self.settings = settings
        self.workers = max(1, len(os.sched_getaffinity(0)))
        self._pool: ThreadPoolExecutor | None = None
        self._futures: list[Future] = []

    def __enter__(self) -> OcrQueue:
        self._pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="kb-ocr")
        return self

    def __exit__(self, error_type, *rest) -> None:
        # Leaving normally, every queued page is read; leaving on an error, pages not started are dropped.
        self._pool.shutdown(wait=True, cancel_futures=error_type is not None)

    def submit(self, image: Any) -> Future:
        """Queue one page image; returns a future of its ``OcrPage`` (or None)."""
        running = [future for future in self._futures if not future.done()]
        while len(running) >= 2 * self.workers:
            wait(running, return_when=FIRST_COMPLETED)
            running = [future for future in running if not future.done()]
        future = self._pool.submit(ocr_image, image, self.settings)
        self._futures = running + [future]
        return future


_THREAD_LIMIT = "OMP_THREAD_LIMIT"
_thread_limit_lock = threading.Lock()
_thread_limit_users = 0
_thread_limit_before: str | None = None


@contextmanager
def _one_thread_per_tesseract() -> Iterator[None]:
    """Run Tesseract single-threaded: its OpenMP threads fight over 2 cores (11 s a page against 1.9 s, measured here).

    Tesseract takes the limit from its environment, which pytesseract copies from ours;
    the variable is set while any page is being read and restored afterwards, unless
    the user set it.
    """
    global _thread_limit_users, _thread_limit_before
    with _thread_limit_lock:
        if _thread_limit_users == 0:
            _thread_limit_before = os.environ.get(_THREAD_LIMIT)
            os.environ.setdefault(_THREAD_LIMIT, "1")
        _thread_limit_users += 1
    try:
        yield
    finally:
        with _thread_limit_lock:
            _thread_limit_users -= 1
            if _thread_limit_users == 0 and _thread_limit_before is None:
                os.environ.pop(_THREAD_LIMIT, None)


def _paragraphs(data: dict[str, list]) -> OcrPage:
    """Group Tesseract's words (``image_to_data``) into lines, and lines into paragraphs."""
    lines: dict[tuple[int, int, int], list[str]] = {}
    confidences = []
    for word, confidence, block, paragraph, line in zip(data["text"], data["conf"], data["block_num"], data["par_num"], data["line_num"]):
        confidence = float(confidence)
        if confidence < 0 or not str(word).strip():
            continue
        confidences.append(confidence)
        lines.setdefault((block, paragraph, line), []).append(str(word).strip())
    paragraphs: dict[tuple[int, int], list[str]] = {}
    for (block, paragraph, _), words in lines.items():
        paragraphs.setdefault((block, paragraph), []).append(" ".join(words))
    texts = tuple(text for text in (join_lines(group) for group in paragraphs.values()) if text)
    return OcrPage(paragraphs=texts, confidence=sum(confidences) / len(confidences) if confidences else 0.0)


def looks_like_text(text: str, min_words: int = 8) -> bool:
    """Whether ``text`` reads as language rather than a garbage text layer.

    Garbage layers come from bad OCR or fonts without a Unicode map: strings of
    consonants, private-use or replacement characters. Latin-script words need a
    vowel; other scripts (Arabic, Korean, …) count as words. Too little text to
    judge counts as text.

    Args:
        text: the text of one page.
        min_words: fewer words than this cannot be judged.

    Returns:
        False when the text is mostly garbage.
    """
    if text and len(_BAD_CHARS.findall(text)) > 0.1 * len(text):
        return False
    words = _WORD.findall(text)
    if len(words) < min_words:
        return True
    wordlike = sum(1 for word in words if _wordlike(word))
    return wordlike >= 0.6 * len(words)


def _wordlike(word: str) -> bool:
    if not _LATIN.match(word):
        return True
    lowered = word.lower()
    return len(word) <= 20 and (len(word) <= 2 or any(letter in _VOWELS for letter in lowered))
