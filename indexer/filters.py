"""Filters on catalogue fields, turned into SQL that selects the passages they allow.

A filter narrows the candidates *before* ranking, so a filtered search still
returns k results when k exist. Field names come from a fixed list (never
from the user into SQL); values are always bound parameters. Several values
of one field match any of them; several fields must all match. A document
without a catalogue ``language`` is filtered and counted by the language
detected from its text.
"""

from __future__ import annotations

from typing import Mapping

from .errors import InvalidQuery

__all__ = ["FILTER_FIELDS", "FACET_FIELDS", "filter_sql", "document_values"]

# filter name -> SQL expression giving the document's value(s); json_each over a list matches any item.
_EXPRESSIONS = {
    "type": "d.type",
    "format": "d.format",
    "session": "json_extract(d.metadata, '$.session')",
    "country": "json_extract(d.metadata, '$.countries')",
    # The catalogue's language where it gives one, else the one detected from the text.
    "language": "COALESCE(NULLIF(json_extract(d.metadata, '$.language'), ''), NULLIF(d.language, ''))",
    "year": "substr(json_extract(d.metadata, '$.date'), 1, 4)",
    "speaker": "json_extract(d.metadata, '$.speakers')",
    "organisation": "json_extract(d.metadata, '$.organisation')",
}
FILTER_FIELDS = tuple(_EXPRESSIONS)
FACET_FIELDS = ("type", "session", "country", "language", "year")
_METADATA_KEYS = {"session": "session", "country": "countries", "speaker": "speakers", "organisation": "organisation"}


def _condition(field: str, count: int) -> str:
    expression = _EXPRESSIONS[field]
    marks = ",".join("?" * count)
    return (f"(CASE WHEN json_valid({expression}) AND json_type({expression}) = 'array' "
            f"THEN EXISTS (SELECT 1 FROM json_each({expression}) WHERE lower(value) IN ({marks})) "
            f"ELSE lower({expression}) IN ({marks}) END)")


def filter_sql(filters: Mapping[str, tuple[str, ...]]) -> tuple[str, tuple]:
    """A ``SELECT p.id …`` of the passages whose document matches every filter.

    Args:
        filters: field name -> accepted values (case-insensitive).

    Returns:
        The SQL and its parameters; ``("", ())`` when there are no filters.

    Raises:
        InvalidQuery: a field is not one of ``FILTER_FIELDS``.
    """
    unknown = sorted(set(filters) - set(FILTER_FIELDS))
    if unknown:
        raise InvalidQuery(f"unknown filter {', '.join(unknown)}; valid filters: {', '.join(FILTER_FIELDS)}")
    conditions, args = [], []
    for field, values in filters.items():
        lowered = [str(value).lower() for value in values]
        conditions.append(_condition(field, len(lowered)))
        args.extend(lowered * 2)
    if not conditions:
        return "", ()
    sql = "SELECT p.id FROM passages p JOIN documents d ON d.id = p.document_id WHERE " + " AND ".join(conditions)
    return sql, tuple(args)


def document_values(field: str, document) -> list[str]:
    """The values a document has for a facet field, as strings (a list field gives several)."""
    if field == "type":
        value = document.type
    elif field == "year":
        value = str(document.metadata.get("date") or "")[:4] or None
    elif field == "language":
        value = document.metadata.get("language") or document.language or None
    else:
        value = document.metadata.get(_METADATA_KEYS[field])
    values = value if isinstance(value, list) else [value]
    return [str(item) for item in values if item not in (None, "")]
