"""Sentence splitting and passage windows: length, overlap, coverage, offsets and locations."""

from __future__ import annotations

import pytest

from indexer.chunk import ChunkSettings, chunk_sections, sentence_spans
from indexer.records import Location, Section

SETTINGS = ChunkSettings(max_words=30, overlap_words=12)  # every test sentence fits the overlap


def _sentences(count: int) -> list[str]:
    """Sentences of 3 to 11 words, each naming its number so none repeats."""
    return [f"Sentence {n} " + " ".join(f"word{n}x{w}" for w in range(1 + n % 9)) + "." for n in range(count)]


def _section(count: int = 40, page: int = 3, heading: str = "Pensions") -> Section:
    return Section(text=" ".join(_sentences(count)), location=Location(page=page), heading=heading)


def _words(text: str) -> int:
    return len(text.split())


def test_sentences_split_after_full_stop_and_capital():
    text = "Coverage rose. Pensions grew! Did it work? Yes. 2010 was the start."
    assert [text[s:e] for s, e in sentence_spans(text, 100)] == [
        "Coverage rose.", "Pensions grew!", "Did it work?", "Yes.", "2010 was the start."]


def test_no_split_before_lowercase_or_inside_numbers():
    text = "Schemes, e.g. the rural one, paid 3.5 million people. The end."
    assert [text[s:e] for s, e in sentence_spans(text, 100)] == [
        "Schemes, e.g. the rural one, paid 3.5 million people.", "The end."]


def test_line_breaks_split_sentences_and_blank_lines_vanish():
    text = "Title line\n\nfirst bullet\nsecond bullet  \n"
    assert [text[s:e] for s, e in sentence_spans(text, 100)] == ["Title line", "first bullet", "second bullet"]


def test_closing_quote_or_bracket_stays_with_its_sentence():
    text = 'He said "It works." Then (see above.) Next one.'
    assert [text[s:e] for s, e in sentence_spans(text, 100)] == ['He said "It works."', "Then (see above.)", "Next one."]


def test_over_long_sentence_is_cut_at_max_words():
    text = " ".join(f"w{i}" for i in range(25)) + "."
    spans = sentence_spans(text, 10)
    assert [_words(text[s:e]) for s, e in spans] == [10, 10, 5]
    assert " ".join(text[s:e] for s, e in spans) == text


def test_passages_never_exceed_max_words():
    passages = chunk_sections([_section()], SETTINGS)
    assert len(passages) > 3
    assert all(_words(passage.text) <= SETTINGS.max_words for passage in passages)


def test_over_long_sentence_becomes_passages_of_max_words():
    long_sentence = " ".join(f"w{i}" for i in range(70)) + "."
    section = Section(text=f"Short start. {long_sentence} Short end.", location=Location(slide=2))
    passages = chunk_sections([section], SETTINGS)
    assert max(_words(passage.text) for passage in passages) == SETTINGS.max_words
    assert all(_words(passage.text) <= SETTINGS.max_words for passage in passages)
    covered = {word for passage in passages for word in passage.text.split()}
    assert {f"w{i}" for i in range(69)} | {"w69.", "start.", "end."} <= covered


def test_consecutive_passages_overlap():
    passages = chunk_sections([_section()], SETTINGS)
    for before, after in zip(passages, passages[1:]):
        assert before.char_start < after.char_start < before.char_end <= after.char_end
        assert _words(before.text[after.char_start - before.char_start:]) <= SETTINGS.overlap_words


def test_no_overlap_when_overlap_is_zero():
    passages = chunk_sections([_section()], ChunkSettings(max_words=30, overlap_words=0))
    assert all(after.char_start > before.char_end for before, after in zip(passages, passages[1:]))


def test_every_sentence_is_in_some_passage():
    section = _section()
    passages = chunk_sections([section], SETTINGS)
    for sentence in _sentences(40):
        start = section.text.index(sentence)
        end = start + len(sentence)
        assert any(p.char_start <= start and end <= p.char_end for p in passages), sentence


def test_passage_text_is_its_slice_of_the_section():
    sections = [_section(page=1), Section(text="Line one\nLine two.\n\nLine three.", location=Location(slide=4))]
    for passage in chunk_sections(sections, SETTINGS):
        source = sections[0] if passage.location.page == 1 else sections[1]
        assert passage.text == source.text[passage.char_start:passage.char_end]
        assert passage.text == passage.text.strip()


def test_location_heading_and_ordinals_are_carried_across_sections():
    sections = [_section(page=1, heading="Pensions"), _section(page=2, heading="Health"), Section(text="", location=Location(page=3))]
    passages = chunk_sections(sections, SETTINGS)
    assert [passage.ordinal for passage in passages] == list(range(len(passages)))
    carried = [(passage.location, passage.heading) for passage in passages]
    second = carried.index((Location(page=2), "Health"))
    assert set(carried[:second]) == {(Location(page=1), "Pensions")}
    assert set(carried[second:]) == {(Location(page=2), "Health")}


@pytest.mark.parametrize("text", ["", "   \n\n  "])
def test_blank_section_gives_no_passage(text):
    assert chunk_sections([Section(text=text, location=Location())], SETTINGS) == []


def test_short_section_is_one_passage():
    section = Section(text="One. Two words.", location=Location(section="Intro"), heading="Intro")
    (passage,) = chunk_sections([section], SETTINGS)
    assert (passage.text, passage.char_start, passage.char_end, passage.location.section) == ("One. Two words.", 0, 15, "Intro")


def _heading_section(heading: str, body: str = "") -> Section:
    return Section(text=f"{heading}\n{body}" if body else f" {heading} \n", location=Location(section=heading), heading=heading)


def test_heading_followed_by_a_sub_heading_is_no_passage():
    sections = [_heading_section("Domestic workers"), _heading_section("Domestic workers: who they are", "Most are women. Few have contracts.")]
    passages = chunk_sections(sections, SETTINGS)
    assert [passage.heading for passage in passages] == ["Domestic workers: who they are"]
    assert passages[0].ordinal == 0


def test_document_of_headings_alone_keeps_them():
    passages = chunk_sections([_heading_section("Annex"), _heading_section("Tables")], SETTINGS)
    assert [passage.text for passage in passages] == ["Annex", "Tables"]
