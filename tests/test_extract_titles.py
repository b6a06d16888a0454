"""Choosing a document's title: the first meaningful candidate, else the file name as words."""

from __future__ import annotations

from pathlib import Path

from indexer.extract.titles import choose_title, meaningful_title, readable_file_name


def test_file_names_become_words():
    assert readable_file_name(Path("reports/Zambia_report-2017.pdf")) == "Zambia report 2017"
    assert readable_file_name(Path("___.pdf")) == "___.pdf"  # nothing but separators: the name as it is


def test_the_first_meaningful_candidate_wins_and_its_spacing_is_tidied():
    assert choose_title(Path("x.pdf"), "Untitled", "", "Social   protection\nin Thailand", "Later") == "Social protection in Thailand"


def test_long_and_file_like_candidates_give_way():
    assert meaningful_title("A" * 201) == ""
    assert meaningful_title("drafts/pension-note") == ""
