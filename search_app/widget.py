"""The widget: embedding the search in other sites. The widget script, the iframe page, its documentation,
cross-origin reads of the API (CORS, through flask-cors) and who may frame which page.

(``indexer.embed`` is another thing: the model that embeds texts as vectors.)

- ``GET /embed.js``: the self-contained widget a site owner loads with ``<script src>``.
- ``GET /embed``: a minimal search page for an ``<iframe>``; only this site and the origins in
  ``KB_EMBED_ORIGINS`` may frame it (CSP ``frame-ancestors``, set in ``security``). Every other page refuses to be framed.
- ``GET /embed/docs``: the snippet, every option, a live example and the origin settings.
- The read API (``GET``/``HEAD`` on ``/api/...``) answers pages of the origins in ``KB_CORS_ORIGINS``;
  writes never get CORS headers, and no response ever allows credentials.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable
from urllib.parse import urlencode

from flask import Blueprint, Flask, current_app, render_template, request, send_file, url_for
from flask_cors import CORS

from indexer.filters import FILTER_FIELDS

__all__ = ["widget", "EMBED_OPTIONS", "EmbedOption", "parse_origins", "init_widget"]

widget = Blueprint("widget", __name__)

SCRIPT = Path(__file__).parent / "static" / "embed.js"
#: Methods a cross-origin page may use: reading only.
READ_METHODS = ("GET", "HEAD", "OPTIONS")
_ORIGIN = re.compile(r"(?i)https?://(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*|\[[0-9a-f:.]+\])(?::\d{1,5})?")


@dataclass(frozen=True)
class EmbedOption:
    """One option of the widget: its data attribute, its /embed query parameter, default and meaning."""

    attribute: str
    parameter: str
    default: str
    description: str


#: Every option of the widget and the iframe page; /embed/docs shows this list and the README repeats it.
EMBED_OPTIONS = (
    EmbedOption("data-kb-endpoint", "", "where embed.js was loaded from",
                "Address of the search service (its origin, plus a path prefix if it is served under one)."),
    EmbedOption("data-kb-k", "k", "5", "Number of passages shown, 1–100."),
    EmbedOption("data-kb-answers", "answers", "3", "In how many of the first results the answering sentence is in bold "
                "(0: none)."),
    EmbedOption("data-kb-filters", "type=…&session=…", "none",
                "Fixed catalogue filters in query-string form, e.g. `type=presentation` or `session=2`; repeat a field "
                f"for OR (`country=Thailand&country=Viet Nam`). Fields: {', '.join(FILTER_FIELDS)}. In the iframe address "
                "each filter is its own parameter."),
    EmbedOption("data-kb-placeholder", "placeholder", "Ask a question…", "Placeholder text of the search box."),
    EmbedOption("data-kb-lang", "lang", "the page's lang, else en",
                "Language of the labels and messages: `en`, `fr` or `es`."),
    EmbedOption("data-kb-theme", "theme", "light", "`light`, `dark`, or `auto` (follows the visitor's system setting)."),
    EmbedOption("data-kb-accent", "accent", "#1b5fa8",
                "Accent colour of the button and links: any CSS colour (`#c0392b`, `teal`); an invalid one is ignored."),
    EmbedOption("data-kb-query", "q", "none", "A question searched as soon as the widget appears."),
)
#: /embed query parameters that are options; every other parameter is a filter.
_PARAMETER_ATTRIBUTES = {option.parameter: option.attribute for option in EMBED_OPTIONS
                         if option.parameter and "=" not in option.parameter}


def parse_origins(value: str | Iterable[str] | None, setting: str) -> tuple[str, ...]:
    """The origins of a setting (a comma-separated string or a list), lower-cased, without a trailing slash.

    Returns:
        ``("*",)`` when the setting is ``*``; ``()`` when it is empty.

    Raises:
        ValueError: an entry is not an origin (``scheme://host[:port]``), naming the setting.
    """
    items = value.split(",") if isinstance(value, str) else list(value or ())
    origins = []
    for item in (str(item).strip().rstrip("/") for item in items):
        if not item:
            continue
        if item == "*":
            origins.append("*")
        elif _ORIGIN.fullmatch(item):
            origins.append(item.lower())
        else:
            raise ValueError(f"{setting}: {item!r} is not an origin; write scheme://host[:port], "
                             f"e.g. https://www.example.org, or * for any site")
    if "*" in origins:
        return ("*",)
    return tuple(dict.fromkeys(origins))


def init_widget(app: Flask) -> None:
    """Parse the origin settings and turn on CORS for the read API (``security`` decides who may frame what)."""
    app.config["KB_CORS_ORIGINS"] = parse_origins(app.config["KB_CORS_ORIGINS"], "KB_CORS_ORIGINS")
    app.config["KB_EMBED_ORIGINS"] = parse_origins(app.config["KB_EMBED_ORIGINS"], "KB_EMBED_ORIGINS")

    # Registered before flask-cors, so it runs after it: a write (or a preflight asking for one)
    # keeps no CORS header at all.
    @app.after_request
    def writes_are_same_origin_only(response):
        method = request.headers.get("Access-Control-Request-Method", "") if request.method == "OPTIONS" else request.method
        if method.upper() not in ("GET", "HEAD"):
            for header in [name for name in response.headers.keys() if name.lower().startswith("access-control-")]:
                del response.headers[header]
        return response

    origins = app.config["KB_CORS_ORIGINS"]
    if origins:
        wildcard = origins == ("*",)
        CORS(app, resources={r"/api/.*": {}},
             # Anchored patterns: an origin must match whole, never as a prefix of another.
             origins="*" if wildcard else [re.compile(re.escape(origin) + r"\Z", re.IGNORECASE) for origin in origins],
             send_wildcard=wildcard, methods=list(READ_METHODS), allow_headers=["Accept", "Accept-Language", "Content-Language"],
             supports_credentials=False, always_send=False, max_age=600,
             # Errors are answered by the app's handlers, so the after-request hook covers them.
             intercept_exceptions=False)


@widget.get("/embed.js")
def script():
    """The widget, for any site to load (no cookies, no credentials: it only reads the API)."""
    response = send_file(SCRIPT, mimetype="text/javascript", max_age=3600, conditional=True)
    response.headers["Content-Type"] = "text/javascript; charset=utf-8"
    response.headers["Cross-Origin-Resource-Policy"] = "cross-origin"
    return response


def widget_attributes() -> list[tuple[str, str]]:
    """The widget's data attributes from /embed's query parameters; unknown parameters are filters."""
    attributes, filters = [], []
    for name in request.args:
        for value in request.args.getlist(name):
            if name in _PARAMETER_ATTRIBUTES:
                attributes.append((_PARAMETER_ATTRIBUTES[name], value))
            else:
                filters.append((name, value))
    if filters:
        attributes.append(("data-kb-filters", urlencode(filters)))
    return list(dict(attributes).items())


@widget.get("/embed")
def frame_page():
    """The search alone, for an ``<iframe>``: framed only by this site and ``KB_EMBED_ORIGINS`` (its policy is
    ``security.EMBED_POLICY``)."""
    return render_template("embed.html", attributes=widget_attributes())


@widget.get("/embed/docs")
def docs():
    """How to embed the search: snippet, options, live example, allowed origins."""
    service = url_for("pages.search_page", _external=True).rstrip("/")
    return render_template("embed_docs.html", service=service, options=EMBED_OPTIONS,
                           script_url=url_for("widget.script", _external=True),
                           cors_origins=current_app.config["KB_CORS_ORIGINS"],
                           embed_origins=current_app.config["KB_EMBED_ORIGINS"])
