"""Notices: a line every document repeats on its first page is kept out of passages and kept with the document."""

from __future__ import annotations

from indexer.notices import find_notices, notice_key, strip_notices
from indexer.records import ExtractedText, Location, Section

from .conftest import make_docx, make_pdf

NOTICE = "Reconstruction for this knowledge base — not the original ILO publication."


def _text(*sections: str) -> ExtractedText:
    return ExtractedText(title="t", format="pdf", sections=tuple(Section(text, Location(page=n)) for n, text in enumerate(sections, 1)))


def test_a_line_most_documents_open_with_is_a_notice():
    documents = [_text(f"{NOTICE}\n\nBody of note {n} about pensions.") for n in range(3)] + [_text("Another file entirely.")]
    assert find_notices(documents) == {notice_key(NOTICE)}


def test_short_lines_and_lines_of_few_documents_are_no_notices():
    documents = [_text("Abstract\n\nSomething.") for _ in range(4)] + [_text(f"{NOTICE}\n\nBody.")] * 2
    assert find_notices(documents) == set()


def test_stripping_keeps_the_rest_and_returns_the_notice():
    extracted, notice = strip_notices(_text(f"{NOTICE}\n\nFirst paragraph.\n\nSecond.", "Page two."), {notice_key(NOTICE)})
    assert notice == NOTICE
    assert [section.text for section in extracted.sections] == ["First paragraph.\n\nSecond.", "Page two."]
    untouched, none = strip_notices(_text("No notice here."), {notice_key(NOTICE)})
    assert none == "" and untouched.sections[0].text == "No notice here."


def test_indexing_a_collection_keeps_its_notice_out_of_passages(fake_kb, tmp_path):
    folder = tmp_path / "collection"
    folder.mkdir()
    for name in ("china", "zambia", "thailand"):
        make_pdf(folder / f"{name}.pdf", [f"{NOTICE.replace('—', '-')}\n\nThis note is about {name} pensions."], title=name)
    make_docx(folder / "mongolia.docx", {"Maternity": ["Herders in Mongolia receive maternity benefits."]})
    fake_kb.index([folder])
    documents = {document.filename: document for document in fake_kb.documents()}
    expected = NOTICE.replace("—", "-")
    assert {name: documents[name].notice for name in documents} == {
        "china.pdf": expected, "zambia.pdf": expected, "thailand.pdf": expected, "mongolia.docx": ""}
    hits = fake_kb.search("reconstruction knowledge base original publication", k=10, mode="keyword").hits
    assert all("Reconstruction" not in hit.passage.text for hit in hits)
    # A document added later loses the notice the collection is known to carry.
    make_pdf(tmp_path / "viet-nam.pdf", [f"{expected}\n\nViet Nam extends health insurance."], title="Viet Nam")
    added = fake_kb.add(tmp_path / "viet-nam.pdf")
    assert added.notice == expected


def test_the_search_page_shows_the_notice_once_per_document(fake_kb, make_app, tmp_path):
    folder = tmp_path / "collection"
    folder.mkdir()
    for name in ("china", "zambia", "thailand"):
        make_pdf(folder / f"{name}.pdf", [f"{NOTICE.replace('—', '-')}\n\nThis note is about {name} pensions.",
                                           f"More on {name} pensions and coverage."])
    fake_kb.index([folder])
    app = make_app(fake_kb.data_dir)
    html = app.test_client().get("/", query_string={"q": "pensions coverage", "per_document": 0}).get_data(as_text=True)
    shown = html.count('<div class="notice">')
    assert shown == 3 and html.count("This note is about") + html.count("More on") > shown  # once per document, not per passage
