"""The status page's shell (`GET /`) and its script and style: open, and never any data.

The shell is a sign-in form and an empty panel. Its script keeps the API key in the browser
tab's sessionStorage (never a cookie or a URL) and fetches the panel (`/status/...`, behind
the key like the API) with the Authorization header. With no ambient credential, a page on
another site cannot act as the user (no CSRF); the headers below keep the page out of frames,
run only this origin's script files, and send no Referer.
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, render_template

ASSETS = Path(__file__).resolve().parents[1] / "assets"

bp = Blueprint("page", __name__, static_folder=ASSETS, static_url_path="/assets")

# No inline script or style, no plugin, no form target: only this origin's files and calls.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ]
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def secure(response: Response) -> Response:
    """The page's security headers on `response`."""
    response.headers.update(SECURITY_HEADERS)
    return response


bp.after_request(secure)


@bp.get("/")
def shell() -> str:
    """The page: a sign-in form and the panel its script fills in."""
    return render_template("status/index.html")
