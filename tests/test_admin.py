"""The write API (upload, edit, remove documents) and the /admin page, through Flask's test client."""

from __future__ import annotations

import io
import threading
from pathlib import Path

import pytest
from fpdf import FPDF
from PIL import Image
from pypdf import PdfReader, PdfWriter

from indexer import SUPPORTED_FORMATS, KnowledgeBase
from indexer.catalog import CATALOG_FIELDS
from search_app.admin import upload_name

from .conftest import ADMIN_TOKEN, AUTH, assert_error_shape, make_docx, make_pdf, make_pptx, upload



@pytest.fixture
def client(client, upload_dir):
    """conftest's client (the small corpus, the admin token set), with uploads' temporary copies in ``upload_dir``."""
    return client


def search(client, query: str, **params) -> list[dict]:
    response = client.get("/api/search", query_string={"q": query, "k": 100, "per_document": 0, **params})
    assert response.status_code == 200, response.get_json()
    return response.get_json()["results"]


def document_count(client) -> int:
    return len(client.get("/api/documents").get_json()["documents"])


def make_image_pdf(path: Path) -> Path:
    """A one-page PDF holding only a picture: no text layer, like a scan."""
    pdf = FPDF()
    pdf.add_page()
    pdf.image(Image.new("RGB", (60, 40), (200, 30, 30)), x=10, y=10, w=60)
    pdf.output(str(path))
    return path


def make_locked_pdf(path: Path, source: Path) -> Path:
    """``source`` encrypted with a user password, so it cannot be opened without it."""
    writer = PdfWriter(clone_from=PdfReader(source))
    writer.encrypt(user_password="pw", owner_password="owner", algorithm="AES-256")
    writer.write(path)
    return path


# -- authentication ----------------------------------------------------------------


WRITES = [
    ("post", "/api/documents"),
    ("patch", "/api/documents/1"),
    ("delete", "/api/documents/1"),
]


@pytest.mark.parametrize("method, url", WRITES)
def test_write_api_is_off_until_a_token_is_configured(indexed_kb, make_app, method, url):
    client = make_app(indexed_kb.data_dir, KB_ADMIN_TOKEN="").test_client()
    for headers in ({}, {"Authorization": "Bearer "}, {"Authorization": "Bearer anything"}):
        response = getattr(client, method)(url, headers=headers, json={"title": "x"} if method == "patch" else None)
        assert_error_shape(response, 403, "write_api_disabled")
        assert "KB_ADMIN_TOKEN" in response.get_json()["error"]["message"]
    assert document_count(client) == 4


@pytest.mark.parametrize("method, url", WRITES)
@pytest.mark.parametrize("authorization", [None, "", "Bearer", "Bearer ", "Bearer wrong", "Bearer s3cret-and-more",
                                           ADMIN_TOKEN, f"Basic {ADMIN_TOKEN}", "Bearer S3CRET", "Bearer sécret"])
def test_missing_or_wrong_token_is_401(client, method, url, authorization):
    headers = {} if authorization is None else {"Authorization": authorization}
    response = getattr(client, method)(url, headers=headers, json={"title": "Hijacked"} if method == "patch" else None)
    assert_error_shape(response, 401, "unauthorized")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert document_count(client) == 4
    assert client.get("/api/documents/1").get_json()["title"] != "Hijacked"


def test_the_token_scheme_is_case_insensitive(client):
    response = client.delete("/api/documents/1", headers={"Authorization": f"bearer {ADMIN_TOKEN}"})
    assert response.status_code == 204


def test_searching_and_reading_stay_public(client):
    assert client.get("/api/search?q=pension").status_code == 200
    assert client.get("/api/documents").status_code == 200
    assert client.get("/api/documents/1").status_code == 200
    assert client.get("/api/health").status_code == 200


# -- upload -------------------------------------------------------------------------


def _pdf(folder: Path) -> Path:
    return make_pdf(folder / "quokka-report.pdf", ["Quokka islanders gained a maternity benefit in the zebrafinch programme."],
                    title="Quokka report")


def _pptx(folder: Path) -> Path:
    return make_pptx(folder / "quokka-deck.pptx", [{"title": "Quokka islanders", "bullets": ["Zebrafinch maternity benefit"]}])


def _docx(folder: Path) -> Path:
    return make_docx(folder / "quokka-note.docx", {"Quokka islanders": ["The zebrafinch maternity benefit reached them."]})


def _markdown(folder: Path) -> Path:
    path = folder / "quokka-note.md"
    path.write_text("# Quokka islanders\n\nThe zebrafinch maternity benefit reached them in 2016.\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("make, file_format", [(_pdf, "pdf"), (_pptx, "pptx"), (_docx, "docx"), (_markdown, "markdown")])
def test_uploaded_file_is_indexed_searchable_and_served(client, tmp_path, upload_dir, make, file_format):
    path = make(tmp_path)
    response = upload(client, path)
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert set(body) == {"document", "passage_count"}
    document = body["document"]
    assert document["format"] == file_format
    assert document["filename"] == path.name
    assert body["passage_count"] == document["passage_count"] > 0
    assert response.headers["Location"].endswith(f"/api/documents/{document['id']}")
    assert client.get(f"/api/documents/{document['id']}").get_json() == document

    for mode in ("hybrid", "keyword", "dense"):
        results = search(client, "quokka zebrafinch maternity", mode=mode)
        assert results[0]["document"]["id"] == document["id"], mode
    with client.get(document["url"]) as served:
        assert served.status_code == 200
        assert served.data == path.read_bytes()
    assert list(upload_dir.iterdir()) == []
    assert document_count(client) == 5


def test_upload_takes_catalogue_fields_from_the_form(client, tmp_path):
    response = upload(client, _markdown(tmp_path), title="Islands note", type="country note", session="3",
                      countries="Lao PDR, Viet Nam", speakers=" A. Speaker ,B. Speaker,", language="en",
                      date="2017-05-24", organisation="ILO", ignored_blank="")
    assert response.status_code == 201, response.get_json()
    document = response.get_json()["document"]
    assert document["title"] == "Islands note"
    assert document["type"] == "country note"
    assert document["metadata"]["countries"] == ["Lao PDR", "Viet Nam"]
    assert document["metadata"]["speakers"] == ["A. Speaker", "B. Speaker"]
    assert document["metadata"]["session"] == 3
    assert "ignored_blank" not in document["metadata"]
    results = search(client, "quokka zebrafinch", country="Viet Nam")
    assert {hit["document"]["id"] for hit in results} == {document["id"]}


def test_upload_into_an_empty_knowledge_base(tmp_path, make_app, upload_dir):
    client = make_app(tmp_path / "fresh").test_client()
    assert client.get("/api/documents").status_code == 503
    response = upload(client, _markdown(tmp_path))
    assert response.status_code == 201, response.get_json()
    assert client.get("/api/health").get_json()["documents"] == 1
    assert search(client, "zebrafinch")[0]["document"]["filename"] == "quokka-note.md"


def test_uploaded_file_name_is_made_safe_and_keeps_its_ending(client, tmp_path):
    response = upload(client, _markdown(tmp_path), name="../../etc/Ünïcode report.md")
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["document"]["filename"] == "Unicode_report.md"
    assert upload_name("报告.pdf") == "upload.pdf"
    assert upload_name("C:\\Users\\me\\deck.PPTX") == "deck.PPTX"
    assert upload_name("notes") == "notes"
    assert upload_name("weird.<script>") == "weird"


def test_duplicate_upload_is_409_naming_the_existing_document(client, small_corpus, tmp_path, upload_dir):
    existing = next(d for d in client.get("/api/documents").get_json()["documents"] if d["filename"] == "pensions.pdf")
    response = upload(client, small_corpus / "pensions.pdf", name="copy-of-pensions.pdf")
    assert_error_shape(response, 409)
    message = response.get_json()["error"]["message"]
    assert message == f"copy-of-pensions.pdf: same content as document {existing['id']} (pensions.pdf); nothing was added"
    assert str(small_corpus) not in message

    first = upload(client, _markdown(tmp_path)).get_json()["document"]
    again = upload(client, _markdown(tmp_path), name="renamed.md")
    assert_error_shape(again, 409)
    message = again.get_json()["error"]["message"]
    assert message == f"renamed.md: same content as document {first['id']} (quokka-note.md); nothing was added"
    assert document_count(client) == 5
    assert list(upload_dir.iterdir()) == []


def test_upload_under_a_name_already_uploaded_is_a_new_document(client, tmp_path):
    first = upload(client, _markdown(tmp_path), countries="Lao PDR").get_json()["document"]
    newer = tmp_path / "newer" / "quokka-note.md"
    newer.parent.mkdir()
    newer.write_text("# Wombat islanders\n\nThe kestrel sickness benefit reached them in 2017.\n", encoding="utf-8")
    response = upload(client, newer)
    assert response.status_code == 201, response.get_json()
    second = response.get_json()["document"]
    assert second["id"] != first["id"] and second["title"] == "Wombat islanders"
    assert document_count(client) == 6
    assert search(client, "kestrel sickness")[0]["document"]["id"] == second["id"]
    assert first["id"] in {hit["document"]["id"] for hit in search(client, "zebrafinch quokka", mode="keyword")}


def _binary(folder: Path) -> Path:
    path = folder / "photo.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    return path


def _ole2(folder: Path) -> Path:
    path = folder / "old.doc"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504)
    return path


@pytest.mark.parametrize("make", [_binary, _ole2])
def test_unsupported_file_is_415_listing_the_supported_types(client, tmp_path, upload_dir, make):
    path = make(tmp_path)
    response = upload(client, path)
    assert_error_shape(response, 415, "unsupported_format")
    message = response.get_json()["error"]["message"]
    assert all(name in message.lower() for name in SUPPORTED_FORMATS), message
    assert path.name in message and "kb-upload-" not in message
    assert document_count(client) == 4
    assert list(upload_dir.iterdir()) == []


def _image_only(folder: Path) -> Path:
    return make_image_pdf(folder / "scan.pdf")


def _locked(folder: Path) -> Path:
    return make_locked_pdf(folder / "locked.pdf", _pdf(folder))


def _truncated(folder: Path) -> Path:
    path = folder / "broken.pdf"
    path.write_bytes(_pdf(folder).read_bytes()[:300])
    return path


@pytest.mark.parametrize("make, code", [(_image_only, "no_text"), (_locked, "encrypted_document"), (_truncated, "corrupt_document")])
def test_unreadable_file_is_422_saying_why(client, tmp_path, upload_dir, make, code):
    path = make(tmp_path)
    response = upload(client, path)
    assert_error_shape(response, 422, code)
    message = response.get_json()["error"]["message"]
    assert path.name in message and "kb-upload-" not in message and str(upload_dir) not in message
    assert document_count(client) == 4
    assert list(upload_dir.iterdir()) == []


def test_upload_over_the_size_limit_is_413(indexed_kb, make_app, tmp_path, upload_dir):
    client = make_app(indexed_kb.data_dir, KB_MAX_UPLOAD_MB=0.001).test_client()
    big = tmp_path / "big.md"
    big.write_text("# Big\n\n" + "Pension coverage grew. " * 200, encoding="utf-8")
    response = upload(client, big)
    assert_error_shape(response, 413, "too_large")
    assert "0.001 MB" in response.get_json()["error"]["message"]
    small = tmp_path / "small.md"
    small.write_text("# Small\n\nTiny pension note.\n", encoding="utf-8")
    assert upload(client, small).status_code == 201
    assert list(upload_dir.iterdir()) == []


def test_upload_limit_setting_is_read_as_megabytes(make_app, monkeypatch, tmp_path):
    monkeypatch.setenv("KB_MAX_UPLOAD_MB", "0.5")
    assert make_app(tmp_path).config["MAX_CONTENT_LENGTH"] == 512 * 1024
    monkeypatch.delenv("KB_MAX_UPLOAD_MB")
    assert make_app(tmp_path).config["MAX_CONTENT_LENGTH"] == 50 * 1024 * 1024


def test_upload_without_a_file_is_400(client):
    response = client.post("/api/documents", data={"title": "No file"}, headers=AUTH, content_type="multipart/form-data")
    assert_error_shape(response, 400, "missing_file")
    response = client.post("/api/documents", data={"file": (io.BytesIO(b""), "")}, headers=AUTH,
                           content_type="multipart/form-data")
    assert_error_shape(response, 400, "missing_file")
    assert_error_shape(client.post("/api/documents", headers=AUTH, json={"title": "x"}), 400, "missing_file")


def test_upload_with_a_bad_field_is_400(client, tmp_path, upload_dir):
    response = upload(client, _markdown(tmp_path), colour="red")
    assert_error_shape(response, 400, "invalid_field")
    assert "colour" in response.get_json()["error"]["message"]
    assert document_count(client) == 4
    assert list(upload_dir.iterdir()) == []


# -- edit ----------------------------------------------------------------------------


def test_patch_changes_title_and_countries(client, indexed_kb):
    document = next(d for d in client.get("/api/documents").get_json()["documents"] if d["filename"] == "zambia.docx")
    response = client.patch(f"/api/documents/{document['id']}", headers=AUTH,
                            json={"title": "Zambia builders and domestic workers", "countries": ["Zambia"]})
    assert response.status_code == 200, response.get_json()
    updated = response.get_json()
    assert updated["id"] == document["id"]
    assert updated["title"] == "Zambia builders and domestic workers"
    assert updated["metadata"]["countries"] == ["Zambia"]
    assert updated["passage_count"] == document["passage_count"]
    assert client.get(f"/api/documents/{document['id']}").get_json() == updated

    results = search(client, "construction workers contractors", country="Zambia")
    assert results and {hit["document"]["id"] for hit in results} == {document["id"]}
    assert results[0]["document"]["title"] == "Zambia builders and domestic workers"
    # another worker process on the same index sees the change too
    other = KnowledgeBase(indexed_kb.data_dir, embedder=indexed_kb.embedder)
    assert other.document(document["id"]).title == "Zambia builders and domestic workers"


@pytest.mark.parametrize("body, content_type", [
    (b"[1, 2]", "application/json"),
    (b'"a title"', "application/json"),
    (b"null", "application/json"),
    (b"{not json", "application/json"),
    (b'{"title": "x"}', "text/plain"),
    (b"", None),
])
def test_patch_body_must_be_a_json_object(client, body, content_type):
    headers = AUTH | ({"Content-Type": content_type} if content_type else {})
    response = client.patch("/api/documents/1", data=body, headers=headers)
    assert_error_shape(response, 400, "invalid_body")
    assert "JSON object" in response.get_json()["error"]["message"]


def test_patch_with_a_bad_field_is_400(client):
    for fields in ({"colour": "red"}, {"countries": 5}, {"session": "Session 3"}, {"date": "May 2017"}):
        assert_error_shape(client.patch("/api/documents/1", headers=AUTH, json=fields), 400, "invalid_field")


def test_patch_with_an_empty_list_for_a_text_field_is_400_and_changes_nothing(client):
    # Found by fuzzing: {"language": []} removed the field though the description allows only text, a number or null.
    before = client.get("/api/documents/1").get_json()
    response = client.patch("/api/documents/1", headers=AUTH, json={"title": "Changed", "language": []})
    assert_error_shape(response, 400, "invalid_field")
    assert "language must be text, not list" in response.get_json()["error"]["message"]
    assert client.get("/api/documents/1").get_json() == before


def test_patch_or_delete_unknown_document_is_404(client):
    assert_error_shape(client.patch("/api/documents/9999", headers=AUTH, json={"title": "x"}), 404, "document_not_found")
    assert_error_shape(client.delete("/api/documents/9999", headers=AUTH), 404, "document_not_found")


# -- remove --------------------------------------------------------------------------


def test_deleted_document_never_appears_in_results_again(client, indexed_kb):
    document = next(d for d in client.get("/api/documents").get_json()["documents"] if d["filename"] == "thailand.pptx")
    query = "Section 40 Social Security Act voluntary scheme Universal Coverage"
    passages = {hit["passage_id"] for hit in search(client, query) if hit["document"]["id"] == document["id"]}
    assert passages

    response = client.delete(f"/api/documents/{document['id']}", headers=AUTH)
    assert response.status_code == 204
    assert response.data == b""

    assert_error_shape(client.get(f"/api/documents/{document['id']}"), 404, "document_not_found")
    assert_error_shape(client.get(f"/api/documents/{document['id']}/file"), 404, "document_not_found")
    assert_error_shape(client.delete(f"/api/documents/{document['id']}", headers=AUTH), 404, "document_not_found")
    assert document_count(client) == 3
    assert client.get("/api/health").get_json()["documents"] == 3
    other = KnowledgeBase(indexed_kb.data_dir, embedder=indexed_kb.embedder)  # another worker on the same index
    for mode in ("hybrid", "keyword", "dense"):
        for results in (search(client, query, mode=mode), search(client, "Thailand informal workers health", mode=mode)):
            assert results, mode
            assert document["id"] not in {hit["document"]["id"] for hit in results}, mode
            assert not passages & {hit["passage_id"] for hit in results}, mode
        hits = other.search(query, k=100, mode=mode, per_document=0).hits
        assert hits and document["id"] not in {hit.document.id for hit in hits}, mode


def test_searches_keep_answering_while_documents_change(client, tmp_path):
    failures, done = [], threading.Event()

    def keep_searching():
        while not done.is_set():
            for mode in ("hybrid", "keyword", "dense"):
                response = client.get("/api/search", query_string={"q": "pension workers zebrafinch", "mode": mode})
                if response.status_code != 200:
                    failures.append((mode, response.status_code, response.get_json()))

    searcher = threading.Thread(target=keep_searching)
    searcher.start()
    try:
        for round_number in range(3):
            path = tmp_path / f"note-{round_number}.md"
            path.write_text(f"# Note {round_number}\n\nZebrafinch pension note number {round_number}.\n", encoding="utf-8")
            added = upload(client, path)
            assert added.status_code == 201, added.get_json()
            document_id = added.get_json()["document"]["id"]
            assert client.patch(f"/api/documents/{document_id}", headers=AUTH, json={"title": "Edited"}).status_code == 200
            assert client.delete(f"/api/documents/{document_id}", headers=AUTH).status_code == 204
    finally:
        done.set()
        searcher.join()
    assert failures == []
    assert document_count(client) == 4


# -- the /admin page -----------------------------------------------------------------


def test_admin_page_refuses_framing_and_offers_the_forms(client):
    response = client.get("/admin")
    assert response.status_code == 200
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    html = response.get_data(as_text=True)
    assert 'id="upload-form"' in html and 'type="file"' in html and 'name="file"' in html
    for field in CATALOG_FIELDS:
        assert html.count(f'name="{field.name}"') == 2, field.name  # the upload form and the edit form
        assert field.label in html and field.hint in html
    assert 'data-list-fields="countries,speakers"' in html
    assert 'data-summary-fields="session,countries,language,date,speakers,organisation"' in html
    assert 'id="token"' in html and "admin.js" in html
    assert ADMIN_TOKEN not in html
    assert "<script>" not in html  # no inline script: the CSP forbids it


def test_admin_page_says_when_writing_is_off(indexed_kb, make_app):
    html = make_app(indexed_kb.data_dir, KB_ADMIN_TOKEN="").test_client().get("/admin").get_data(as_text=True)
    assert "KB_ADMIN_TOKEN" in html


def test_admin_script_uses_the_api_and_never_inserts_markup(client):
    with client.get("/static/admin.js") as response:
        script = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "innerHTML" not in script and "insertAdjacentHTML" not in script and "document.write" not in script
    assert "sessionStorage" in script and "localStorage" not in script
    assert '"PATCH"' in script and '"DELETE"' in script and "confirm(" in script


def test_the_last_index_report_is_shown_to_the_token_holder_only(client):
    assert_error_shape(client.get("/api/index-report"), 401, "unauthorized")
    report = client.get("/api/index-report", headers=AUTH).get_json()
    assert report["summary"].startswith("4 indexed")
    assert sorted(Path(entry["path"]).name for entry in report["files"]) == ["monotributo.md", "pensions.pdf", "thailand.pptx", "zambia.docx"]
    assert all(entry["outcome"] == "indexed" and entry["passages"] > 0 for entry in report["files"])
    page = client.get("/admin").get_data(as_text=True)
    assert 'id="report-load"' in page and "Last indexing run" in page
