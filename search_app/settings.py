"""Every setting of the web app, with its default and a one-line description.

``create_app`` starts from these defaults, then reads ``KB_<NAME>`` from the
environment, then applies the dict a test passes. The README's settings table
is this list.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Callable

from indexer import DEFAULT_MODEL
from indexer.embed import check_precision

__all__ = ["Setting", "SETTINGS", "load_settings"]


@dataclass(frozen=True)
class Setting:
    """One configuration key: its name in app.config and the environment, default, parser and meaning."""

    name: str
    default: Any
    parse: Callable[[str], Any]
    description: str


SETTINGS = (
    Setting("KB_DATA_DIR", "var/kb", str, "Index directory (manifest, SQLite database, FAISS file)."),
    Setting("KB_MODEL", DEFAULT_MODEL, str, "sentence-transformers model name or path; must match the index's."),
    Setting("KB_PRECISION", "fp32", lambda raw: check_precision(raw, "KB_PRECISION"),
            "Model weights as trained (`fp32`) or dynamically quantised to `int8` (a quarter of the size; slightly different vectors); must match the index's."),
    Setting("KB_DEFAULT_K", 10, int, "Passages returned when a search does not say k."),
    Setting("KB_MAX_QUERY_CHARS", 500, int, "Longest question accepted; longer ones get a 400."),
    Setting("KB_PER_DOCUMENT", 3, int, "Most passages of one document in a result list (0: no cap); `per_document=` overrides."),
    Setting("KB_ADMIN_TOKEN", "", str, "Bearer token for adding, editing and removing documents over HTTP; empty: the write API is off."),
    Setting("KB_MAX_UPLOAD_MB", 50, float, "Largest upload accepted, in megabytes; larger ones get a 413."),
    Setting("KB_CORS_ORIGINS", "", str, "Origins (comma-separated, e.g. `https://www.example.org`) whose pages may read the API (`GET /api/...`), as the embed widget does; `*`: any site. Writes and credentials: never."),
    Setting("KB_EMBED_ORIGINS", "", str, "Origins (comma-separated; `*`: any site) that may show `/embed` in an iframe, besides this site; every other page refuses to be framed."),
)


def load_settings(overrides: dict[str, Any] | None = None, environ: dict[str, str] | None = None) -> dict[str, Any]:
    """Defaults, then ``KB_*`` environment variables, then ``overrides``.

    Args:
        overrides: settings a caller (a test) fixes, by name.
        environ: the environment to read (default ``os.environ``).

    Returns:
        Every setting's value by name, plus any extra keys in ``overrides``.
    """
    environ = os.environ if environ is None else environ
    values = {}
    for setting in SETTINGS:
        raw = environ.get(setting.name)
        values[setting.name] = setting.default if raw in (None, "") else setting.parse(raw)
    values.update(overrides or {})
    return values
