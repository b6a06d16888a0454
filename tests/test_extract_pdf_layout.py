"""PDF page layout: running headers and page numbers dropped, lines joined into paragraphs."""

from __future__ import annotations

from indexer import extract

from .conftest import TOPICS, make_pdf


def test_pdf_running_header_and_page_footer_are_removed(tmp_path):
    path = make_pdf(tmp_path / "headed.pdf", [f"This page is about {topic}." for topic in TOPICS], header="ESSA meeting 2016")
    texts = [section.text for section in extract(path).sections]
    assert texts == [f"This page is about {topic}." for topic in TOPICS]
