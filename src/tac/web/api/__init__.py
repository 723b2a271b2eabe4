"""The JSON API under /api/v1, described by OpenAPI (quart-schema) at /api/v1/openapi.json.

Each resource has its module (tokens, users, rooms, messages, stream); every route calls the
same chat use cases as the HTML pages. Errors become JSON in web/errors.py.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from quart import Blueprint, Quart, ResponseReturnValue, current_app, render_template, request
from quart_schema import (
    HttpSecurityScheme,
    Info,
    OpenAPIProvider,
    QuartSchema,
    document_response,
    security_scheme,
)
from werkzeug.routing import Rule

from tac.web.api.auth import api_user
from tac.web.api.schemas import ErrorOut

PREFIX = "/api/v1"
bp = Blueprint("api", __name__, url_prefix=PREFIX)
docs = Blueprint("api_docs", __name__)

F = TypeVar("F", bound=Callable[..., Any])
NO_CONTENT = "_tac_no_content"
OPEN = "_tac_open"

DESCRIPTION = """\
Everything a person does in Tac, for bots, scripts and apps.

Authenticate with `Authorization: Bearer <token>` (get one with `POST /api/v1/tokens`).
A signed-in browser may call the API with its session cookie instead; then every POST,
PUT, PATCH and DELETE must carry the page's CSRF token in `X-CSRF-Token`.

Errors are `{"error": {"code": "...", "message": "..."}}` with the HTTP status.

Live events: the WebSocket `GET /api/v1/stream` (not listed below: OpenAPI does not describe
WebSockets). See the README, "Bots and the API".
"""


def open_route(func: F) -> F:
    """A route anyone may call: no token needed (the others refuse with 401 first of all)."""
    setattr(func, OPEN, True)
    return security_scheme([])(func)


@bp.before_request
async def authenticate() -> None:
    """Who calls, before the body is read: a stranger gets 401, not a hint about the body."""
    if request.method == "OPTIONS":  # Quart's automatic answer: it reveals nothing
        return
    view = current_app.view_functions.get(request.endpoint or "")
    if view is not None and not getattr(view, OPEN, False):
        await api_user()


def errors(*codes: int) -> Callable[[F], F]:
    """Document the error statuses a route may answer, all with the ErrorOut body."""

    def decorator(func: F) -> F:
        for code in codes:
            func = document_response(ErrorOut, code)(func)
        return func

    return decorator


def no_content(func: F) -> F:
    """Document a 204 answer, which has no body to describe with a model."""
    setattr(func, NO_CONTENT, True)
    return func


class ApiProvider(OpenAPIProvider):
    """Documents only the /api routes: the HTML pages are not part of the API."""

    def __init__(self, app: Quart, extension: QuartSchema) -> None:
        super().__init__(app, extension)
        self.app = weakref.proxy(app)  # our own reference, as quart-schema keeps its own

    def generate_rules(self) -> Iterable[Rule]:
        return (r for r in super().generate_rules() if r.rule.startswith(PREFIX + "/"))

    def build_paths(self, rule: Rule) -> tuple[dict[str, Any], dict[str, Any]]:
        paths, components = super().build_paths(rule)
        if getattr(self.app.view_functions[rule.endpoint], NO_CONTENT, False):
            for operations in paths.values():
                for operation in operations.values():
                    operation["responses"] = {
                        **operation["responses"],
                        204: {"description": "Done; nothing to return."},
                    }
        return paths, components


@docs.get("/api/docs")
async def api_docs() -> ResponseReturnValue:
    """Swagger UI from Tac's own static files (quart-schema's page loads it from a CDN)."""
    return await render_template("pages/api_docs.html", openapi_url=f"{PREFIX}/openapi.json")


def init_app(app: Quart) -> None:
    from tac.web.api import mentions, messages, rooms, stream, tokens, users  # noqa: F401

    QuartSchema(
        app,
        openapi_path=f"{PREFIX}/openapi.json",
        swagger_ui_path=None,  # ours is `api_docs`, with vendored files
        redoc_ui_path=None,
        scalar_ui_path=None,
        info=Info(title="Tac API", version="1", description=DESCRIPTION),
        security_schemes={"bearer": HttpSecurityScheme(scheme="bearer")},
        security=[{"bearer": []}],
        openapi_provider_class=ApiProvider,
    )
    app.register_blueprint(bp)
    app.register_blueprint(docs)
