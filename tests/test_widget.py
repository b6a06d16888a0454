"""The widget (search_app/widget.py), through Flask's test client: its script, CORS on the read API only, who may
frame which page, the iframe page and the documentation page. (The same in a real browser:
test_embed_browser.py.)"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from search_app.widget import EMBED_OPTIONS, parse_origins

from .conftest import AUTH

ROOT = Path(__file__).resolve().parents[1]
SITE = "https://www.example.org"


@pytest.fixture
def client(indexed_kb, make_app):
    """The small corpus, served to pages of two sites, and framed by one."""
    app = make_app(indexed_kb.data_dir, KB_CORS_ORIGINS=f"{SITE}, https://intranet.example.org:8443/", KB_EMBED_ORIGINS=SITE)
    return app.test_client()


def cors_headers(response) -> dict[str, str]:
    return {name: value for name, value in response.headers.items() if name.lower().startswith("access-control-")}


def preflight(client, path: str, method: str, origin: str = SITE, headers: str | None = None):
    request_headers = {"Origin": origin, "Access-Control-Request-Method": method}
    if headers:
        request_headers["Access-Control-Request-Headers"] = headers
    return client.options(path, headers=request_headers)


# --- the script ----------------------------------------------------------------------------------

def test_embed_js_is_a_small_self_contained_script(client):
    with client.get("/embed.js") as response:
        script = response.get_data(as_text=True)
        assert response.status_code == 200
        assert response.mimetype == "text/javascript"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Cross-Origin-Resource-Policy"] == "cross-origin"
        assert "max-age" in response.headers["Cache-Control"]
        assert len(response.data) < 15 * 1024
    assert 'attachShadow({ mode: "open" })' in script
    # Document text goes in as text only; nothing is fetched from anywhere but the service.
    for unsafe in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"):
        assert unsafe not in script, unsafe
    assert not re.search(r"https?://(?!search\.example\.org)", script)
    assert 'credentials: "omit"' in script


def test_embed_js_is_served_without_cors_settings_too(indexed_kb, make_app):
    with make_app(indexed_kb.data_dir).test_client().get("/embed.js") as response:
        assert response.status_code == 200 and response.mimetype == "text/javascript"


# --- CORS --------------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/api/search?q=pension", "/api/documents", "/api/documents/1", "/api/documents/1/file",
                                  "/api/health", "/api/search?q="])
def test_read_api_answers_allowed_origins(client, path):
    with client.get(path, headers={"Origin": SITE}) as response:
        assert response.headers["Access-Control-Allow-Origin"] == SITE
        assert "Origin" in response.headers.get("Vary", "")
        assert "Access-Control-Allow-Credentials" not in response.headers


def test_origins_are_matched_whole_and_without_trailing_slash(client):
    with client.get("/api/search?q=pension", headers={"Origin": "https://intranet.example.org:8443"}) as response:
        assert response.headers["Access-Control-Allow-Origin"] == "https://intranet.example.org:8443"
    for origin in ("https://evil.example.com", "http://www.example.org", "https://www.example.org.evil.com",
                   "https://www.example.org:444", "null"):
        with client.get("/api/search?q=pension", headers={"Origin": origin}) as response:
            assert response.status_code == 200  # answered, but the browser will not let that page read it
            assert cors_headers(response) == {}, origin


def test_preflight_from_an_allowed_origin_allows_reading_only(client):
    response = preflight(client, "/api/search?q=pension", "GET", headers="accept")
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == SITE
    assert set(response.headers["Access-Control-Allow-Methods"].split(", ")) == {"GET", "HEAD", "OPTIONS"}
    assert "Access-Control-Allow-Credentials" not in response.headers
    assert response.headers["Access-Control-Max-Age"] == "600"
    # An Authorization header is not among the allowed ones.
    response = preflight(client, "/api/search?q=pension", "GET", headers="authorization")
    assert "authorization" not in response.headers.get("Access-Control-Allow-Headers", "").lower()


def test_preflight_from_another_origin_is_refused(client):
    assert cors_headers(preflight(client, "/api/search?q=pension", "GET", origin="https://evil.example.com")) == {}


@pytest.mark.parametrize("method, path", [("POST", "/api/documents"), ("PATCH", "/api/documents/1"),
                                          ("DELETE", "/api/documents/1"), ("PUT", "/api/documents/1")])
def test_writes_are_never_allowed_cross_origin(client, method, path):
    assert cors_headers(preflight(client, path, method, headers="authorization, content-type")) == {}


def test_write_responses_carry_no_cors_headers_even_for_allowed_origins(client, tmp_path):
    headers = {"Origin": SITE, **AUTH}
    documents = client.get("/api/documents").get_json()["documents"]
    response = client.patch(f"/api/documents/{documents[0]['id']}", json={"title": "Renamed"}, headers=headers)
    assert response.status_code == 200 and cors_headers(response) == {}
    response = client.delete(f"/api/documents/{documents[1]['id']}", headers=headers)
    assert response.status_code == 204 and cors_headers(response) == {}
    (tmp_path / "new.md").write_text("# New\n\nA new note on maternity benefits.\n", encoding="utf-8")
    with (tmp_path / "new.md").open("rb") as upload:
        response = client.post("/api/documents", data={"file": (upload, "new.md")}, headers=headers)
    assert response.status_code == 201 and cors_headers(response) == {}
    response = client.post("/api/documents", data={}, headers={"Origin": SITE})
    assert response.status_code == 401 and cors_headers(response) == {}


def test_star_allows_any_origin_to_read_and_none_to_write(indexed_kb, make_app):
    client = make_app(indexed_kb.data_dir, KB_CORS_ORIGINS="*").test_client()
    with client.get("/api/search?q=pension", headers={"Origin": "https://anyone.example"}) as response:
        assert response.headers["Access-Control-Allow-Origin"] == "*"
        assert "Access-Control-Allow-Credentials" not in response.headers
    response = preflight(client, "/api/documents", "GET", origin="https://anyone.example")
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    for method in ("POST", "PATCH", "DELETE"):
        assert cors_headers(preflight(client, "/api/documents/1", method, origin="https://anyone.example")) == {}
    response = client.delete("/api/documents/1", headers={"Origin": "https://anyone.example", **AUTH})
    assert response.status_code == 204 and cors_headers(response) == {}


def test_no_cors_without_the_setting(indexed_kb, make_app):
    client = make_app(indexed_kb.data_dir).test_client()
    with client.get("/api/search?q=pension", headers={"Origin": SITE}) as response:
        assert cors_headers(response) == {}
    assert cors_headers(preflight(client, "/api/search?q=pension", "GET")) == {}


def test_origin_settings_are_checked():
    assert parse_origins(" https://A.example.org/ , http://127.0.0.1:8000,https://a.example.org", "X") == (
        "https://a.example.org", "http://127.0.0.1:8000")
    assert parse_origins("https://a.example.org, *", "X") == ("*",)
    assert parse_origins(["http://[::1]:8080"], "X") == ("http://[::1]:8080",)
    assert parse_origins("", "X") == () and parse_origins(None, "X") == ()
    for bad in ("example.org", "https://example.org/path", "ftp://example.org", "https://*.example.org", "https://"):
        with pytest.raises(ValueError, match="KB_CORS_ORIGINS: .* is not an origin"):
            parse_origins(bad, "KB_CORS_ORIGINS")


def test_a_bad_origin_setting_stops_the_app(tmp_path, make_app, monkeypatch):
    monkeypatch.setenv("KB_EMBED_ORIGINS", "www.example.org")
    with pytest.raises(ValueError, match="KB_EMBED_ORIGINS"):
        make_app(tmp_path)


# --- framing -----------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/", "/?q=pension", "/admin", "/embed/docs", "/api/search?q=pension", "/no-such-page"])
def test_pages_refuse_to_be_framed(client, path):
    response = client.get(path, headers={"Origin": SITE})
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


def test_embed_page_is_framed_only_by_this_site_and_the_allowed_origins(client):
    response = client.get("/embed")
    assert response.status_code == 200
    assert "X-Frame-Options" not in response.headers
    policy = response.headers["Content-Security-Policy"]
    assert f"frame-ancestors 'self' {SITE}" in policy
    assert "script-src 'self'" in policy and "default-src 'none'" in policy and "'unsafe-inline'" not in policy


@pytest.mark.parametrize("setting, ancestors", [("", "frame-ancestors 'self'"), ("*", "frame-ancestors *"),
                                                 ("https://a.example, https://b.example",
                                                  "frame-ancestors 'self' https://a.example https://b.example")])
def test_embed_origins_setting(indexed_kb, make_app, setting, ancestors):
    policy = make_app(indexed_kb.data_dir, KB_EMBED_ORIGINS=setting).test_client().get("/embed").headers["Content-Security-Policy"]
    assert policy.endswith(ancestors)


def test_embed_page_passes_its_query_parameters_to_the_widget(client):
    html = client.get("/embed?k=3&type=presentation&session=2&session=3&theme=dark&lang=fr&accent=%23c0392b"
                      "&placeholder=Une+question&q=pensions").get_data(as_text=True)
    widget = re.search(r"<div data-kb-search[^>]*>", html).group(0)
    assert 'data-kb-k="3"' in widget and 'data-kb-theme="dark"' in widget and 'data-kb-lang="fr"' in widget
    assert 'data-kb-accent="#c0392b"' in widget and 'data-kb-placeholder="Une question"' in widget
    assert 'data-kb-query="pensions"' in widget
    assert 'data-kb-filters="type=presentation&amp;session=2&amp;session=3"' in widget
    assert '<html lang="fr">' in html
    assert '<script src="/embed.js" defer></script>' in html
    assert "<noscript>" in html


def test_embed_page_escapes_its_parameters(client):
    html = client.get('/embed?placeholder="><script>alert(1)</script>&lang="><b>').get_data(as_text=True)
    assert "<script>alert(1)</script>" not in html and "<b>" not in html
    assert "&#34;&gt;&lt;script&gt;" in html or "&quot;&gt;&lt;script&gt;" in html


# --- documentation -----------------------------------------------------------------------------

def test_docs_page_has_snippet_options_live_example_and_origins(client):
    response = client.get("/embed/docs")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert ('&lt;div data-kb-search data-kb-endpoint="http://localhost" data-kb-k="5"&gt;&lt;/div&gt;\n'
            '&lt;script src="http://localhost/embed.js" defer&gt;&lt;/script&gt;') in html
    for option in EMBED_OPTIONS:
        assert f"<code>{option.attribute}</code>" in html, option.attribute
    assert html.count("<div data-kb-search") == 2  # live examples
    assert '<iframe class="example-frame" src="/embed?' in html
    assert '<script src="/embed.js" defer></script>' in html
    assert "KB_CORS_ORIGINS" in html and "KB_EMBED_ORIGINS" in html
    assert f"<code>{SITE}, https://intranet.example.org:8443</code>" in html  # the server's current settings


def test_readme_documents_embedding():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for option in EMBED_OPTIONS:
        assert f"`{option.attribute}`" in readme, option.attribute
    assert "/embed/docs" in readme and "KB_CORS_ORIGINS" in readme and "KB_EMBED_ORIGINS" in readme
    assert "](docs/widget.png)" in readme and (ROOT / "docs" / "widget.png").is_file()
