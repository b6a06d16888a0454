"""Keyword search and highlights stemmed per language: Spanish and French words meet their other forms."""

from __future__ import annotations

import pytest

from indexer.highlight import highlight_ranges, query_terms
from indexer.keyword import fts_query, index_stems, keyword_search, question_languages
from indexer.records import Document, Location, Passage

from .conftest import HOSTILE, FakeEmbedder

SPANISH = "El monotributo social facilita la formalización de los pequeños contribuyentes."
FRENCH = "La formalisation des petites entreprises reste un défi pour la sécurité sociale."
ENGLISH = "Domestic workers rarely have written contracts with their employers."


def _keyword(store, question: str, k: int) -> dict[int, float]:
    """Keyword search as ``search`` runs it: the question stemmed in the languages it and the index call for."""
    return keyword_search(store.keyword_index(), question, k, question_languages(question, store.languages()))


def _save(store, path: str, texts: list[tuple[str, str]], title: str = "Note") -> list[int]:
    """Store a document of (text, language) passages; return the passage ids."""
    document = Document(id=0, path=path, filename=path, title=title, type="note", format="text", sha256=f"sha-{path}", size=1,
                        indexed_at="")
    passages = [Passage(text=text, location=Location(page=n + 1), ordinal=n, char_end=len(text), language=language)
                for n, (text, language) in enumerate(texts)]
    with store.writing():
        saved = store.save_document(document, passages, FakeEmbedder().encode([text for text, _ in texts]))
    return [row[0] for row in store.connection().execute("SELECT id FROM passages WHERE document_id = ? ORDER BY id", (saved.id,))]


@pytest.fixture
def trilingual(store):
    ids = {"es": _save(store, "es.md", [(SPANISH, "es")])[0], "fr": _save(store, "fr.md", [(FRENCH, "fr")])[0],
           "en": _save(store, "en.md", [(ENGLISH, "en")])[0]}
    return store, ids


def _highlighted(store, text: str, question: str, language: str) -> list[str]:
    terms = query_terms(question, question_languages(question, store.languages()))
    return [text[start:end] for start, end in highlight_ranges(text, terms, language)]


def test_passages_are_indexed_as_stems_of_their_own_language_and_of_english():
    assert index_stems("La formalización", "es") == "la formaliz formalizacion"
    assert index_stems("La formalisation", "fr") == "la formalis"
    assert index_stems("Workers' contracts", "") == index_stems("Workers' contracts", "en") == "worker contract"
    assert index_stems(None, "es") == ""


def test_a_spanish_passage_is_found_and_highlighted_by_another_form_of_its_word(trilingual):
    store, ids = trilingual
    assert list(_keyword(store, "formalizar", 5)) [:1] == [ids["es"]]
    assert _highlighted(store, SPANISH, "formalizar", "es") == ["formalización"]


def test_a_french_passage_is_found_and_highlighted_by_another_form_of_its_word(trilingual):
    store, ids = trilingual
    assert ids["fr"] in _keyword(store, "formaliser les entreprises", 5)
    assert _highlighted(store, FRENCH, "formaliser les entreprises", "fr") == ["formalisation", "entreprises"]


def test_english_keeps_its_stemming(trilingual):
    store, ids = trilingual
    assert list(_keyword(store, "domestic worker contract", 5)) == [ids["en"]]
    assert _highlighted(store, ENGLISH, "domestic worker contract", "en") == ["Domestic", "workers", "contracts"]


def test_highlights_match_words_whose_accent_the_stemmer_drops(store):
    text = "Índice de cobertura del órgano rector."
    _save(store, "indice.md", [(text, "es")])
    assert _highlighted(store, text, "indices organos", "es") == ["Índice", "órgano"]


def test_the_question_is_stemmed_in_english_and_its_own_language(trilingual):
    store, _ = trilingual
    held = store.languages()
    assert held == ("en", "es", "fr")
    assert question_languages("What does the monthly payment of a monotributista cover?", held) == ("en",)
    assert question_languages("¿Qué organismo recauda el monotributo en cada uno de los tres países?", held) == ("en", "es")
    # Too short to tell: every language the index holds.
    assert question_languages("formalizar", held) == ("en", "es", "fr")
    assert fts_query("formalizar", ("en", "es", "fr")) == '"formalizar" OR "formaliz"'
    assert fts_query("formalizar") == '"formalizar"'


def test_an_english_question_reaches_a_spanish_passage_through_its_english_stems(trilingual):
    store, ids = trilingual
    question = "How does the social monotributo help small contributors?"
    assert ids["es"] in _keyword(store, question, 5)
    assert _highlighted(store, SPANISH, question, "es") == ["monotributo", "social"]


def test_the_languages_follow_the_index(store):
    assert store.languages() == ("en",)
    _save(store, "unknown.md", [(ENGLISH, "")])
    assert store.languages() == ("en",)
    _save(store, "fr.md", [(FRENCH, "fr")])
    assert store.languages() == ("en", "fr")
    # Kept by the writers, so a reader never scans every passage for them.
    assert store.connection().execute("SELECT value FROM meta WHERE key = 'languages'").fetchone()[0] == '["", "fr"]'


def test_changing_the_title_restems_the_context_in_the_passage_language(store):
    passage_id = _save(store, "es.md", [("Texto sin la palabra buscada.", "es")], title="Informe")[0]
    assert _keyword(store, "formalizar", 5) == {}
    document_id = store.find_document(path="es.md").id
    store.update_fields(document_id, "La formalización del empleo", "note", {})
    assert list(_keyword(store, "formalizar", 5)) == [passage_id]


@pytest.mark.parametrize("query", HOSTILE)
def test_hostile_input_is_searched_as_text_in_every_language(trilingual, query):
    store, ids = trilingual
    found = _keyword(store, query, 5)
    assert set(found) <= set(ids.values())
    assert store.counts() == (3, 3)
