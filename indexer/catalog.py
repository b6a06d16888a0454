"""The catalogue: per-file fields (title, type, session, speakers…) kept in ``catalog.yaml``.

A folder given to ``kb index`` may hold a ``catalog.yaml``: a list of entries,
each naming a ``file`` relative to that folder. Its fields are stored with the
document; files it does not name are indexed all the same.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .errors import CatalogError, InvalidField

__all__ = ["CATALOG_NAME", "CatalogField", "CATALOG_FIELDS", "FIELDS", "read_catalog", "guess_type", "clean_fields"]

CATALOG_NAME = "catalog.yaml"
_TYPE_BY_FORMAT = {"pptx": "presentation", "pdf": "document", "docx": "document", "html": "web page", "markdown": "note", "text": "text"}


def read_catalog(folder: Path) -> dict[str, dict[str, Any]]:
    """The catalogue entries of ``folder`` by file path relative to it (empty if it has none).

    Args:
        folder: a folder that may hold ``catalog.yaml``.

    Returns:
        Each entry's fields (without ``file``), dates as ISO strings.

    Raises:
        CatalogError: the file is not valid YAML or an entry has no ``file``.
    """
    path = folder / CATALOG_NAME
    if not path.exists():
        return {}
    try:
        entries = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    except yaml.YAMLError as error:
        raise CatalogError(f"{path} is not valid YAML ({error}); fix it or remove it") from error
    if not isinstance(entries, list):
        raise CatalogError(f"{path} must be a list of entries, each with a 'file' field")
    catalog = {}
    for number, entry in enumerate(entries, start=1):
        if not isinstance(entry, dict) or not entry.get("file"):
            raise CatalogError(f"{path}: entry {number} has no 'file' field; each entry names the file it describes")
        fields = {key: _plain(value) for key, value in entry.items() if key != "file"}
        catalog[str(Path(entry["file"]))] = fields
    return catalog


def _plain(value: Any) -> Any:
    """YAML dates become ISO strings so the fields survive a round trip through JSON."""
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def guess_type(file_format: str) -> str:
    """A document type for a file the catalogue does not describe, from its format."""
    return _TYPE_BY_FORMAT.get(file_format, "document")


@dataclass(frozen=True)
class CatalogField:
    """One catalogue field a user may set on a document (catalog.yaml, ``kb add``, the admin page, PATCH).

    Attributes:
        name: its key in catalog.yaml and in the document's metadata.
        kind: "text", "number", "list" (several names) or "date" (YYYY, YYYY-MM or YYYY-MM-DD).
        label: its name on a page.
        hint: what to type, shown beside the input (may be empty).
        filter: the search filter that selects on it (``filters.FILTER_FIELDS``), or "" for none.
        facet: whether search results count documents per value of that filter.
        option: its ``kb add`` option without the dashes, when not its name (a list field's is singular and
            repeated: ``--country A --country B``).
    """

    name: str
    kind: str
    label: str
    hint: str = ""
    filter: str = ""
    facet: bool = False
    option: str = ""


#: The catalogue fields, in the order forms show them. Search filters and facets are read from here too.
CATALOG_FIELDS = (
    CatalogField("title", "text", "Title", "blank: taken from the file"),
    CatalogField("type", "text", "Type", "e.g. presentation, report, country note", filter="type", facet=True),
    CatalogField("session", "number", "Session", "its number, e.g. 2", filter="session", facet=True),
    CatalogField("countries", "list", "Countries", "comma-separated", filter="country", facet=True, option="country"),
    CatalogField("language", "text", "Language", "e.g. en", filter="language", facet=True, option="lang"),
    CatalogField("date", "date", "Date", "2017-05-23, 2017-05 or 2017", filter="year", facet=True),
    CatalogField("speakers", "list", "Speakers", "comma-separated", filter="speaker", option="speaker"),
    CatalogField("organisation", "text", "Organisation", filter="organisation"),
)
#: Catalogue fields by name: what each holds.
FIELDS = {field.name: field.kind for field in CATALOG_FIELDS}


def clean_fields(fields: dict[str, Any]) -> dict[str, Any]:
    """Check and normalise catalogue fields given by a user (CLI options, upload form, PATCH body).

    Lists may come as comma-separated text; empty values are dropped.

    Raises:
        InvalidField: an unknown field, or a value of the wrong kind.
    """
    cleaned: dict[str, Any] = {}
    for name, value in fields.items():
        kind = FIELDS.get(name)
        if kind is None:
            raise InvalidField(f"unknown field {name!r}; fields: {', '.join(FIELDS)}")
        # [] empties only a list field: for any other it is a value of the wrong kind (found by fuzzing the API).
        if value is None or value == "" or (value == [] and kind == "list"):
            continue
        cleaned[name] = _clean_value(name, kind, value)
    return cleaned


def _clean_value(name: str, kind: str, value: Any) -> Any:
    if kind == "list":
        items = value.split(",") if isinstance(value, str) else value
        if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
            raise InvalidField(f"{name} must be a list of names or comma-separated text")
        return [item.strip() for item in items if item.strip()]
    if kind == "number":
        # int() would cut 2.7 to 2 and turn True into 1: only whole numbers, or text of one, are taken.
        if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
            raise InvalidField(f"{name} must be a whole number, not {value!r}")
        try:
            return int(value)
        except (TypeError, ValueError):
            raise InvalidField(f"{name} must be a whole number, not {value!r}") from None
    # A whole float is the whole number (JSON's 2017.0 is 2017, as JSON Schema says); true/false are no text.
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, (str, int, dt.date)):
        raise InvalidField(f"{name} must be text, not {type(value).__name__}")
    if kind == "date":
        return _iso_date(name, str(value))
    return str(value).strip()


def _iso_date(name: str, value: str) -> str:
    """A YYYY, YYYY-MM or YYYY-MM-DD date, checked."""
    for pattern in ("%Y-%m-%d", "%Y-%m", "%Y"):
        try:
            parsed = dt.datetime.strptime(value, pattern)
        except ValueError:
            continue
        # Written back zero-padded ("2017-5-3" -> "2017-05-03"), so that dates sort and filter as text.
        return parsed.strftime(pattern)
    raise InvalidField(f"{name} must be a date like 2017-05-23 (or 2017-05, 2017), not {value!r}")
