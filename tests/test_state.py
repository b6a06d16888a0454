"""What the blueprints share: whole-number parameters and the search a query string describes."""

from __future__ import annotations

import pytest

from indexer import InvalidQuery
from search_app import state


@pytest.fixture
def app(make_app, tmp_path):
    return make_app(tmp_path / "data")


@pytest.mark.parametrize("query, expected", [("", 7), ("?k=", 7), ("?k=3", 3), ("?k=-2", -2), ("?other=1", 7)])
def test_int_arg_reads_whole_numbers_with_a_default(app, query, expected):
    with app.test_request_context(f"/api/search{query}"):
        assert state.int_arg("k", 7) == expected


@pytest.mark.parametrize("raw", ["ten", "2.5", "1e3"])
def test_int_arg_refuses_anything_else_as_a_bad_request(app, raw):
    with app.test_request_context(f"/api/search?k={raw}"), pytest.raises(InvalidQuery, match=f"'k'.*{raw}") as caught:
        state.int_arg("k", 7)
    assert caught.value.status == 400


def test_search_from_request_passes_repeated_filters_as_tuples(app, monkeypatch):
    calls = []
    monkeypatch.setattr(type(state.knowledge_base(app)), "search", lambda kb, question, **options: calls.append((question, options)))
    with app.test_request_context("/api/search?q=pensions&k=3&mode=dense&type=note&type=report&language=en&group=document"):
        state.search_from_request()
    (question, options), = calls
    assert question == "pensions"
    assert options["filters"] == {"type": ("note", "report"), "language": ("en",)}
    assert (options["k"], options["mode"], options["group"]) == (3, "dense", True)
    assert options["per_document"] == app.config["KB_PER_DOCUMENT"]


def test_search_from_request_refuses_an_unknown_grouping(app):
    with app.test_request_context("/api/search?q=pensions&group=slide"), pytest.raises(InvalidQuery, match="group"):
        state.search_from_request()
