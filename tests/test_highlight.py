"""Highlights: the query's words found in a passage by their stems, with offsets into the original text."""

from __future__ import annotations

import pytest

from indexer.highlight import highlight_ranges, query_terms

SPANISH = "Índice de protección social. La PROTECCIÓN y el índice."


def _highlighted(text: str, question: str, language: str = "", languages: tuple[str, ...] = ("en",)) -> list[str]:
    ranges = highlight_ranges(text, query_terms(question, languages), language)
    assert list(ranges) == sorted(ranges)
    assert all(end <= start for (_, end), (start, _) in zip(ranges, ranges[1:]))  # sorted and non-overlapping
    return [text[start:end] for start, end in ranges]


def test_query_terms_drop_stop_words_and_one_letter_words_and_stem_the_rest():
    assert query_terms("What are the pensions of a worker in Zambia? I x") == {"pension", "worker", "zambia"}
    assert query_terms("the of and a") == frozenset()
    assert query_terms("") == frozenset()


def test_query_terms_stem_in_every_language_given():
    assert query_terms("formalización", ("es",)) == {"formaliz"}
    assert query_terms("formalización", ("en", "es")) == {"formalizacion", "formaliz"}
    assert query_terms("formalización", ("es", "es")) == {"formaliz"}


def test_inflected_forms_of_a_word_are_highlighted_whatever_their_case():
    text = "Workers meet the WORKER union; a worker's contract binds all workers."
    assert _highlighted(text, "worker") == ["Workers", "WORKER", "worker", "workers"]


def test_only_whole_words_are_highlighted():
    assert _highlighted("Coworkers and workers", "workers") == ["workers"]


@pytest.mark.parametrize("question, found", [
    ("indice proteccion", ["Índice", "protección", "PROTECCIÓN", "índice"]),
    ("índices protecciones", ["Índice", "protección", "PROTECCIÓN", "índice"]),
    ("ÍNDICE", ["Índice", "índice"]),
])
def test_accented_spanish_words_are_found_from_accented_and_unaccented_questions(question, found):
    assert _highlighted(SPANISH, question, "es", ("en", "es")) == found
    assert highlight_ranges(SPANISH, query_terms(question, ("es",)), "es")[0] == (0, len("Índice"))


def test_text_whose_lower_case_is_longer_still_gets_offsets_into_the_original():
    text = "İstanbul: workers meet the Worker union; WORKERS."
    assert len(text.lower()) == len(text) + 1  # "İ".lower() is two characters
    assert highlight_ranges(text, query_terms("worker")) == ((10, 17), (27, 33), (41, 48))
    assert _highlighted(text, "worker") == ["workers", "Worker", "WORKERS"]


def test_a_word_that_starts_with_dotted_capital_i_is_highlighted_whole():
    text = "Workers of İstanbul and istanbul workers."
    assert _highlighted(text, "istanbul workers") == ["Workers", "İstanbul", "istanbul", "workers"]


def test_accents_and_a_dotted_capital_i_together_keep_spanish_offsets():
    text = "İ Índice de protección"
    assert _highlighted(text, "indice proteccion", "es", ("es",)) == ["Índice", "protección"]


def test_no_terms_highlight_nothing():
    assert highlight_ranges("Pensions for workers", frozenset()) == ()
    assert highlight_ranges("Pensions for workers", query_terms("the of")) == ()
    assert highlight_ranges("", query_terms("pension")) == ()


def test_words_absent_from_the_text_highlight_nothing():
    assert highlight_ranges("Health insurance in Thailand", query_terms("pension")) == ()
