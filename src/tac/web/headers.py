"""Security headers on every response: what a browser may load, frame and send on.

The pages load scripts and styles from Tac's own origin only (htmx, its ws extension,
tac.js, Swagger UI's vendored files), with no inline script or style: htmx is told not to
inject its indicator style nor to eval (`<meta name="htmx-config">` in base.html).
"""

from __future__ import annotations

from quart import Quart, Response

from tac.settings import Settings

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        # Swagger UI draws some of its icons as data: images.
        "img-src 'self' data:",
        # 'self' covers the page's own ws:// or wss:// origin too.
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


def security_headers(settings: Settings) -> dict[str, str]:
    headers = {
        "Content-Security-Policy": CONTENT_SECURITY_POLICY,
        "X-Frame-Options": "DENY",  # frame-ancestors, for browsers before CSP 2
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
    }
    if settings.cookie_secure:
        headers["Strict-Transport-Security"] = f"max-age={settings.hsts_max_age_seconds}"
    return headers


def init_app(app: Quart) -> None:
    @app.after_request
    async def add_security_headers(response: Response) -> Response:
        for name, value in security_headers(app.extensions["tac.settings"]).items():
            response.headers.setdefault(name, value)
        return response
