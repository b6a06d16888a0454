"""The catalogue: per-file fields (title, type, session, speakers…) kept in ``catalog.yaml``.

A folder given to ``kb index`` may hold a ``catalog.yaml``: a list of entries,
each naming a ``file`` relative to that folder. Its fields are stored with the
document; files it does not name are indexed all the same.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import yaml

from .errors import CatalogError

__all__ = ["CATALOG_NAME", "read_catalog", "guess_type"]

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
