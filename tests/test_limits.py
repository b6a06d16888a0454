"""The read API's rate limit (search_app/limits.py): one budget per client address over the read routes, 429
``rate_limited`` with ``Retry-After``, writes and health never counted, proxies believed only when configured."""

from __future__ import annotations

import pytest

from indexer import InvalidSetting
from indexer.settings import default
from search_app import limits

from .conftest import AUTH, assert_error_shape, upload


@pytest.fixture
def make_limited(make_app, indexed_kb):
    """The small corpus served with a rate limit (default: 3 a minute)."""

    def make(limit: str = "3/minute", **settings):
        return make_app(indexed_kb.data_dir, KB_RATE_LIMIT=limit, **settings).test_client()

    return make


def assert_rate_limited(response) -> int:
    """The response is the 429 of the one error shape; returns its ``Retry-After`` in seconds."""
    assert_error_shape(response, 429, "rate_limited")
    assert "3 per 1 minute" in response.get_json()["error"]["message"]
    wait = int(response.headers["Retry-After"])
    assert 1 <= wait <= 60
    return wait


def get(client, path: str, **kwargs):
    """GET through the test client, the answer read whole and closed (a file's answer holds the file open)."""
    with client.get(path, **kwargs) as response:
        response.get_data()
    return response


def first_document_id(client) -> int:
    return client.get("/api/documents").get_json()["documents"][0]["id"]


def test_the_read_routes_share_one_budget_per_client(make_limited):
    client = make_limited()
    document_id = first_document_id(client)
    assert client.get("/api/search", query_string={"q": "pension"}).status_code == 200
    assert client.get(f"/api/documents/{document_id}").status_code == 200
    wait = assert_rate_limited(client.get("/api/search", query_string={"q": "pension"}))
    assert f"try again in {wait} s" in client.get("/api/search", query_string={"q": "x"}).get_json()["error"]["message"]
    for path in ("/api/documents", f"/api/documents/{document_id}", f"/api/documents/{document_id}/file"):
        assert_rate_limited(get(client, path))
    # Bad requests count too, and are refused like the rest.
    assert_rate_limited(client.get("/api/search", query_string={"q": ""}))


def test_the_search_page_counts_and_says_so_in_html(make_limited):
    client = make_limited()
    for _ in range(3):
        assert client.get("/", query_string={"q": "pension"}).status_code == 200
    response = client.get("/", query_string={"q": "pension"})
    assert response.status_code == 429 and response.mimetype == "text/html"
    assert int(response.headers["Retry-After"]) >= 1
    assert "too many requests from your address" in response.get_data(as_text=True)


def test_health_pages_static_files_and_preflights_are_not_counted(make_limited):
    client = make_limited()
    for _ in range(5):
        for path in ("/api/health", "/admin", "/embed", "/embed/docs", "/embed.js", "/static/style.css"):
            assert get(client, path).status_code == 200, path
        assert client.options("/api/search").status_code == 200
    for _ in range(3):
        assert client.get("/api/documents").status_code == 200
    assert_rate_limited(client.get("/api/documents"))


def test_writes_are_neither_limited_nor_counted(make_limited, tmp_path):
    client = make_limited()
    for _ in range(3):
        assert client.get("/api/documents").status_code == 200
    assert_rate_limited(client.get("/api/documents"))
    note = tmp_path / "note.md"
    note.write_text("# Note\n\nInformal workers in Cambodia join the health fund.\n", encoding="utf-8")
    added = upload(client, note)
    assert added.status_code == 201, added.get_json()
    document_id = added.get_json()["document"]["id"]
    assert client.patch(f"/api/documents/{document_id}", headers=AUTH, json={"title": "Cambodia"}).status_code == 200
    assert client.get("/api/index-report", headers=AUTH).status_code == 200
    assert client.delete(f"/api/documents/{document_id}", headers=AUTH).status_code == 204


def test_writes_leave_the_budget_of_reads_whole(make_limited, tmp_path):
    client = make_limited()
    for number in range(4):
        note = tmp_path / f"note{number}.md"
        note.write_text(f"# Note {number}\n\nNote number {number} on pensions in Laos, version {number}.\n", encoding="utf-8")
        assert upload(client, note).status_code == 201
    for _ in range(3):
        assert client.get("/api/documents").status_code == 200
    assert_rate_limited(client.get("/api/documents"))


def test_the_parts_of_a_file_cost_nothing_but_opening_it_counts(make_limited):
    client = make_limited()
    document_id = first_document_id(client)  # 1
    assert get(client, f"/api/documents/{document_id}/file").status_code == 200  # 2
    for start in range(0, 50, 10):
        part = get(client, f"/api/documents/{document_id}/file", headers={"Range": f"bytes={start}-{start + 9}"})
        assert part.status_code == 206 and len(part.data) == 10
    assert client.get("/api/search", query_string={"q": "pension"}).status_code == 200  # 3
    assert_rate_limited(get(client, f"/api/documents/{document_id}/file"))


def test_each_client_address_has_its_own_budget(make_limited):
    client = make_limited()
    for _ in range(3):
        assert client.get("/api/documents", environ_base={"REMOTE_ADDR": "192.0.2.1"}).status_code == 200
    assert_rate_limited(client.get("/api/documents", environ_base={"REMOTE_ADDR": "192.0.2.1"}))
    assert client.get("/api/documents", environ_base={"REMOTE_ADDR": "192.0.2.2"}).status_code == 200


def test_forwarded_addresses_count_only_behind_trusted_proxies(make_limited):
    proxy = {"REMOTE_ADDR": "10.0.0.1"}
    ignored = make_limited()  # KB_TRUSTED_PROXIES=0: a client cannot pick a new address by writing the header
    for number in range(3):
        assert ignored.get("/api/documents", environ_base=proxy, headers={"X-Forwarded-For": f"198.51.100.{number}"}).status_code == 200
    assert_rate_limited(ignored.get("/api/documents", environ_base=proxy, headers={"X-Forwarded-For": "198.51.100.9"}))

    believed = make_limited(KB_TRUSTED_PROXIES=1)
    for _ in range(3):
        assert believed.get("/api/documents", environ_base=proxy, headers={"X-Forwarded-For": "198.51.100.1"}).status_code == 200
    assert_rate_limited(believed.get("/api/documents", environ_base=proxy, headers={"X-Forwarded-For": "198.51.100.1"}))
    assert believed.get("/api/documents", environ_base=proxy, headers={"X-Forwarded-For": "198.51.100.2"}).status_code == 200
    # The forwarded scheme and host make the addresses the embed page shows.
    docs = get(believed, "/embed/docs", environ_base=proxy,
                        headers={"X-Forwarded-Proto": "https", "X-Forwarded-Host": "search.example.org"})
    assert "https://search.example.org/embed.js" in docs.get_data(as_text=True)


@pytest.mark.parametrize("setting", ["off", "OFF", "0", ""])
def test_off_turns_the_limit_off(make_limited, setting):
    client = make_limited(setting)
    for _ in range(20):
        assert client.get("/api/search", query_string={"q": "pension"}).status_code == 200
    assert "kb_rate_limit" not in client.application.extensions


def test_the_default_is_on(make_app, indexed_kb):
    assert limits.rate_limit_of(default("KB_RATE_LIMIT")) == "300/minute"
    app = make_app(indexed_kb.data_dir, KB_RATE_LIMIT=default("KB_RATE_LIMIT"))
    assert app.extensions["kb_rate_limit"] is not None


@pytest.mark.parametrize("settings, named", [({"KB_RATE_LIMIT": "300 a minute"}, "KB_RATE_LIMIT"),
                                             ({"KB_RATE_LIMIT_STORAGE": "nosuch://here"}, "KB_RATE_LIMIT_STORAGE")])
def test_a_bad_limit_or_storage_stops_the_app_naming_the_setting(make_app, tmp_path, settings, named):
    with pytest.raises(InvalidSetting, match=named):
        make_app(tmp_path, **{"KB_RATE_LIMIT": "3/minute", **settings})
