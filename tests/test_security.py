"""The security headers (search_app/security.py), over every route of the app that answers a GET with HTML:
a Content-Security-Policy without 'unsafe-inline', nosniff, a Referrer-Policy, framing refused but for /embed,
and templates that need no inline script or style."""

from __future__ import annotations

import re

import pytest
from bs4 import BeautifulSoup

from search_app.security import EMBED_POLICY, ORIGINAL_POLICY, PAGE_POLICY

#: Query strings that make a page show more than its empty state.
QUERIES = {"/": {"q": "pension workers"}, "/embed": {"k": "3", "theme": "dark", "session": "2"}}
#: Each HTML page the app has, and the error pages it renders; the test fails if one is missing.
EXPECTED_PAGES = {"/", "/admin", "/embed", "/embed/docs"}
ON_HANDLER = re.compile(r"^on[a-z]+$")


def directives(policy: str) -> dict[str, list[str]]:
    """A CSP header as {directive: sources}."""
    parsed = {}
    for part in policy.split(";"):
        name, *sources = part.split()
        parsed[name] = sources
    return parsed


def url_for_rule(rule, document_id: int) -> str:
    """A concrete address for a GET route: its variables filled with an indexed document and a static file."""
    values = {"document_id": str(document_id), "filename": "style.css"}
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", lambda match: values[match.group(1)], rule.rule)


def html_answers(client) -> dict[str, object]:
    """Every GET route's answer that is HTML, by path, plus the HTML error pages (404, 405)."""
    document_id = client.get("/api/documents").get_json()["documents"][0]["id"]
    answers = {}
    for rule in client.application.url_map.iter_rules():
        if "GET" not in rule.methods:
            continue
        path = url_for_rule(rule, document_id)
        with client.get(path, query_string=QUERIES.get(path, {})) as response:
            response.get_data()
        if response.mimetype == "text/html":
            answers[path] = response
    answers["404 page"] = client.get("/no/such/page")
    answers["405 page"] = client.post("/embed")
    return answers


@pytest.fixture
def pages(client):
    return html_answers(client)


def test_every_html_page_was_checked(pages):
    assert EXPECTED_PAGES <= set(pages)
    assert pages["404 page"].status_code == 404 and pages["405 page"].status_code == 405


def test_every_html_page_has_a_strict_policy_nosniff_and_a_referrer_policy(pages):
    for path, response in pages.items():
        policy = response.headers["Content-Security-Policy"]
        assert "'unsafe-inline'" not in policy and "'unsafe-eval'" not in policy, path
        parsed = directives(policy)
        for directive in ("script-src", "style-src", "base-uri", "form-action", "frame-ancestors"):
            assert directive in parsed, (path, directive)
        assert "*" not in parsed["script-src"] + parsed["style-src"], path
        assert response.headers["X-Content-Type-Options"] == "nosniff", path
        assert response.headers["Referrer-Policy"] in ("same-origin", "strict-origin-when-cross-origin"), path


def test_only_embed_may_be_framed(pages):
    for path, response in pages.items():
        frame_ancestors = directives(response.headers["Content-Security-Policy"])["frame-ancestors"]
        if path == "/embed":
            assert frame_ancestors == ["'self'"] and "X-Frame-Options" not in response.headers
        else:
            assert frame_ancestors == ["'none'"] and response.headers["X-Frame-Options"] == "DENY", path


def test_pages_have_no_inline_script_style_or_handlers(pages):
    for path, response in pages.items():
        soup = BeautifulSoup(response.get_data(as_text=True), "html.parser")
        assert soup.find("style") is None, path
        for script in soup.find_all("script"):
            assert script.get("src") and not script.string, (path, str(script))
        for element in soup.find_all(True):
            assert "style" not in element.attrs, (path, str(element)[:120])
            handlers = [name for name in element.attrs if ON_HANDLER.match(name)]
            assert not handlers, (path, str(element)[:120])
            assert not str(element.get("href", "")).lower().startswith("javascript:"), path


def test_the_search_page_has_its_results_under_the_policy(pages):
    response = pages["/"]
    assert response.headers["Content-Security-Policy"] == PAGE_POLICY
    assert "<mark>" in response.get_data(as_text=True)


def test_embed_policy_names_the_allowed_origins(make_app, indexed_kb):
    app = make_app(indexed_kb.data_dir, KB_EMBED_ORIGINS="https://www.example.org")
    response = app.test_client().get("/embed")
    assert response.headers["Content-Security-Policy"] == EMBED_POLICY.format(ancestors="'self' https://www.example.org")
    assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"


def test_originals_are_sandboxed_and_other_answers_refuse_framing(client, indexed_kb):
    html = indexed_kb.data_dir.parent / "page.html"
    html.write_text("<html><body><script>alert(1)</script><p>Pension note</p></body></html>", encoding="utf-8")
    document = indexed_kb.add(html)
    with client.get(f"/api/documents/{document.id}/file") as original:
        assert original.mimetype == "text/html"
        assert original.headers["Content-Security-Policy"] == ORIGINAL_POLICY
        assert original.headers["X-Content-Type-Options"] == "nosniff"
    for path in ("/api/search?q=pension", "/api/health", "/embed.js", "/static/style.css"):
        with client.get(path) as response:
            assert response.headers["Content-Security-Policy"] == "frame-ancestors 'none'", path
            assert response.headers["X-Frame-Options"] == "DENY", path
            assert response.headers["X-Content-Type-Options"] == "nosniff", path


def test_the_admin_page_is_never_cached(pages):
    assert pages["/admin"].headers["Cache-Control"] == "no-store"
