"""The catalogue: catalog.yaml read from a folder, user-given fields checked and normalised, the field declarations."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from indexer.catalog import CATALOG_FIELDS, CATALOG_NAME, FIELDS, clean_fields, guess_type, read_catalog
from indexer.errors import CatalogError, InvalidField
from indexer.filters import FILTER_FIELDS


def _folder_with_catalog(tmp_path: Path, text: str) -> Path:
    (tmp_path / CATALOG_NAME).write_text(text, encoding="utf-8")
    return tmp_path


# -- read_catalog ------------------------------------------------------------------------------------


def test_a_folder_without_a_catalogue_has_no_entries(tmp_path):
    assert read_catalog(tmp_path) == {}


def test_entries_are_keyed_by_their_file_without_the_file_field(tmp_path):
    folder = _folder_with_catalog(tmp_path, (
        "- file: decks/thailand.pptx\n  type: presentation\n  session: 6\n  countries: [Thailand, Viet Nam]\n"
        "- file: ./notes.md\n  title: Field notes\n"
    ))
    assert read_catalog(folder) == {
        str(Path("decks/thailand.pptx")): {"type": "presentation", "session": 6, "countries": ["Thailand", "Viet Nam"]},
        "notes.md": {"title": "Field notes"},  # the path is normalised ("./" dropped)
    }


def test_an_empty_catalogue_has_no_entries(tmp_path):
    assert read_catalog(_folder_with_catalog(tmp_path, "")) == {}


def test_dates_become_iso_strings_also_inside_lists(tmp_path):
    folder = _folder_with_catalog(tmp_path, (
        "- file: a.pdf\n  date: 2017-05-23\n  held: [2016-10-01, 2016-10-02]\n  updated: 2017-05-23 10:30:00\n"
    ))
    entry = read_catalog(folder)["a.pdf"]
    assert entry == {"date": "2017-05-23", "held": ["2016-10-01", "2016-10-02"], "updated": "2017-05-23T10:30:00"}
    assert all(isinstance(value, (str, list)) for value in entry.values())


def test_invalid_yaml_names_the_file(tmp_path):
    folder = _folder_with_catalog(tmp_path, "- file: a.pdf\n  title: [unclosed\n")
    with pytest.raises(CatalogError, match=r"catalog\.yaml is not valid YAML"):
        read_catalog(folder)


def test_a_catalogue_that_is_not_a_list_is_refused(tmp_path):
    with pytest.raises(CatalogError, match="must be a list of entries"):
        read_catalog(_folder_with_catalog(tmp_path, "file: a.pdf\ntitle: A\n"))


@pytest.mark.parametrize("entries", ["- title: No file\n", "- file: ''\n  title: Empty file\n", "- just text\n"])
def test_an_entry_without_a_file_is_refused_by_its_number(tmp_path, entries):
    folder = _folder_with_catalog(tmp_path, "- file: a.pdf\n" + entries)
    with pytest.raises(CatalogError, match="entry 2 has no 'file' field"):
        read_catalog(folder)


# -- clean_fields ------------------------------------------------------------------------------------


def test_list_fields_accept_comma_separated_text_or_a_list():
    assert clean_fields({"countries": "Thailand, Viet Nam,,  Zambia "}) == {"countries": ["Thailand", "Viet Nam", "Zambia"]}
    assert clean_fields({"speakers": [" Ana ", "", "Bo"]}) == {"speakers": ["Ana", "Bo"]}


def test_numbers_are_whole_numbers_from_text_or_numbers():
    assert clean_fields({"session": "2"}) == {"session": 2}
    assert clean_fields({"session": 6}) == {"session": 6}


@pytest.mark.parametrize("value, cleaned", [("2017", "2017"), ("2017-05", "2017-05"), ("2017-05-23", "2017-05-23"),
                                            (2017, "2017"), (dt.date(2017, 5, 23), "2017-05-23")])
def test_dates_may_be_a_year_a_month_or_a_day(value, cleaned):
    assert clean_fields({"date": value}) == {"date": cleaned}


def test_text_is_stripped_and_empty_values_are_dropped():
    assert clean_fields({"title": "  Pensions  ", "type": "", "organisation": None, "countries": []}) == {"title": "Pensions"}
    assert clean_fields({}) == {}


def test_an_unknown_field_is_refused_with_the_known_ones():
    with pytest.raises(InvalidField, match="unknown field 'colour'; fields: title, type, session") as raised:
        clean_fields({"title": "A", "colour": "red"})
    assert raised.value.code == "invalid_field"


@pytest.mark.parametrize("fields, message", [
    ({"session": "two"}, "session must be a whole number, not 'two'"),
    ({"session": [2]}, "session must be a whole number"),
    ({"countries": 5}, "countries must be a list of names"),
    ({"speakers": ["Ana", 3]}, "speakers must be a list of names"),
    ({"title": ["A", "B"]}, "title must be text, not list"),
    ({"date": {"year": 2017}}, "date must be text, not dict"),
    ({"date": "2017-13-01"}, "date must be a date like 2017-05-23"),
    ({"date": "23/05/2017"}, "date must be a date like 2017-05-23"),
    ({"date": "May 2017"}, "date must be a date like 2017-05-23"),
])
def test_a_value_of_the_wrong_kind_is_refused_naming_its_field(fields, message):
    with pytest.raises(InvalidField) as raised:
        clean_fields(fields)
    assert raised.value.message.startswith(message)


# -- guess_type and the field declarations -------------------------------------------------------------


@pytest.mark.parametrize("file_format, kind", [("pptx", "presentation"), ("pdf", "document"), ("docx", "document"),
                                               ("html", "web page"), ("markdown", "note"), ("text", "text"),
                                               ("odt", "document")])
def test_guess_type_follows_the_format_and_falls_back_to_document(file_format, kind):
    assert guess_type(file_format) == kind


def test_field_names_and_kb_add_options_are_unique():
    names = [field.name for field in CATALOG_FIELDS]
    options = [field.option or field.name for field in CATALOG_FIELDS]
    assert len(set(names)) == len(names)
    assert len(set(options)) == len(options)
    assert list(FIELDS) == names


def test_every_field_has_a_known_kind_and_a_label():
    assert {field.kind for field in CATALOG_FIELDS} <= {"text", "number", "list", "date"}
    assert all(field.label for field in CATALOG_FIELDS)


def test_every_declared_filter_is_a_search_filter_and_every_facet_has_a_filter():
    filters = [field.filter for field in CATALOG_FIELDS if field.filter]
    assert len(set(filters)) == len(filters)
    assert set(filters) <= set(FILTER_FIELDS)
    assert all(field.filter for field in CATALOG_FIELDS if field.facet)


def test_a_fraction_or_a_boolean_is_not_a_session_number():
    for value in (2.7, True):
        with pytest.raises(InvalidField, match="session must be a whole number"):
            clean_fields({"session": value})
    assert clean_fields({"session": 2.0}) == {"session": 2}


def test_dates_are_stored_zero_padded():
    assert clean_fields({"date": "2017-5-3"}) == {"date": "2017-05-03"}
    assert clean_fields({"date": "2017-5"}) == {"date": "2017-05"}


def test_a_whole_float_is_its_number_for_text_and_dates_too():
    # Found by fuzzing the API: JSON Schema counts 2017.0 as the integer 2017, which the description allows.
    assert clean_fields({"date": 2017.0, "title": 12.0}) == {"date": "2017", "title": "12"}
    with pytest.raises(InvalidField, match="title must be text, not float"):
        clean_fields({"title": 2.5})


@pytest.mark.parametrize("name", ["title", "date"])
def test_a_boolean_is_not_text(name):
    # Seen while fixing the float case: true was stored as the text "True" (the description allows no boolean).
    with pytest.raises(InvalidField, match=f"{name} must be text, not bool"):
        clean_fields({name: True})


def test_an_empty_list_empties_only_a_list_field():
    # Found by fuzzing the API: {"language": []} was taken as "remove the language".
    assert clean_fields({"countries": [], "speakers": []}) == {}
    for name in ("title", "language", "date", "session"):
        with pytest.raises(InvalidField, match=f"{name} must be"):
            clean_fields({name: []})
