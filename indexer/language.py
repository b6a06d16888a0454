"""The language of documents and passages: ISO 639-1 codes, detected offline by py3langid.

py3langid's bundled model (97 languages, numpy only, nothing downloaded) gives a
probability per language. Its answers are reliable once the text is a sentence
long; on a few words it is often wrong but then also unsure, so an answer below
the confidence threshold counts as no answer ("").

The model ships LZMA-compressed (4.5 MB, 68 MB unpacked) and unpacking it took
0.7 s of every process that detects a language, a search worker's included. The
first process to load it keeps the unpacked arrays as ``.npy`` files in the
cache directory (``KB_CACHE_DIR``, default ``~/.cache/kb-search``); later ones
map them into memory in milliseconds, and the workers of one server share the
pages. The classifier is py3langid's own, on the same arrays: the answers are
identical.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import lzma
import os
import re
import shutil
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import py3langid
from py3langid.langid import MODEL_DIR, MODEL_FILE, LanguageIdentifier

from . import settings
from .records import Passage

logger = logging.getLogger(__name__)

__all__ = ["LANGUAGE_NAMES", "language_code", "detect_language", "question_language", "assign_languages"]

#: ISO 639-1 code -> English name, for the languages that have a Snowball stemmer (the name is the stemmer's).
LANGUAGE_NAMES = {
    "ar": "arabic", "hy": "armenian", "eu": "basque", "ca": "catalan", "cs": "czech", "da": "danish", "nl": "dutch",
    "en": "english", "eo": "esperanto", "et": "estonian", "fi": "finnish", "fr": "french", "de": "german", "el": "greek",
    "hi": "hindi", "hu": "hungarian", "id": "indonesian", "ga": "irish", "it": "italian", "lt": "lithuanian",
    "ne": "nepali", "no": "norwegian", "fa": "persian", "pl": "polish", "pt": "portuguese", "ro": "romanian",
    "ru": "russian", "sr": "serbian", "es": "spanish", "sv": "swedish", "ta": "tamil", "tr": "turkish", "yi": "yiddish",
}
_CODES_BY_NAME = {name: code for code, name in LANGUAGE_NAMES.items()}
# Catalogue values such as "en", "EN", "en-GB", "pt_BR" or "Spanish".
_CODE_WITH_REGION = re.compile(r"^([a-z]{2})(?:[-_][a-z0-9]+)?$")

# Fewer characters than this are not worth asking about: a title or a label, not a sentence.
_MIN_CHARS = 20
# On the seminar's passages cut to 40-200 characters, no answer at or above 0.7 was wrong.
_MIN_CONFIDENCE = 0.7
# A passage overrides its document's language only when it is a sentence or two long and the
# detector is surer than for the document's own detection: a wrong override changes its stemming.
_PASSAGE_MIN_CHARS = 80
_PASSAGE_MIN_CONFIDENCE = 0.8
# Longer documents are judged on evenly spaced windows of their text: enough to tell, at a bounded cost.
_SAMPLE_WINDOWS = 10
_WINDOW_CHARS = 2000


# The arrays of py3langid's model file (modelio.save_model's names); bump the layout when the cache's format changes.
_MODEL_ARRAYS = ("ptc", "pc", "classes", "nextmove", "nextmove_row", "out_feat")
_CACHE_LAYOUT = 1


@functools.lru_cache(maxsize=1)
def _identifier() -> LanguageIdentifier:
    """py3langid's bundled model, loaded on first use (importing the indexer stays cheap)."""
    return load_identifier(settings.cache_dir())


def load_identifier(cache_dir: Path, model_file: Path = MODEL_DIR / MODEL_FILE) -> LanguageIdentifier:
    """py3langid's classifier (normalised probabilities) on its model, unpacked once into ``cache_dir``.

    Args:
        cache_dir: where the unpacked model is kept; when it cannot be written, the model is unpacked
            in memory each time, as py3langid itself does.
        model_file: the compressed model (py3langid's bundled one).

    Returns:
        A ``LanguageIdentifier`` that classifies exactly as ``LanguageIdentifier.from_model_file`` does.
    """
    folder = cache_dir / f"py3langid-{_model_key(model_file)}"
    try:
        return _identifier_from(_read_arrays(folder))
    except (OSError, ValueError, EOFError) as error:
        if folder.exists():  # damaged (this code writes all of it or nothing): unpack the model again
            logger.warning("the cached language model in %s is unreadable (%s); unpacking it again", folder, error)
            shutil.rmtree(folder, ignore_errors=True)
    arrays = _unpack(model_file)
    try:
        _write_arrays(folder, arrays)
        return _identifier_from(_read_arrays(folder))
    except (OSError, ValueError, EOFError) as error:
        logger.info("cannot keep the unpacked language model in %s (%s)", cache_dir, error)
        return _identifier_from(arrays)


def _model_key(model_file: Path) -> str:
    """Names one version of the model file (a new py3langid gives a new key) without reading it."""
    stat = model_file.stat()
    identity = f"{_CACHE_LAYOUT}|{py3langid.__version__}|{model_file.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
    return hashlib.sha256(identity.encode()).hexdigest()[:16]


def _unpack(model_file: Path) -> dict[str, np.ndarray]:
    """The model's arrays, decompressed (py3langid's ``modelio.load_model`` reads the same file)."""
    with tempfile.TemporaryFile(suffix=".npz") as unpacked:
        with lzma.open(model_file) as packed:
            shutil.copyfileobj(packed, unpacked, length=1 << 20)
        unpacked.seek(0)
        with np.load(unpacked, allow_pickle=False) as data:
            return {name: data[name] for name in _MODEL_ARRAYS}


def _write_arrays(folder: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write one ``.npy`` per array into ``folder`` atomically: a reader sees all of them or none."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        building.chmod(0o755)  # mkdtemp makes a private folder; the cached files are as readable as any
        for name, array in arrays.items():
            np.save(building / f"{name}.npy", array, allow_pickle=False)
        try:
            os.replace(building, folder)
        except OSError:
            if not folder.is_dir():  # not another process's copy of the same model
                raise
    finally:
        shutil.rmtree(building, ignore_errors=True)


def _read_arrays(folder: Path) -> dict[str, np.ndarray]:
    """The cached arrays, memory-mapped (read-only: the page cache holds one copy for every process)."""
    return {name: np.load(folder / f"{name}.npy", mmap_mode="r", allow_pickle=False) for name in _MODEL_ARRAYS}


def _identifier_from(arrays: dict[str, np.ndarray]) -> LanguageIdentifier:
    """py3langid's classifier on the arrays, in the types ``modelio.load_model`` gives it.

    The DFA tables are indexed one byte at a time from Python: a memoryview over the array gives
    Python ints as fast as the ``array.array`` py3langid makes, without copying 40 MB.
    """
    ptc, pc, nextmove, rows = (np.asarray(arrays[name]) for name in ("ptc", "pc", "nextmove", "nextmove_row"))
    if ptc.ndim != 2 or ptc.shape[1] != len(pc) or nextmove.size % 256 or len(rows) != len(arrays["out_feat"]):
        raise ValueError("inconsistent language model arrays")
    return LanguageIdentifier(ptc, np.array(pc), arrays["classes"].tolist(), memoryview(nextmove), arrays["out_feat"].tolist(),
                              norm_probs=True, tk_row=memoryview(rows))


def language_code(value: object) -> str:
    """The ISO 639-1 code a catalogue value names ("" when it names none).

    Args:
        value: a code (``es``, ``EN``, ``pt-BR``) or an English language name (``Spanish``).

    Returns:
        The two-letter code in lower case, or "".
    """
    text = str(value or "").strip().lower()
    matched = _CODE_WITH_REGION.match(text)
    if matched:
        return matched.group(1)
    return _CODES_BY_NAME.get(text, "")


def detect_language(text: str, *, min_confidence: float = _MIN_CONFIDENCE) -> str:
    """The language of a text, detected offline.

    Args:
        text: any text.
        min_confidence: the probability (0..1) below which the answer counts as unsure.

    Returns:
        An ISO 639-1 code, or "" when the text is too short or the detector is unsure.
    """
    if len(text.strip()) < _MIN_CHARS:
        return ""
    code, confidence = _identifier().classify(text)
    return code if confidence >= min_confidence else ""


@functools.lru_cache(maxsize=1024)
def question_language(question: str) -> str:
    """``detect_language`` of a question, remembered: a search asks it for stemming and for fusion alike."""
    return detect_language(question)


def _sample(text: str) -> str:
    """The text itself, or evenly spaced windows of it when it is long."""
    if len(text) <= _SAMPLE_WINDOWS * _WINDOW_CHARS:
        return text
    step = (len(text) - _WINDOW_CHARS) / (_SAMPLE_WINDOWS - 1)
    return "\n".join(text[round(i * step):round(i * step) + _WINDOW_CHARS] for i in range(_SAMPLE_WINDOWS))


def assign_languages(passages: list[Passage], catalog_language: str) -> tuple[str, list[Passage]]:
    """A document's language and its passages with ``Passage.language`` set.

    Args:
        passages: the document's passages, in order.
        catalog_language: the catalogue's ``language`` field ("" when not set); a value that names a
            language wins over detection.

    Returns:
        The document's language ("" when unknown) and the passages, each in the document's language
        unless it is long enough and confidently in another one (a bilingual deck's slides).
    """
    document_language = language_code(catalog_language)
    if not document_language:
        document_language = detect_language(_sample("\n".join(passage.text for passage in passages)))
    return document_language, [replace(passage, language=_passage_language(passage.text, document_language))
                               for passage in passages]


def _passage_language(text: str, document_language: str) -> str:
    """The passage's own language where it is long and clearly not the document's, else the document's."""
    if len(text) < _PASSAGE_MIN_CHARS:
        return document_language
    return detect_language(text, min_confidence=_PASSAGE_MIN_CONFIDENCE) or document_language
