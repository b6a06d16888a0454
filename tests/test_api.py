"""The JSON API through Flask's test client with the fake embedder (the search page: test_pages.py)."""

from __future__ import annotations

import os

import pytest

from .conftest import AUTH, assert_error_shape


def test_search_returns_ranked_passages_with_sources(client):
    body = client.get("/api/search?q=Section 40 voluntary scheme Thailand&k=3").get_json()
    assert body["query"] == "Section 40 voluntary scheme Thailand"
    assert isinstance(body["took_ms"], float)
    first = body["results"][0]
    assert [r["rank"] for r in body["results"]] == list(range(1, len(body["results"]) + 1))
    assert first["document"]["filename"] == "thailand.pptx"
    assert first["location"] == {"slide": 1}
    assert first["document"]["url"] == f"/api/documents/{first['document']['id']}/file"
    assert set(first) >= {"rank", "score", "text", "highlights", "document", "location", "passage_id"}
    marked = {first["text"][start:end].lower() for start, end in first["highlights"]}
    assert {"section", "40", "voluntary", "thailand"} <= marked


def test_pdf_hits_link_to_their_page(client):
    body = client.get("/api/search?q=household registration local offices&k=1").get_json()
    hit = body["results"][0]
    assert hit["location"] == {"page": 2}
    assert hit["document"]["url"].endswith("/file#page=2")


def test_documents_list_and_detail(client):
    documents = client.get("/api/documents").get_json()["documents"]
    assert sorted(d["filename"] for d in documents) == ["monotributo.md", "pensions.pdf", "thailand.pptx", "zambia.docx"]
    assert all(d["passage_count"] > 0 for d in documents)
    one = client.get(f"/api/documents/{documents[0]['id']}").get_json()
    assert one == documents[0]


def test_original_file_is_served(client):
    pdf = next(d for d in client.get("/api/documents").get_json()["documents"] if d["format"] == "pdf")
    with client.get(pdf["url"]) as response:
        assert response.status_code == 200
        assert response.mimetype == "application/pdf"
        assert response.data.startswith(b"%PDF")
        assert response.headers["Content-Security-Policy"] == "sandbox"


def test_health_reports_counts_and_model(client):
    body = client.get("/api/health").get_json()
    assert body["ok"] is True
    assert body["documents"] == 4
    assert body["passages"] >= 4
    assert body["model"] == "fake-hash-embedder"


@pytest.mark.parametrize(
    "url, status, code",
    [
        ("/api/search?q=", 400, "invalid_query"),
        ("/api/search?q=%20%20", 400, "invalid_query"),
        ("/api/search?q=" + "x" * 501, 400, "invalid_query"),
        ("/api/search?q=pension&k=0", 400, "invalid_query"),
        ("/api/search?q=pension&k=ten", 400, "invalid_query"),
        ("/api/search?q=pension&k=1000", 400, "invalid_query"),
        ("/api/search?q=pension&answers=-1", 400, "invalid_query"),
        ("/api/search?q=pension&answers=some", 400, "invalid_query"),
        ("/api/documents/9999", 404, "document_not_found"),
        ("/api/documents/9999/file", 404, "document_not_found"),
        ("/api/no-such-endpoint", 404, "not_found"),
    ],
)
def test_every_api_error_has_one_shape(client, url, status, code):
    assert_error_shape(client.get(url), status, code)


def test_wrong_method_is_a_json_405(client):
    assert_error_shape(client.post("/api/search?q=pension"), 405, "method_not_allowed")


@pytest.mark.parametrize("url", ["/api/search?q=pension", "/api/documents", "/api/health"])
def test_no_index_yet_is_503_saying_what_to_run(empty_client, url):
    response = empty_client.get(url)
    assert_error_shape(response, 503, "index_not_built")
    assert "kb index" in response.get_json()["error"]["message"]


def test_original_is_kept_in_the_data_directory(client, indexed_kb):
    document = next(d for d in indexed_kb.documents() if d.format == "pdf")
    os.remove(document.path)
    with client.get(f"/api/documents/{document.id}/file") as response:
        assert response.status_code == 200 and response.data.startswith(b"%PDF")
    os.remove(indexed_kb.data_dir / document.original)
    assert_error_shape(client.get(f"/api/documents/{document.id}/file"), 404, "document_not_found")


def test_search_modes_and_facets_in_the_api(client):
    for mode in ("hybrid", "dense", "keyword"):
        body = client.get(f"/api/search?q=Universal Coverage Scheme&mode={mode}").get_json()
        assert body["mode"] == mode and body["results"]
        assert set(body["facets"]) == {"type", "session", "country", "language", "year"}
    assert_error_shape(client.get("/api/search?q=pension&mode=magic"), 400, "invalid_query")


def test_filters_in_the_api(client):
    body = client.get("/api/search?q=workers&type=presentation").get_json()
    assert body["results"] and {r["document"]["type"] for r in body["results"]} == {"presentation"}
    response = client.get("/api/search?q=workers&colour=red")
    assert_error_shape(response, 400, "invalid_query")
    assert "valid filters: type, format, session, country, language, year" in response.get_json()["error"]["message"]


def test_group_by_document_in_the_api(client):
    body = client.get("/api/search?q=workers pension health&group=document&k=3").get_json()
    ids = [entry["document"]["id"] for entry in body["results"]]
    assert len(ids) == len(set(ids)) and all(entry["passages"] for entry in body["results"])
    assert {"text", "highlights", "location", "url"} <= set(body["results"][0]["passages"][0])
    assert_error_shape(client.get("/api/search?q=workers&group=slide"), 400, "invalid_query")


def test_the_first_results_carry_their_answering_sentence(client):
    results = client.get("/api/search?q=pension&k=5&answers=2").get_json()["results"]
    assert all(result["answer"] is None for result in results[2:])
    for result in results[:2]:
        if result["answer"] is not None:  # a one-sentence passage needs no mark
            start, end = result["answer"]
            assert 0 <= start < end <= len(result["text"])
    assert all(result["answer"] is None for result in client.get("/api/search?q=pension&k=5").get_json()["results"])


@pytest.mark.parametrize("method", ["GET", "PATCH", "DELETE"])
def test_an_id_too_large_for_the_index_is_a_404(client, method):
    # Found by fuzzing: an id beyond 64 bits was a 500.
    response = client.open("/api/documents/12404141517190387712", method=method, json={"title": "x"}, headers=AUTH)
    assert_error_shape(response, 404, "document_not_found")
