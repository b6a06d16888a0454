"""The JSON shapes of documents, hits and results, as README's JSON API section documents them."""

from __future__ import annotations

import json

import pytest

from indexer.records import Hit, Location, Passage, SearchResult
from indexer.serialize import document_to_dict, hit_to_dict, result_to_dict

from .conftest import make_document

# README, "JSON API": the fields of `GET /api/search` and `GET /api/documents`.
RESULT_FIELDS = {"query", "mode", "took_ms", "facets", "results"}
HIT_FIELDS = {"rank", "score", "text", "heading", "highlights", "answer", "document", "location", "passage_id", "also_as"}
HIT_DOCUMENT_FIELDS = {"id", "title", "type", "filename", "url", "notice"}
TWIN_FIELDS = {"id", "title", "format", "filename", "url"}
GROUP_FIELDS = {"rank", "score", "document", "passages"}
DOCUMENT_FIELDS = {"id", "title", "type", "format", "filename", "url", "size", "sha256", "indexed_at", "passage_count",
                   "metadata", "language", "notice"}

DECK = make_document(id=3, filename="deck.pptx", title="Thailand deck", format="pptx", notice="Draft")
REPORT = make_document(id=7, filename="report.pdf", title="China report", type="report", format="pdf")


def _hit(location: Location, document=REPORT, rank: int = 1, score: float = 0.123456789, passage_id: int = 11, **fields) -> Hit:
    passage = Passage(text="Old-age pensions in China.", location=location, heading="Pensions", id=passage_id,
                      document_id=document.id)
    return Hit(rank=rank, score=score, passage=passage, document=document, **fields)


def test_a_document_has_the_documented_fields():
    document = make_document(id=5, metadata={"session": 2, "countries": ["Zambia"], "language": "es"}, language="en",
                             passage_count=4)
    shown = document_to_dict(document)
    assert set(shown) == DOCUMENT_FIELDS
    assert shown["url"] == "/api/documents/5/file"
    assert shown["passage_count"] == 4 and shown["metadata"]["countries"] == ["Zambia"]
    assert shown["language"] == "es"  # the catalogue's language wins over the detected one
    assert document_to_dict(make_document(language="fr"))["language"] == "fr"
    assert json.loads(json.dumps(shown)) == shown


def test_a_hit_has_the_documented_fields():
    shown = hit_to_dict(_hit(Location(page=3), highlights=((8, 16), (0, 7))))
    assert set(shown) == HIT_FIELDS
    assert set(shown["document"]) == HIT_DOCUMENT_FIELDS
    assert shown["rank"] == 1 and shown["score"] == 0.123457
    assert shown["text"] == "Old-age pensions in China." and shown["heading"] == "Pensions"
    assert shown["highlights"] == [[8, 16], [0, 7]]
    assert shown["answer"] is None  # not asked for
    assert shown["passage_id"] == 11 and shown["also_as"] == []
    assert shown["document"]["id"] == 7 and shown["document"]["title"] == "China report"
    assert json.loads(json.dumps(shown)) == shown


@pytest.mark.parametrize("location, shown, url", [
    (Location(page=3), {"page": 3}, "/api/documents/7/file#page=3"),
    (Location(page=3, page_label="iii"), {"page": 3, "page_label": "iii"}, "/api/documents/7/file#page=3"),
    (Location(slide=2), {"slide": 2}, "/api/documents/7/file"),
    (Location(section="Domestic workers"), {"section": "Domestic workers"}, "/api/documents/7/file"),
    (Location(page=4, ocr=True), {"page": 4, "ocr": True}, "/api/documents/7/file#page=4"),
    (Location(slide=5, ocr=True), {"slide": 5, "ocr": True}, "/api/documents/7/file"),
])
def test_the_location_is_a_page_a_slide_or_a_section_and_the_url_opens_a_page(location, shown, url):
    hit = hit_to_dict(_hit(location))
    assert hit["location"] == shown
    assert hit["document"]["url"] == url


def test_near_duplicates_are_listed_as_also_as_with_their_own_url():
    shown = hit_to_dict(_hit(Location(page=1), also_as=(DECK,)))
    assert shown["also_as"] == [{"id": 3, "title": "Thailand deck", "format": "pptx", "filename": "deck.pptx",
                                 "url": "/api/documents/3/file"}]
    assert set(shown["also_as"][0]) == TWIN_FIELDS


def test_a_result_has_the_documented_fields_and_its_hits_in_order():
    hits = (_hit(Location(page=1), rank=1, passage_id=11), _hit(Location(slide=2), document=DECK, rank=2, passage_id=12))
    facets = {"type": {"report": 1, "presentation": 1}}
    shown = result_to_dict(SearchResult(query="pensions", hits=hits, took_ms=12.3456, facets=facets, mode="keyword"))
    assert set(shown) == RESULT_FIELDS
    assert shown["query"] == "pensions" and shown["mode"] == "keyword" and shown["took_ms"] == 12.35
    assert shown["facets"] == facets
    assert [result["passage_id"] for result in shown["results"]] == [11, 12]
    assert all(set(result) == HIT_FIELDS for result in shown["results"])
    assert json.loads(json.dumps(shown)) == shown


def test_a_grouped_result_has_one_entry_per_document_in_order_of_its_best_passage():
    hits = (_hit(Location(page=2), rank=1, score=0.9, passage_id=21),
            _hit(Location(slide=1), document=DECK, rank=2, score=0.8, passage_id=31, also_as=(REPORT,)),
            _hit(Location(page=5), rank=3, score=0.7, passage_id=25, highlights=((0, 7),)))
    shown = result_to_dict(SearchResult(query="pensions", hits=hits, took_ms=1.0, grouped=True))
    assert set(shown) == RESULT_FIELDS
    groups = shown["results"]
    assert [group["document"]["id"] for group in groups] == [7, 3]
    assert [group["rank"] for group in groups] == [1, 2] and [group["score"] for group in groups] == [0.9, 0.8]
    assert all(GROUP_FIELDS <= set(group) for group in groups)
    assert set(groups[0]["document"]) == HIT_DOCUMENT_FIELDS
    # The document opens at its start; each passage's own url opens its page.
    assert groups[0]["document"]["url"] == "/api/documents/7/file"
    assert [passage["passage_id"] for passage in groups[0]["passages"]] == [21, 25]
    assert [passage["url"] for passage in groups[0]["passages"]] == ["/api/documents/7/file#page=2", "/api/documents/7/file#page=5"]
    assert groups[0]["passages"][1]["highlights"] == [[0, 7]] and groups[0]["passages"][1]["location"] == {"page": 5}
    assert groups[1]["also_as"][0]["id"] == 7
    assert json.loads(json.dumps(shown)) == shown
