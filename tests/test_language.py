"""Detected language: codes, detection on short en/es/fr texts, document and passage languages, the language filter."""

from __future__ import annotations

import pytest

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
    everything = search(store, FakeEmbedder(), SearchRequest(query="seguro trabajadores workers", k=10, mode="keyword"))
    assert everything.facets["language"] == {"es": 2, "en": 1}
