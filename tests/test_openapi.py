"""search_app/openapi.py and openapi.yaml: the description is valid OpenAPI 3.1, covers every route of the app and
nothing else, and every response it declares — each error status of each route, and the successes — is what the
app answers (status, content type, required headers, body schema). (Generated requests against a real server:
test_fuzz.py.)"""

from __future__ import annotations

import io
import shutil
from pathlib import Path
from typing import Callable

import jsonschema
import pytest
from flask import Flask
from openapi_spec_validator import validate

from indexer import KnowledgeBase
from indexer.catalog import CATALOG_FIELDS
from indexer.errors import InvalidQuery
from indexer.filters import FILTER_FIELDS
from indexer.search import SearchRequest, check_query
from search_app import create_app
from search_app.openapi import HTTP_METHODS, openapi_spec

from .conftest import ADMIN_TOKEN, AUTH, FakeEmbedder, make_pdf

SPEC = openapi_spec(500)
#: Routes of the app that the description leaves out on purpose, by endpoint, with why.
UNDESCRIBED = {"static": "Flask's own route for the stylesheets and scripts of the pages"}
#: Methods Flask adds to every route by itself (HEAD answers as GET without the body; OPTIONS lists the methods).
AUTOMATIC_METHODS = {"HEAD", "OPTIONS"}
MISSING = 999_999


def operations(spec: dict = SPEC) -> list[tuple[str, str, dict]]:
    """Every (path, METHOD, operation) of the description."""
    return [(path, method.upper(), item[method]) for path, item in spec["paths"].items() for method in HTTP_METHODS if method in item]


def resolved(node: dict) -> dict:
    """A response or parameter with its ``$ref`` followed."""
    while "$ref" in node:
        kind, name = node["$ref"].split("/")[-2:]
        node = SPEC["components"][kind][name]
    return node


def declared_errors() -> list[tuple[str, str, int]]:
    return [(path, method, int(status)) for path, method, operation in operations()
            for status in operation["responses"] if int(status) >= 400]


def check_against_description(response, path: str, method: str) -> None:
    """The response is one the description declares for this operation: status, content type, headers, body."""
    operation = SPEC["paths"][path][method.lower()]
    assert str(response.status_code) in operation["responses"], f"{method} {path} answered an undeclared {response.status_code}"
    declared = resolved(operation["responses"][str(response.status_code)])
    for name, header in declared.get("headers", {}).items():
        header = resolved(header)
        if header.get("required"):
            assert name in response.headers, f"{method} {path} {response.status_code}: no {name} header"
            value = response.headers[name]
            schema = header["schema"]
            jsonschema.validate(int(value) if schema.get("type") == "integer" else value, schema)
    if "content" not in declared:
        assert not response.data
        return
    assert response.mimetype in declared["content"], f"{response.mimetype} is not declared for {method} {path} {response.status_code}"
    schema = declared["content"][response.mimetype].get("schema", {})
    if response.mimetype == "application/json":
        # Beside the components, so that its "#/components/..." references resolve.
        jsonschema.Draft202012Validator({"allOf": [schema], "components": SPEC["components"]}).validate(response.get_json())


# -- the description itself ------------------------------------------------------------------------


def test_the_description_is_valid_openapi_3_1():
    validate(SPEC)
    assert SPEC["openapi"].startswith("3.1")


def test_the_server_serves_it_with_its_own_question_limit(make_app, tmp_path):
    app = make_app(tmp_path / "data", KB_MAX_QUERY_CHARS=120)
    response = app.test_client().get("/api/openapi.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert response.get_json() == openapi_spec(120)
    assert response.get_json()["components"]["parameters"]["q"]["schema"]["maxLength"] == 120


def test_the_embed_docs_link_to_it(client):
    assert 'href="/api/openapi.json"' in client.get("/embed/docs").get_data(as_text=True)


def test_every_route_is_described_with_its_methods_and_nothing_else(make_app, tmp_path):
    app = make_app(tmp_path / "data")
    routes = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint in UNDESCRIBED:
            continue
        path = rule.rule
        for argument in rule.arguments:
            path = path.replace(f"<int:{argument}>", f"{{{argument}}}").replace(f"<{argument}>", f"{{{argument}}}")
        routes |= {(path, method) for method in rule.methods - AUTOMATIC_METHODS}
    assert routes == {(path, method) for path, method, _ in operations()}
    assert set(UNDESCRIBED) <= {rule.endpoint for rule in app.url_map.iter_rules()}


def test_the_catalogue_fields_and_the_filters_come_from_the_library():
    names = [field.name for field in CATALOG_FIELDS]
    assert list(SPEC["components"]["schemas"]["CatalogueFields"]["properties"]) == names
    assert list(SPEC["components"]["schemas"]["CatalogueFieldsForm"]["properties"]) == ["file", *names]
    search = SPEC["paths"]["/api/search"]["get"]["parameters"]
    assert [resolved(parameter)["name"] for parameter in search] == ["q", "k", "mode", "per_document", "group", "answers",
                                                                                     *FILTER_FIELDS]
    assert not any(key.startswith("x-") for _, _, operation in operations() for key in operation)


def test_writes_need_the_token_and_reads_do_not():
    for path, method, operation in operations():
        secured = operation.get("security") == [{"adminToken": []}]
        assert secured == (method != "GET" or path in ("/api/index-report", "/api/audit")), f"{method} {path}"
        assert secured == ("401" in operation["responses"] and "403" in operation["responses"]), f"{method} {path}"


@pytest.mark.parametrize("path, method, status", declared_errors(), ids=lambda value: str(value))
def test_every_declared_error_is_in_the_one_shape(path, method, status):
    content = resolved(SPEC["paths"][path][method.lower()]["responses"][str(status)])["content"]
    if path.startswith("/api/"):
        schema = "ServerError" if status == 500 else "Error"
        assert content == {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}}
    else:
        assert list(content) == ["text/html"]


@pytest.mark.parametrize("question", ["a", " pension ", "¿qué?", "*"])
def test_a_question_the_description_allows_is_searched(question):
    pattern = SPEC["components"]["parameters"]["q"]["schema"]
    jsonschema.validate(question, pattern)
    assert check_query(SearchRequest(question), 500)


@pytest.mark.parametrize("question", ["", "   ", "\x1d", "\x1c\x1f", "\x85", "\u3000", "\ufeff", " \ufeff\t"])
def test_a_question_the_description_refuses_is_refused(question):
    # "\x1d" was found by fuzzing: a JSON Schema \S takes it, Python's strip() does not.
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(question, SPEC["components"]["parameters"]["q"]["schema"])
    with pytest.raises(InvalidQuery, match="the question is empty"):
        check_query(SearchRequest(question), 500)


# -- every declared response, produced ------------------------------------------------------------------


class Situations:
    """Apps in the states that make each error happen."""

    def __init__(self, make_app: Callable[..., Flask], data_dir: Path, tmp_path: Path):
        self.make_app, self.tmp_path, self.data_dir = make_app, tmp_path, data_dir
        self.pdf = make_pdf(tmp_path / "upload.pdf", ["Domestic workers rarely have written contracts."])

    def app(self, **settings) -> Flask:
        return self.make_app(self.data_dir, **settings)

    def request(self, app: Flask, method: str, path: str, headers=AUTH, **kwargs):
        path = path.replace("{document_id}", str(kwargs.pop("document_id", 1)))
        if method == "PATCH":
            kwargs.setdefault("json", {"title": "A new title"})
        if method == "POST":
            kwargs.setdefault("data", {"file": (io.BytesIO(self.pdf.read_bytes()), "upload.pdf")})
        if path == "/api/search":
            kwargs.setdefault("query_string", {"q": "pension"})
        response = app.test_client().open(path, method=method, headers=headers, **kwargs)
        response.get_data()  # read, then closed: a file answer holds the file open until then
        response.close()
        return response

    def upload(self, app: Flask, content: bytes, name: str):
        return self.request(app, "POST", "/api/documents", data={"file": (io.BytesIO(content), name)},
                            content_type="multipart/form-data")

    def produce(self, method: str, path: str, status: int):
        """The request that makes this operation answer this status."""
        if status == 400:
            return self.bad_request(method, path)
        if status == 401:
            return self.request(self.app(), method, path, headers={})
        if status == 403:
            return self.request(self.app(KB_ADMIN_TOKEN=""), method, path)
        if status == 404:
            return self.request(self.app(), method, path, document_id=MISSING)
        if status == 409:
            app = self.app()
            assert self.request(app, method, path).status_code == 201
            return self.request(app, method, path)
        if status == 413:  # the PDF is larger than 100 bytes, and so is this JSON body
            return self.request(self.app(KB_MAX_UPLOAD_MB=0.0001), method, path,
                                **({"json": {"title": "x" * 1000}} if method == "PATCH" else {}))
        if status == 415:
            return self.upload(self.app(), bytes(range(256)) * 4, "data.bin")
        if status == 422:
            return self.upload(self.app(), b"%PDF-1.4 not really", "broken.pdf")
        if status == 429:
            return self.rate_limited(method, path)
        if status == 500:
            return self.request(self.failing(method, path), method, path)
        if status == 503:
            return self.unavailable(method, path)
        raise AssertionError(f"no way to produce {status} for {method} {path}: add one, or drop it from the description")

    def bad_request(self, method: str, path: str):
        if method == "POST":
            return self.request(self.app(), method, path, data={"title": "no file"}, content_type="multipart/form-data")
        if method == "PATCH":
            return self.request(self.app(), method, path, json=None, data="title=A", content_type="text/plain")
        if path == "/api/audit":
            return self.request(self.app(), method, path, query_string={"limit": "0"})
        return self.request(self.app(), method, path, query_string={"q": " "})

    def rate_limited(self, method: str, path: str):
        """The second request of a client allowed one an hour (the real limiter, search_app/limits.py)."""
        app = self.app(KB_RATE_LIMIT="1/hour")
        self.request(app, method, path)
        return self.request(app, method, path)

    def failing(self, method: str, path: str) -> Flask:
        """An app whose view for this route raises an unexpected error."""
        app = self.app()
        endpoint, _ = app.url_map.bind("localhost").match(path.replace("{document_id}", "1"), method=method)

        def broken(**_):
            raise RuntimeError("a bug")

        app.view_functions[endpoint] = broken
        return app

    def unavailable(self, method: str, path: str):
        no_model = str(self.tmp_path / "no-model")
        if method == "POST":  # a model that cannot be loaded
            return self.request(self.without_embedder(self.tmp_path / "fresh", KB_MODEL=no_model), method, path)
        if path == "/":  # the page explains a missing index itself; an index of another model it cannot
            return self.request(self.without_embedder(self.data_dir, KB_MODEL=no_model), method, path, query_string={"q": "pension"})
        return self.request(self.make_app(self.tmp_path / "no-index"), method, path)

    def without_embedder(self, data_dir: Path, **settings) -> Flask:
        """An app that loads the model its settings name (none is given to it)."""
        return create_app({"KB_DATA_DIR": str(data_dir), "KB_ADMIN_TOKEN": ADMIN_TOKEN, "TESTING": True, **settings})


@pytest.fixture(scope="module")
def indexed_once(tmp_path_factory) -> Path:
    """A data directory with a PDF and a note, indexed once for the module (each test works on a copy)."""
    corpus = tmp_path_factory.mktemp("corpus")
    make_pdf(corpus / "pensions.pdf", ["Old-age pensions in China.", "Coverage grew with registration."], title="Pensions")
    (corpus / "note.md").write_text("# Monotributo\n\nArgentina merges tax and social security contributions.\n")
    data = tmp_path_factory.mktemp("indexed") / "data"
    KnowledgeBase(data, embedder=FakeEmbedder()).index([corpus])
    return data


@pytest.fixture
def situations(make_app, indexed_once, tmp_path) -> Situations:
    return Situations(make_app, Path(shutil.copytree(indexed_once, tmp_path / "data")), tmp_path)


@pytest.mark.parametrize("path, method, status", declared_errors(), ids=lambda value: str(value))
def test_every_declared_error_happens_as_declared(situations, path, method, status):
    response = situations.produce(method, path, status)
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    check_against_description(response, path, method)


SUCCESSES = [
    ("/api/search", "GET", {"query_string": {"q": "pension scheme", "k": 3}}),
    ("/api/search", "GET", {"query_string": {"q": "pension scheme", "group": "document", "type": "document"}}),
    ("/api/documents", "GET", {}),
    ("/api/documents/{document_id}", "GET", {}),
    ("/api/documents/{document_id}/file", "GET", {}),
    ("/api/documents/{document_id}", "PATCH", {"json": {"title": "New", "countries": ["Zambia"], "session": "2", "date": None}}),
    ("/api/documents/{document_id}", "DELETE", {}),
    ("/api/documents", "POST", {}),
    ("/api/health", "GET", {}),
    ("/api/index-report", "GET", {}),
    ("/api/audit", "GET", {"query_string": {"limit": 5}}),
    ("/api/openapi.json", "GET", {}),
    ("/", "GET", {"query_string": {"q": "pension", "country": "Zambia"}}),
    ("/admin", "GET", {}),
    ("/embed", "GET", {"query_string": {"k": 3, "type": "presentation"}}),
    ("/embed.js", "GET", {}),
    ("/embed/docs", "GET", {}),
]


def test_every_operation_has_a_success_case_here():
    assert {(path, method) for path, method, _ in SUCCESSES} == {(path, method) for path, method, _ in operations()}


@pytest.mark.parametrize("path, method, kwargs", SUCCESSES, ids=lambda value: str(value))
def test_every_success_is_as_declared(situations, path, method, kwargs):
    response = situations.request(situations.app(), method, path, **kwargs)
    assert response.status_code < 300, response.get_data(as_text=True)[:500]
    check_against_description(response, path, method)
