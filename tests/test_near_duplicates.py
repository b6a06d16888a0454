"""Near duplicates: the same deck as PPTX and PDF is found when indexed and shown once, with "also as"."""

from __future__ import annotations

import numpy as np
import pytest

from indexer.near_duplicates import THRESHOLD, signature, similar_documents
from indexer.serialize import result_to_dict

from .conftest import make_docx, make_pdf, make_pptx

SLIDES = [
    ("Extending coverage in Viet Nam", ["Voluntary social insurance for informal workers", "Premium subsidies of 30 per cent for poor households"]),
    ("Obstacles in Indonesia", ["Low awareness of the schemes among market vendors", "Registration offices far from rural villages"]),
    ("What worked", ["Collecting contributions through cooperatives", "Mobile payment of monthly premiums"]),
]


def _deck_pair(folder):
    make_pptx(folder / "obstacles.pptx", [{"title": title, "bullets": bullets} for title, bullets in SLIDES])
    make_pdf(folder / "obstacles.pdf", ["\n".join([title, *bullets]) for title, bullets in SLIDES], title="Obstacles deck")


def test_versions_of_one_text_are_similar_and_other_texts_are_not():
    brief = [
        "Informal workers in Zambia rarely contribute to the national pension scheme because their incomes vary.",
        "Construction workers change sites often and are hired casually by small contractors.",
        "Domestic workers seldom have written contracts with the households that employ them.",
        "Small-scale farmers earn most of their income once a year, at harvest time.",
        "The field research proposes flexible contributions collected through associations.",
    ]
    revised = brief[:4] + ["The field research proposes flexible contributions collected by mobile money."]
    other = ["Mongolia pays maternity benefits to herders through the social insurance fund and local offices."]
    own = signature(brief)
    found = similar_documents(own, {1: signature(revised), 2: signature(other)})
    assert set(found) == {1} and found[1] >= THRESHOLD
    assert signature(brief).dtype == np.uint64 and np.array_equal(signature(brief), own)


def test_the_same_deck_as_pptx_and_pdf_is_shown_once_with_also_as(fake_kb, tmp_path):
    folder = tmp_path / "decks"
    folder.mkdir()
    _deck_pair(folder)
    make_docx(folder / "mongolia.docx", {"Maternity": ["Herders in Mongolia receive maternity benefits from the fund."]})
    report = fake_kb.index([folder])
    twins = {entry.path.rsplit("/", 1)[-1]: entry.near_duplicates for entry in report.files}
    assert twins["obstacles.pdf"] == ("obstacles.pptx",) or twins["obstacles.pptx"] == ("obstacles.pdf",)
    assert twins["mongolia.docx"] == ()
    result = fake_kb.search("cooperatives collecting contributions mobile premiums", k=10, mode="keyword")
    shown = [hit.document.filename for hit in result.hits]
    assert len({"obstacles.pdf", "obstacles.pptx"} & set(shown)) == 1
    first = result.hits[0]
    assert [twin.filename for twin in first.also_as] == [({"obstacles.pdf", "obstacles.pptx"} - {first.document.filename}).pop()]
    also = result_to_dict(result)["results"][0]["also_as"]
    assert also[0]["url"].startswith("/api/documents/") and also[0]["format"] in {"pdf", "pptx"}
    both = fake_kb.search("cooperatives collecting contributions mobile premiums", k=10, mode="keyword", collapse=False)
    assert {"obstacles.pdf", "obstacles.pptx"} <= {hit.document.filename for hit in both.hits}


def test_removing_one_version_leaves_the_other_alone(fake_kb, tmp_path):
    folder = tmp_path / "decks"
    folder.mkdir()
    _deck_pair(folder)
    fake_kb.index([folder])
    pdf = next(document for document in fake_kb.documents() if document.filename == "obstacles.pdf")
    fake_kb.remove(pdf.id)
    hits = fake_kb.search("cooperatives collecting contributions", k=10, mode="keyword").hits
    assert [hit.document.filename for hit in hits] == ["obstacles.pptx"] and hits[0].also_as == ()


@pytest.mark.parametrize("texts", [[], [""], ["one"]])
def test_tiny_documents_still_get_a_signature(texts):
    assert signature(texts).shape == (128,)


def test_the_search_page_shows_a_deck_once_with_its_other_format(fake_kb, make_app, tmp_path):
    folder = tmp_path / "decks"
    folder.mkdir()
    _deck_pair(folder)
    fake_kb.index([folder])
    app = make_app(fake_kb.data_dir)
    page = app.test_client().get("/", query_string={"q": "cooperatives collecting contributions mobile premiums"})
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert html.count("Also as:") >= 1
    assert ("obstacles.pdf</a> (PDF)" in html) != ("obstacles.pptx</a> (PPTX)" in html)  # the other format, linked once
