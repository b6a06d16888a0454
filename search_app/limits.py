"""The read API's rate limit (Flask-Limiter), and who the client is behind reverse proxies.

Each client address may make ``KB_RATE_LIMIT`` requests (``300/minute`` by default; ``off`` turns it off) to the
routes of ``READ_ENDPOINTS`` together: searching, listing and reading documents and their files, and the search
page, which runs the same search. ``/api/health`` (probes and monitors), the other pages, static files, CORS
preflights and the token-guarded write API are never counted. Over the limit the answer is 429 in the app's one
error shape, code ``rate_limited``, with ``Retry-After`` in seconds.

The counts live in ``KB_RATE_LIMIT_STORAGE``: ``memory://`` keeps them in each worker process, so with several
gunicorn workers a client may get up to workers × the limit; ``redis://...`` shares them. When a shared store
cannot be reached, each worker counts in memory until it is back, rather than failing every search.

The client is the socket's address unless ``KB_TRUSTED_PROXIES`` says how many reverse proxies stand in front
(werkzeug's ``ProxyFix`` then takes the address, scheme, host and prefix they forward).
"""

from __future__ import annotations

import math
import time

from flask import Flask, current_app, request
from flask_limiter import Limiter, RateLimitExceeded
from flask_limiter.util import get_remote_address
from limits import parse_many
from limits.errors import ConfigurationError
from werkzeug.middleware.proxy_fix import ProxyFix

from indexer import InvalidSetting

from .errors import error_response

__all__ = ["READ_ENDPOINTS", "init_rate_limit", "trust_proxies", "rate_limit_of"]

#: The routes the rate limit counts, by endpoint: the public reads that cost a search or a database read.
READ_ENDPOINTS = frozenset({"api.search", "api.documents", "api.document", "api.document_file", "pages.search_page"})
_OFF = ("", "off", "0", "no", "false", "none")
_EXTENSION = "kb_rate_limit"


def rate_limit_of(value: object) -> str | None:
    """The rate limit a setting's value asks for, or None when it is off (``off``, ``0``, or empty in a config).

    Raises:
        InvalidSetting: the value is no rate in Flask-Limiter's notation (it can come unparsed from a config dict).
    """
    text = str(value).strip()
    if text.lower() in _OFF:
        return None
    try:
        parse_many(text)
    except ValueError:
        raise InvalidSetting(f"KB_RATE_LIMIT must be a rate such as 300/minute (several joined by ;), or off, "
                             f"not {value!r}") from None
    return text


def is_counted() -> bool:
    """Whether this request counts against the limit: a GET (or HEAD) of a read route."""
    return request.endpoint in READ_ENDPOINTS and request.method in ("GET", "HEAD")


def request_cost() -> int:
    """1 for every counted request, but 0 for the parts of an original a viewer fetches with ``Range``.

    A browser's PDF viewer may load a large file in dozens of range requests; opening it costs its first request.
    """
    return 0 if request.endpoint == "api.document_file" and "Range" in request.headers else 1


def init_rate_limit(app: Flask) -> Limiter | None:
    """Limit the read routes of ``app`` per client address as its ``KB_RATE_LIMIT`` says, and answer 429s.

    Returns:
        The app's ``Limiter`` (also ``app.extensions["kb_rate_limit"]``), or None when the limit is off.

    Raises:
        InvalidSetting: ``KB_RATE_LIMIT`` is no rate, or ``KB_RATE_LIMIT_STORAGE`` no storage Flask-Limiter knows
            (or one whose client library is not installed).
    """
    limit = rate_limit_of(app.config["KB_RATE_LIMIT"])
    if limit is None:
        return None
    storage = str(app.config["KB_RATE_LIMIT_STORAGE"]).strip() or "memory://"
    shared = not storage.startswith("memory://")
    try:
        limiter = Limiter(get_remote_address, app=app, storage_uri=storage, strategy="moving-window",
                          application_limits=[limit], application_limits_cost=request_cost,
                          in_memory_fallback=[limit] if shared else None, in_memory_fallback_enabled=shared)
    except ConfigurationError as error:
        raise InvalidSetting(f"KB_RATE_LIMIT_STORAGE {storage!r} cannot be used: {error}") from None
    # A request filter exempts a request from every limit, the in-memory fallback's included.
    limiter.request_filter(lambda: not is_counted())
    app.extensions[_EXTENSION] = limiter
    app.register_error_handler(RateLimitExceeded, rate_limited)
    return limiter


def rate_limited(error: RateLimitExceeded):
    """429 ``rate_limited`` in the app's error shape (HTML for the search page), with ``Retry-After`` in seconds."""
    breached = current_app.extensions[_EXTENSION].current_limit
    wait = max(1, math.ceil(breached.window[0] - time.time())) if breached else 60
    body, status = error_response(429, "rate_limited", f"too many requests from your address (the limit is "
                                  f"{error.description}); try again in {wait} s")
    return body, status, {"Retry-After": str(wait)}


def trust_proxies(app: Flask) -> None:
    """Take the client's address, scheme, host and path prefix from the ``KB_TRUSTED_PROXIES`` proxies in front.

    With none (the default) the forwarded headers are ignored: any client could write them.
    """
    proxies = int(app.config["KB_TRUSTED_PROXIES"])
    if proxies > 0:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies, x_prefix=proxies)
