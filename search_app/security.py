"""The security headers of every answer, decided in one place (an ``after_request`` hook).

- Every HTML page (the search page, ``/admin``, ``/embed/docs``, error pages) gets ``PAGE_POLICY``: a
  Content-Security-Policy that lets a page load scripts, styles, images and frames from this site only, with no
  inline script or style (``'unsafe-inline'`` is never allowed: the templates keep both in ``static/``).
- ``/embed`` gets ``EMBED_POLICY``: the same, and ``frame-ancestors`` this site plus ``KB_EMBED_ORIGINS``; it is
  the only page other sites may frame. Every other answer refuses framing (CSP ``frame-ancestors 'none'`` and
  ``X-Frame-Options: DENY``).
- The original files (``/api/documents/<id>/file``) get ``sandbox``: an indexed HTML page is someone else's
  page, and its scripts must not run on this origin.
- Every answer gets ``X-Content-Type-Options: nosniff`` and a ``Referrer-Policy``: ``same-origin``, so that a
  question in a page's address never reaches another site (``/embed`` keeps ``strict-origin-when-cross-origin``).
"""

from __future__ import annotations

from flask import Flask, Response, current_app, request

__all__ = ["PAGE_POLICY", "EMBED_POLICY", "ORIGINAL_POLICY", "init_security_headers", "frame_ancestors",
           "content_security_policy"]

PAGE_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; object-src 'none'; "
               "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
EMBED_POLICY = ("default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; "
                "base-uri 'none'; form-action 'self'; frame-ancestors {ancestors}")
ORIGINAL_POLICY = "sandbox"
#: JSON, scripts and stylesheets run nothing when opened, but are never framed either.
OTHER_POLICY = "frame-ancestors 'none'"
_EMBED_ENDPOINT = "widget.frame_page"
#: Headers of one page beside the policies: the admin page is never cached (it shows the live list).
_EXTRA_HEADERS = {
    "admin.admin_page": {"Cache-Control": "no-store"},
    _EMBED_ENDPOINT: {"Referrer-Policy": "strict-origin-when-cross-origin"},
}


def frame_ancestors() -> str:
    """The CSP ``frame-ancestors`` source list of /embed: this site and ``KB_EMBED_ORIGINS`` (parsed by the widget)."""
    origins = current_app.config["KB_EMBED_ORIGINS"]
    return "*" if tuple(origins) == ("*",) else " ".join(("'self'", *origins))


def content_security_policy(response: Response) -> str:
    """The Content-Security-Policy of this request's answer, by route, then by content type."""
    if request.endpoint == _EMBED_ENDPOINT:
        return EMBED_POLICY.format(ancestors=frame_ancestors())
    if request.endpoint == "api.document_file":
        return ORIGINAL_POLICY
    return PAGE_POLICY if response.mimetype == "text/html" else OTHER_POLICY


def security_headers(response: Response) -> Response:
    """Set the policies on ``response``; a view sets none of its own."""
    response.headers["Content-Security-Policy"] = content_security_policy(response)
    if request.endpoint == _EMBED_ENDPOINT:
        response.headers.pop("X-Frame-Options", None)
    else:
        response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers.update(_EXTRA_HEADERS.get(request.endpoint or "", {}))
    return response


def init_security_headers(app: Flask) -> None:
    """Give every answer of ``app`` its security headers (errors included: the hook runs after their handlers)."""
    app.after_request(security_headers)
