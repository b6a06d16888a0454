"""Filters on catalogue fields: which passages a search may return, and the facet values of a document.

A filter narrows the candidates *before* ranking, so a filtered search still
returns k results when k exist. Several values of one field match any of them;
several fields must all match. A document without a catalogue ``language`` is
filtered and counted by the language detected from its text. The filters are
the catalogue fields that declare one (``catalog.CATALOG_FIELDS``), plus the
file format.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from .catalog import CATALOG_FIELDS
from .errors import InvalidQuery
from .records import Document

__all__ = ["FILTER_FIELDS", "FACET_FIELDS", "PassageFilter", "document_values", "facet_pairs"]

# Filter name -> the catalogue field it reads (format is a property of the file, not a catalogue field).
_FIELD_OF_FILTER = {field.filter: field.name for field in CATALOG_FIELDS if field.filter}
FILTER_FIELDS = ("type", "format", *(name for name in _FIELD_OF_FILTER if name != "type"))
FACET_FIELDS = tuple(field.filter for field in CATALOG_FIELDS if field.facet)


def _expression(filter_name: str) -> str:
    """The SQL expression giving a document's value(s) for a filter (``d`` is the documents table)."""
    if filter_name in ("type", "format"):
        return f"d.{filter_name}"
    if filter_name == "language":  # the catalogue's language where it gives one, else the one detected from the text
        return "COALESCE(NULLIF(json_extract(d.metadata, '$.language'), ''), NULLIF(d.language, ''))"
    if filter_name == "year":
        return "substr(json_extract(d.metadata, '$.date'), 1, 4)"
    return f"json_extract(d.metadata, '$.{_FIELD_OF_FILTER[filter_name]}')"


@dataclass(frozen=True)
class PassageFilter:
    """Conditions on a passage's document: filter name -> accepted values (any one, case-insensitive); all must hold.

    Build it with ``PassageFilter.of(...)``, which checks the names; ``Store.allowed_passages`` runs it.
    """

    conditions: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @classmethod
    def of(cls, filters: Mapping[str, tuple[str, ...]] | None) -> PassageFilter:
        """The filter for a request's ``field -> values``.

        Raises:
            InvalidQuery: a field is not one of ``FILTER_FIELDS``.
        """
        filters = filters or {}
        unknown = sorted(set(filters) - set(FILTER_FIELDS))
        if unknown:
            raise InvalidQuery(f"unknown filter {', '.join(unknown)}; valid filters: {', '.join(FILTER_FIELDS)}")
        return cls(tuple((name, tuple(str(value).lower() for value in values)) for name, values in filters.items() if values))

    def __bool__(self) -> bool:
        return bool(self.conditions)

    def sql(self) -> tuple[str, tuple[str, ...]]:
        """``SELECT p.id …`` of the passages allowed, with its parameters (values are always bound, never spliced)."""
        clauses, args = [], []
        for name, values in self.conditions:
            expression, marks = _expression(name), ",".join("?" * len(values))
            # json_each over a list (countries, speakers) matches any item of it.
            clauses.append(f"(CASE WHEN json_valid({expression}) AND json_type({expression}) = 'array' "
                           f"THEN EXISTS (SELECT 1 FROM json_each({expression}) WHERE lower(value) IN ({marks})) "
                           f"ELSE lower({expression}) IN ({marks}) END)")
            args.extend(values * 2)
        return "SELECT p.id FROM passages p JOIN documents d ON d.id = p.document_id WHERE " + " AND ".join(clauses), tuple(args)


def document_values(filter_name: str, document: Document) -> list[str]:
    """The values a document has for a filter (a facet), as strings; a list field gives several."""
    if filter_name in ("type", "format"):
        value = getattr(document, filter_name)
    elif filter_name == "year":
        value = str(document.metadata.get("date") or "")[:4] or None
    elif filter_name == "language":
        value = document.metadata.get("language") or document.language or None
    else:
        value = document.metadata.get(_FIELD_OF_FILTER[filter_name])
    values = value if isinstance(value, list) else [value]
    return [str(item) for item in values if item not in (None, "")]


def facet_pairs(document: Document) -> tuple[tuple[str, str], ...]:
    """Every ``(facet, value)`` pair of a document, each once, in ``FACET_FIELDS`` order.

    Remembered per document object: the store reads a document once per index version, so the facets of a
    search's hundred candidate documents cost a lookup each instead of five field reads (1 ms a question).
    """
    cached = _FACET_PAIRS.get(document.id)
    if cached is not None and cached[0] is document:
        return cached[1]
    pairs = tuple((name, value) for name in FACET_FIELDS for value in dict.fromkeys(document_values(name, document)))
    if len(_FACET_PAIRS) >= _FACET_PAIRS_KEPT:
        _FACET_PAIRS.clear()
    _FACET_PAIRS[document.id] = (document, pairs)
    return pairs


#: Document id -> (the document object the pairs were read from, its pairs); a bound on memory.
_FACET_PAIRS: dict[int, tuple[Document, tuple[tuple[str, str], ...]]] = {}
_FACET_PAIRS_KEPT = 200_000
