"""The language of documents and passages: ISO 639-1 codes, detected offline by py3langid.

py3langid's bundled model (97 languages, numpy only, nothing downloaded) gives a
probability per language. Its answers are reliable once the text is a sentence
long; on a few words it is often wrong but then also unsure, so an answer below
the confidence threshold counts as no answer ("").
"""

from __future__ import annotations

import functools
import re
from dataclasses import replace

from py3langid.langid import MODEL_FILE, LanguageIdentifier

from .records import Passage

__all__ = ["LANGUAGE_NAMES", "language_code", "detect_language", "assign_languages"]

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


@functools.lru_cache(maxsize=1)
def _identifier():
    """py3langid's bundled model, loaded on first use (importing the indexer stays cheap)."""
    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


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
