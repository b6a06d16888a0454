"""The errors (indexer/errors.py) and how the web app answers them (search_app/errors.py): every class a KBError
with its own code and an HTTP status beside it, answered in the one JSON shape without a traceback.
(That extraction errors survive pickling, as workers send them: test_extraction_pool.py.)"""

from __future__ import annotations

import ast
import logging
import re
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from indexer import errors
from indexer.errors import DuplicateDocument, ExtractionError, KBError

from .conftest import assert_error_shape

ROOT = Path(__file__).resolve().parents[1]
ERROR_CLASSES = [getattr(errors, name) for name in errors.__all__]


def _raise(error_class: type[KBError]) -> KBError:
    """An instance of the class, made with the arguments it takes."""
    if issubclass(error_class, ExtractionError):
        return error_class(Path("reports") / "zambia.pdf", "a reason to act on")
    if error_class is DuplicateDocument:
        return error_class(Path("upload") / "copy.pdf", 7, "/corpus/zambia.pdf", "zambia.pdf")
    return error_class(f"{error_class.__name__}: what went wrong and what to do next")


@pytest.fixture
def raising_client(make_app, tmp_path) -> FlaskClient:
    """The app with one more route, ``/api/raise/NAME``, that raises the error class of that name (or a RuntimeError)."""
    app = make_app(tmp_path / "data")

    def raise_error(name: str):
        if name == "unexpected":
            raise RuntimeError("a secret detail of the server")
        raise _raise(getattr(errors, name))

    app.add_url_rule("/api/raise/<name>", view_func=raise_error)
    return app.test_client()


@pytest.mark.parametrize("error_class", ERROR_CLASSES, ids=lambda error_class: error_class.__name__)
def test_every_error_is_a_kb_error_with_a_code_and_a_status(error_class):
    assert issubclass(error_class, KBError)
    assert isinstance(error_class.code, str) and error_class.code
    assert isinstance(error_class.status, int) and 400 <= error_class.status <= 599
    assert "status" in vars(error_class), "declare the status beside the class, even where it repeats the parent's"


def test_codes_are_unique():
    codes = [error_class.code for error_class in ERROR_CLASSES]
    assert len(codes) == len(set(codes))
    assert set(errors.__all__) == {name for name, value in vars(errors).items() if isinstance(value, type)
                                   and issubclass(value, KBError)}


@pytest.mark.parametrize("error_class", ERROR_CLASSES, ids=lambda error_class: error_class.__name__)
def test_the_app_answers_every_error_with_its_status_in_the_one_shape(raising_client, error_class):
    response = raising_client.get(f"/api/raise/{error_class.__name__}")
    assert_error_shape(response, error_class.status, error_class.code)
    assert response.get_json()["error"]["message"] == _raise(error_class).message
    assert "Traceback" not in response.get_data(as_text=True)


def test_an_unexpected_error_is_a_logged_500_in_the_one_shape(raising_client, caplog):
    with caplog.at_level(logging.ERROR):
        response = raising_client.get("/api/raise/unexpected")
    assert_error_shape(response, 500, "internal_error")
    body = response.get_data(as_text=True)
    assert "Traceback" not in body and "secret detail" not in body
    assert "a secret detail of the server" in caplog.text


def _imported(source: Path) -> set[str]:
    """The top-level packages a Python file imports."""
    names = set()
    for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.split(".")[0])
    return names


def test_the_library_never_imports_the_web_framework():
    for source in (ROOT / "indexer").rglob("*.py"):
        assert not _imported(source) & {"flask", "werkzeug", "search_app"}, source


def test_a_405_keeps_its_allow_header(client):
    # Found by fuzzing (Schemathesis's unsupported-method check): the JSON 405 had lost werkzeug's Allow header.
    response = client.open("/api/documents/1", method="PUT")
    assert_error_shape(response, 405, "method_not_allowed")
    assert set(response.headers["Allow"].split(", ")) == {"GET", "HEAD", "OPTIONS", "PATCH", "DELETE"}
    assert response.mimetype == "application/json"


def test_an_unexpected_error_is_logged_and_answered_under_one_request_id(raising_client, caplog):
    with caplog.at_level(logging.ERROR):
        response = raising_client.get("/api/raise/unexpected")
    assert_error_shape(response, 500, "internal_error")
    request_id = response.get_json()["error"]["request_id"]
    assert re.fullmatch(r"[0-9a-f]{32}", request_id) and response.headers["X-Request-Id"] == request_id
    record = next(record for record in caplog.records if record.exc_info)
    assert request_id in record.getMessage() and "a secret detail of the server" in caplog.text


def test_a_plain_request_id_from_the_client_is_kept_and_logged(raising_client, caplog):
    with caplog.at_level(logging.ERROR):
        response = raising_client.get("/api/raise/unexpected", headers={"X-Request-Id": "edge-7f3a.1:2_x"})
    assert response.headers["X-Request-Id"] == "edge-7f3a.1:2_x"
    assert response.get_json()["error"]["request_id"] == "edge-7f3a.1:2_x"
    assert "edge-7f3a.1:2_x" in caplog.text


@pytest.mark.parametrize("given", ["", "has space", "x" * 129, "<script>", "a\u00e9"])
def test_an_odd_request_id_from_the_client_is_replaced(client, given):
    response = client.get("/api/health", headers={"X-Request-Id": given})
    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["X-Request-Id"])


@pytest.mark.parametrize("url", ["/api/health", "/api/documents/9999", "/", "/embed.js", "/no-such-page"])
def test_every_response_has_its_own_request_id(client, url):
    first, second = client.get(url), client.get(url)
    assert first.headers["X-Request-Id"] != second.headers["X-Request-Id"]
    first.close()
    second.close()


def test_a_500_page_shows_its_request_id(make_app, tmp_path):
    app = make_app(tmp_path / "data")

    def broken():
        raise RuntimeError("a bug")

    app.view_functions["widget.docs"] = broken
    response = app.test_client().get("/embed/docs")
    assert response.status_code == 500 and response.mimetype == "text/html"
    assert response.headers["X-Request-Id"] in response.get_data(as_text=True)
    assert "Traceback" not in response.get_data(as_text=True)
