"""The search page (search_app/pages.py) and the HTML error page, through Flask's test client."""

from __future__ import annotations

import pytest

from search_app.state import knowledge_base


def test_search_page_shows_escaped_highlighted_results(client):
    html = client.get("/?q=Universal Coverage Scheme").get_data(as_text=True)
    assert "<mark>Universal</mark>" in html
    assert "thailand.pptx" in html
    assert "slide 2" in html


def test_search_page_escapes_document_markup(make_app, tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "evil.md").write_text("# Evil\n\nPensions <script>alert(1)</script> and <img src=x onerror=alert(2)>\n", encoding="utf-8")
    app = make_app(tmp_path / "data")
    knowledge_base(app).index([folder])
    html = app.test_client().get("/?q=pensions alert").get_data(as_text=True)
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;img src=x onerror=alert(2)&gt;" in html or "Pensions" in html


def test_search_page_explains_problems_without_error_status(client, empty_client):
    assert client.get("/").status_code == 200
    response = client.get("/?q=" + "y" * 600)
    assert response.status_code == 200 and "limit is 500" in response.get_data(as_text=True)
    response = empty_client.get("/?q=pensions")
    assert response.status_code == 200 and "kb index" in response.get_data(as_text=True)


@pytest.mark.parametrize("query, explanation", [("q=pension&k=ten", "must be a whole number"),
                                                ("q=pension&colour=red", "unknown filter colour"),
                                                ("q=pension&mode=magic", "magic")])
def test_bad_input_is_explained_on_the_page(client, query, explanation):
    response = client.get(f"/?{query}")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert '<p class="notice" role="alert">' in html and explanation in html
    assert '<form class="ask"' in html  # the question box stays, to try again


def test_an_unknown_page_is_an_html_error_page(client):
    response = client.get("/no-such-page")
    html = response.get_data(as_text=True)
    assert response.status_code == 404 and response.mimetype == "text/html"
    assert "<title>Error 404" in html and 'role="alert"' in html and 'href="/"' in html


def test_search_page_offers_facets_that_filter(client):
    html = client.get("/?q=workers pension").get_data(as_text=True)
    assert 'href="/?q=workers+pension&amp;type=presentation"' in html
    filtered = client.get("/?q=workers pension&type=presentation").get_data(as_text=True)
    assert "thailand.pptx" in filtered and "zambia.docx" not in filtered
    assert "Remove filter type presentation" in filtered


def test_the_answering_sentence_is_bold_and_a_long_passage_starts_with_it():
    from indexer.records import Document, Hit, Location, Passage
    from search_app.pages import marked_segments, shown_from

    text = "Intro words. " * 40 + "Herders in Mongolia get pensions. More text follows here."
    start = text.index("Herders")
    hit = Hit(rank=1, score=1.0, passage=Passage(text=text, location=Location(page=1)),
              document=Document(id=1, path="a.pdf", filename="a.pdf", title="A", type="report", format="pdf", sha256="x",
                                size=1, indexed_at=""),
              highlights=((start, start + 7),), answer=(start, start + len("Herders in Mongolia get pensions.")))
    assert shown_from(hit) == start
    pieces = marked_segments(hit, shown_from(hit))
    assert "".join(piece.text for piece in pieces) == text[start:]
    assert [(piece.text, piece.term, piece.answer) for piece in pieces[:2]] == [
        ("Herders", True, True), (" in Mongolia get pensions.", False, True)]
    assert not pieces[-1].answer
    assert shown_from(Hit(rank=1, score=1.0, passage=hit.passage, document=hit.document)) == 0  # no answer: from the start


def test_search_page_marks_answers_in_bold(client):
    page = client.get("/?q=pension+coverage+for+rural+workers").get_data(as_text=True)
    assert '<strong class="answer">' in page
