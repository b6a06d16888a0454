"""Detected language: codes, detection on short en/es/fr texts, document and passage languages, the language filter,
and the unpacked model kept in the cache directory."""

from __future__ import annotations

import logging

import pytest
from py3langid.langid import MODEL_FILE, LanguageIdentifier

from indexer import language
from indexer.language import assign_languages, detect_language, language_code
from indexer.records import Document, Location, Passage
from indexer.search import SearchRequest, search

from .conftest import FakeEmbedder

ENGLISH = "Domestic workers rarely have written contracts with the households that employ them."
SPANISH = "Las trabajadoras domésticas rara vez tienen contratos escritos con los hogares que las emplean."
FRENCH = "Les travailleurs domestiques ont rarement un contrat écrit avec les ménages qui les emploient."


def _passages(*texts: str) -> list[Passage]:
    return [Passage(text=text, location=Location(slide=n + 1), ordinal=n, char_end=len(text)) for n, text in enumerate(texts)]


@pytest.mark.parametrize("text, code", [
    (ENGLISH, "en"), (SPANISH, "es"), (FRENCH, "fr"),
    ("How can self-employed people join a pension scheme in Thailand?", "en"),
    ("El monotributo social facilita la formalización de los pequeños contribuyentes.", "es"),
    ("La formalisation des petites entreprises reste un défi majeur.", "fr"),
])
def test_detects_english_spanish_and_french_sentences(text, code):
    assert detect_language(text) == code


@pytest.mark.parametrize("text", ["", "   ", "Merci !", "Key findings", "Conclusiones"])
def test_too_short_or_unsure_text_has_no_language(text):
    assert detect_language(text) == ""


@pytest.mark.parametrize("value, code", [("es", "es"), ("EN", "en"), (" fr ", "fr"), ("pt-BR", "pt"), ("Spanish", "es"),
                                         ("", ""), (None, ""), ("bilingual", "")])
def test_catalogue_values_become_iso_codes(value, code):
    assert language_code(value) == code


def test_the_catalogue_language_wins_over_detection():
    language, passages = assign_languages(_passages("Zusammenfassung der Sitzung", "Ergebnisse"), "Spanish")
    assert language == "es"
    assert [passage.language for passage in passages] == ["es", "es"]


def test_without_a_catalogue_value_the_whole_text_decides():
    language, passages = assign_languages(_passages(FRENCH, "Merci !", "Prochaines étapes"), "")
    assert language == "fr"
    assert {passage.language for passage in passages} == {"fr"}


def test_a_bilingual_deck_gets_a_language_per_passage():
    deck = _passages(ENGLISH, SPANISH, "Coverage grew quickly because enrolment was linked to household registration.",
                     "Extension of social protection to workers in the informal economy of every ASEAN member state.", "¡Gracias!")
    language, passages = assign_languages(deck, "en")
    assert language == "en"
    # Long passages say their own language; a short one ("¡Gracias!") keeps the document's.
    assert [passage.language for passage in passages] == ["en", "es", "en", "en", "en"]
    assert [passage.text for passage in passages] == [passage.text for passage in deck]


def test_a_long_document_is_judged_on_a_sample():
    language, passages = assign_languages(_passages(*[FRENCH] * 400), "")
    assert language == "fr" and len(passages) == 400


def test_an_empty_document_has_no_language():
    assert assign_languages([], "") == ("", [])


def _save(store, path: str, text: str, language: str, metadata: dict) -> Document:
    document = Document(id=0, path=path, filename=path, title=path, type="note", format="text", sha256=f"sha-{path}", size=1,
                        indexed_at="", metadata=metadata, language=language)
    passage = Passage(text=text, location=Location(page=1), char_end=len(text), language=language)
    with store.writing():
        return store.save_document(document, [passage], FakeEmbedder().encode([text]))


def test_language_filter_and_facet_fall_back_to_the_detected_language(store):
    _save(store, "catalogued.md", "Seguro de salud para trabajadores informales.", "es", {"language": "es"})
    _save(store, "detected.md", "Seguro social para trabajadores rurales.", "es", {})
    _save(store, "english.md", "Health insurance for informal workers.", "en", {})
    request = SearchRequest(query="seguro trabajadores workers", k=10, mode="keyword", filters={"language": ("ES",)})
    result = search(store, FakeEmbedder(), request)
    assert {hit.document.path for hit in result.hits} == {"catalogued.md", "detected.md"}
    everything = search(store, FakeEmbedder(), SearchRequest(query="seguro trabajadores workers", k=10, mode="keyword", facets=True))
    assert everything.facets["language"] == {"es": 2, "en": 1}


# --- the unpacked model in the cache directory --------------------------------------------------------------------

CLASSIFIED = [ENGLISH, SPANISH, FRENCH, "How can self-employed people join a pension scheme in Thailand?",
              "El monotributo social facilita la formalización de los pequeños contribuyentes.",
              "La formalisation des petites entreprises reste un défi majeur.", "DOMESTIC WORKERS IN ZAMBIA", "Merci !", "",
              "Beschäftigte im informellen Sektor", "社会保障の適用拡大", FRENCH * 50]


@pytest.fixture(scope="module")
def reference() -> LanguageIdentifier:
    """py3langid's own loading of its bundled model."""
    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


@pytest.fixture(scope="module")
def unpacked() -> dict:
    return language._unpack(language.MODEL_DIR / MODEL_FILE)


def _assert_classifies_like(identifier: LanguageIdentifier, reference: LanguageIdentifier) -> None:
    for text in CLASSIFIED:
        assert identifier.classify(text) == reference.classify(text), text
        assert identifier.rank(text) == reference.rank(text), text


def test_the_cached_model_gives_py3langids_answers(tmp_path, reference):
    first = language.load_identifier(tmp_path)  # unpacks the model and keeps it
    assert [path.name for path in tmp_path.iterdir()] == [f"py3langid-{language._model_key(language.MODEL_DIR / MODEL_FILE)}"]
    again = language.load_identifier(tmp_path)  # maps the kept arrays
    for identifier in (first, again):
        _assert_classifies_like(identifier, reference)
    assert [again.classify(text)[0] for text in (ENGLISH, SPANISH, FRENCH)] == ["en", "es", "fr"]


def test_a_kept_model_is_not_unpacked_again(tmp_path, unpacked, reference, monkeypatch):
    monkeypatch.setattr(language, "_unpack", lambda model_file: unpacked)
    language.load_identifier(tmp_path)
    monkeypatch.setattr(language, "_unpack", lambda model_file: pytest.fail("unpacked twice"))
    _assert_classifies_like(language.load_identifier(tmp_path), reference)


def test_a_damaged_cache_is_unpacked_again(tmp_path, unpacked, reference, monkeypatch, caplog):
    monkeypatch.setattr(language, "_unpack", lambda model_file: unpacked)
    language.load_identifier(tmp_path)
    (kept,) = tmp_path.iterdir()
    (kept / "nextmove.npy").write_bytes((kept / "nextmove.npy").read_bytes()[:1000])
    with caplog.at_level(logging.WARNING, logger="indexer.language"):
        _assert_classifies_like(language.load_identifier(tmp_path), reference)
    assert "unreadable" in caplog.text
    assert language._read_arrays(kept)["nextmove"].shape == unpacked["nextmove"].shape


def test_without_a_writable_cache_the_model_is_unpacked_in_memory(tmp_path, unpacked, reference, monkeypatch):
    monkeypatch.setattr(language, "_unpack", lambda model_file: unpacked)
    not_a_folder = tmp_path / "cache"
    not_a_folder.write_text("a file where the cache folder should be")
    _assert_classifies_like(language.load_identifier(not_a_folder), reference)


def test_detection_uses_the_kb_cache_dir(tmp_path, unpacked, monkeypatch):
    monkeypatch.setenv("KB_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(language, "_unpack", lambda model_file: unpacked)
    language._identifier.cache_clear()
    try:
        assert detect_language(SPANISH) == "es"
        assert [path.name.startswith("py3langid-") for path in tmp_path.iterdir()] == [True]
    finally:
        language._identifier.cache_clear()
