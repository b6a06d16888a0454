"""The HTTP contract: ``openapi.yaml`` (OpenAPI 3.1) completed from the code it describes, served as
``GET /api/openapi.json``.

The YAML file holds the routes, responses and shapes. What is declared elsewhere is filled in here, so the
description cannot drift from it: the catalogue fields (``indexer.catalog.CATALOG_FIELDS``) of the upload form
and the ``PATCH`` body, one query parameter per search filter (``indexer.filters.FILTER_FIELDS``), the
``X-Request-Id`` header of every response, the longest question (``KB_MAX_QUERY_CHARS``) and the version.
"""

from __future__ import annotations

import copy
import functools
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import yaml
from flask import Blueprint, current_app, jsonify

from indexer.catalog import CATALOG_FIELDS, CatalogField
from indexer.filters import FILTER_FIELDS

__all__ = ["openapi", "openapi_spec", "SPEC_FILE", "HTTP_METHODS"]

openapi = Blueprint("openapi", __name__)

SPEC_FILE = Path(__file__).with_name("openapi.yaml")
#: The keys of a path item that are operations.
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
#: A marker on an operation that takes the catalogue filters as query parameters; replaced by them.
FILTERS_MARKER = "x-catalogue-filters"
# YYYY or YYYY-MM (year 0000 is no date); a full date is a JSON Schema "date" (checked against the calendar).
_YEAR_OR_MONTH = r"^(?!0000)[0-9]{4}(-(0[1-9]|1[0-2]))?$"
_DATES = [{"type": "string", "format": "date"}, {"type": "string", "pattern": _YEAR_OR_MONTH}]
_NAMES = {"type": "array", "items": {"type": "string"}}
#: What a field of each kind (``CatalogField.kind``) takes in the upload form, where every value is text and a blank
#: one is left out, and in the JSON ``PATCH`` body, where null or "" (and [] for a list) removes it. As
#: ``indexer.catalog.clean_fields`` reads them: a number may come as text, a list as comma-separated text.
_KIND_SCHEMAS = {
    "text": ({"type": "string"}, {"type": ["string", "integer", "null"]}),
    "number": ({"type": "integer"}, {"anyOf": [{"type": "integer"}, {"type": "string", "pattern": r"^([-+]?[0-9]+)?$"},
                                               {"type": "null"}]}),
    "list": (_NAMES, {"anyOf": [_NAMES, {"type": "string"}, {"type": "null"}]}),
    "date": ({"anyOf": _DATES}, {"anyOf": [*_DATES, {"type": "string", "maxLength": 0},
                                           {"type": "integer", "minimum": 1000, "maximum": 9999}, {"type": "null"}]}),
}


def _field_schema(field: CatalogField, form: bool) -> dict[str, Any]:
    """What one catalogue field takes: as a multipart form value (``form``) or in the JSON ``PATCH`` body."""
    description = field.label + (f" ({field.hint})" if field.hint else "")
    if field.kind == "list" and form:
        description += "; repeat the field or separate names by commas"
    return {"description": description, **_KIND_SCHEMAS[field.kind][0 if form else 1]}


def catalogue_schema(form: bool) -> dict[str, Any]:
    """The catalogue fields as an object schema: the upload form (with its ``file``), or the ``PATCH`` body."""
    properties = {field.name: _field_schema(field, form) for field in CATALOG_FIELDS}
    if form:
        return {"type": "object", "additionalProperties": False, "required": ["file"],
                "description": "The file and its catalogue fields; blank fields are left out, an unknown one is a 400.",
                "properties": {"file": {"type": "string", "format": "binary", "description": "The document."}, **properties}}
    return {"type": "object", "additionalProperties": False, "properties": properties,
            "description": "Catalogue fields to change; null or \"\" removes one, an unknown one is a 400."}


def filter_parameters() -> list[dict[str, Any]]:
    """One query parameter per search filter: a value, or several (the parameter repeated).

    "string or array": on the wire ``year=2017`` is both one value and a list of one, and any text is a value.
    """
    return [{"name": name, "in": "query", "style": "form", "explode": True,
             "description": f"Only documents whose {name} is this value, or one of these (case-insensitive).",
             "schema": {"type": ["string", "array"], "items": {"type": "string"}}} for name in FILTER_FIELDS]


def _package_version() -> str:
    try:
        return version("kb-search")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "0+unknown"


@functools.cache
def _completed() -> dict[str, Any]:
    """``openapi.yaml`` with everything declared elsewhere filled in (read once per process)."""
    spec = yaml.safe_load(SPEC_FILE.read_text(encoding="utf-8"))
    spec["info"]["version"] = _package_version()
    spec["components"]["schemas"]["CatalogueFields"] = catalogue_schema(form=False)
    spec["components"]["schemas"]["CatalogueFieldsForm"] = catalogue_schema(form=True)
    for item in spec["paths"].values():
        for method in HTTP_METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            if operation.pop(FILTERS_MARKER, False):
                operation["parameters"] = operation.get("parameters", []) + filter_parameters()
            for response in operation["responses"].values():
                if "$ref" not in response:
                    response.setdefault("headers", {})["X-Request-Id"] = {"$ref": "#/components/headers/X-Request-Id"}
    for response in spec["components"]["responses"].values():
        response.setdefault("headers", {})["X-Request-Id"] = {"$ref": "#/components/headers/X-Request-Id"}
    return spec


def openapi_spec(max_query_chars: int) -> dict[str, Any]:
    """The service's OpenAPI 3.1 description.

    Args:
        max_query_chars: the longest question the server accepts (``KB_MAX_QUERY_CHARS``).

    Returns:
        A new dict, free to change.
    """
    spec = copy.deepcopy(_completed())
    spec["components"]["parameters"]["q"]["schema"]["maxLength"] = max_query_chars
    return spec


@openapi.get("/api/openapi.json")
def description():
    """This server's OpenAPI description."""
    return jsonify(openapi_spec(int(current_app.config["KB_MAX_QUERY_CHARS"])))
