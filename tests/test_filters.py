"""Filters and facet values, declared by the catalogue fields."""

from __future__ import annotations

import pytest

from indexer.catalog import CATALOG_FIELDS
from indexer.errors import InvalidQuery
from indexer.filters import FACET_FIELDS, FILTER_FIELDS, PassageFilter, document_values, facet_pairs

from .conftest import make_document


def test_filters_and_facets_come_from_the_catalogue_fields():
    assert set(FILTER_FIELDS) == {field.filter for field in CATALOG_FIELDS if field.filter} | {"format"}
    assert FACET_FIELDS == ("type", "session", "country", "language", "year")


def test_an_unknown_filter_is_refused_with_the_valid_ones():
    with pytest.raises(InvalidQuery, match="unknown filter colour; valid filters: type, format"):
        PassageFilter.of({"colour": ("red",)})


def test_values_are_bound_lower_cased_never_spliced_into_the_sql():
    passage_filter = PassageFilter.of({"country": ("Thailand", "Viet Nam"), "type": ("'; DROP TABLE documents; --",)})
    sql, args = passage_filter.sql()
    assert "DROP" not in sql and "thailand" in args and "'; drop table documents; --" in args
    assert sql.count(" AND ") >= 1 and not PassageFilter.of({}) and not PassageFilter.of(None)


def test_document_values_read_lists_dates_and_the_detected_language():
    document = make_document(metadata={"countries": ["Thailand", "Zambia"], "date": "2017-05-23", "session": 2}, language="en")
    assert document_values("country", document) == ["Thailand", "Zambia"]
    assert document_values("year", document) == ["2017"]
    assert document_values("session", document) == ["2"]
    assert document_values("language", document) == ["en"]
    assert document_values("language", make_document(metadata={"language": "es"}, language="en")) == ["es"]
    assert document_values("speaker", document) == []


def test_facet_pairs_list_each_value_once_and_follow_a_changed_document():
    document = make_document(metadata={"countries": ["Zambia", "Zambia", "Chile"], "date": "2017-05-23"}, language="en")
    pairs = facet_pairs(document)
    assert ("country", "Zambia") in pairs and pairs.count(("country", "Zambia")) == 1
    assert ("country", "Chile") in pairs and ("year", "2017") in pairs and ("language", "en") in pairs
    assert facet_pairs(document) is pairs  # remembered for the same document object
    # The same id read again after an update (a new object) is read afresh, not taken from memory.
    updated = make_document(metadata={"countries": ["Chile"], "date": "2018-01-01"}, language="en")
    assert updated.id == document.id
    assert ("country", "Zambia") not in facet_pairs(updated) and ("year", "2018") in facet_pairs(updated)
