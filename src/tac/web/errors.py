"""Domain and HTTP errors, mapped once: JSON under /api/, a fragment for htmx, else a page."""

from __future__ import annotations

from urllib.parse import unquote_to_bytes

from pydantic import ValidationError
from quart import (
    Quart,
    Response,
    ResponseReturnValue,
    has_websocket_context,
    jsonify,
    render_template,
    request,
)
from quart.wrappers import Request
from quart_schema import RequestSchemaValidationError
from werkzeug.exceptions import BadRequest, HTTPException, MethodNotAllowed

from tac.chat import rooms
from tac.chat.errors import ChatError, RateLimited, Unauthenticated
from tac.models import Room

STATUS = {
    "invalid": 422,
    "not_found": 404,
    "forbidden": 403,
    "conflict": 409,
    "rate_limited": 429,
    "unauthenticated": 401,
}


def wants_json() -> bool:
    return request.path.startswith("/api/")


async def error_response(status: int, code: str, message: str) -> Response:
    if has_websocket_context():  # a refused handshake: the status says it all
        return Response(message, status, content_type="text/plain")
    if wants_json():
        response = jsonify({"error": {"code": code, "message": message}})
    elif request.headers.get("HX-Request"):
        response = Response(await render_template("partials/error.html", message=message))
    else:
        page = await render_template(
            "pages/error.html", status=status, message=message, my_rooms=await sidebar_rooms()
        )
        response = Response(page)
    response.status_code = status
    return response


async def sidebar_rooms() -> list[Room]:
    """The signed-in reader's rooms, so an error page keeps the sidebar (none when the
    database is what failed)."""
    from tac.web.auth import current_user  # auth maps its errors with this module's STATUS

    try:
        user = await current_user()
        return [] if user is None else await rooms.rooms_of(user)
    except Exception:
        return []


class TacRequest(Request):
    """Quart's request, saying what is wrong with a body that is not JSON (Quart's own 400
    says "The browser (or proxy) sent a request that this server could not understand")."""

    def on_json_loading_failed(self, error: Exception) -> None:
        raise BadRequest(f"The request body is invalid JSON: {error}.")


def init_app(app: Quart) -> None:
    app.request_class = TacRequest

    @app.errorhandler(ChatError)
    async def chat_error(error: ChatError) -> ResponseReturnValue:
        status = STATUS.get(error.code, 400)
        response = await error_response(status, error.code, error.message)
        if isinstance(error, RateLimited):
            response.headers["Retry-After"] = str(max(1, round(error.retry_after)))
        if isinstance(error, Unauthenticated) and not has_websocket_context() and wants_json():
            response.headers["WWW-Authenticate"] = 'Bearer realm="tac"'
        return response

    @app.before_request
    async def refuse_undecodable_forms() -> None:
        """A form's values are percent-decoded with U+FFFD for what is not UTF-8 (Quart
        and Werkzeug decode with "replace"): what a person typed would be stored altered.
        No browser sends such a form; whoever does gets the 400 of any undecodable body."""
        if request.method == "POST" and request.mimetype == "application/x-www-form-urlencoded":
            raw = await request.get_data(cache=True, as_text=False, parse_form_data=False)
            for pair in raw.split(b"&"):
                unquote_to_bytes(pair.replace(b"+", b" ")).decode("utf-8")

    @app.errorhandler(UnicodeDecodeError)
    async def undecodable(error: UnicodeDecodeError) -> ResponseReturnValue:
        return await error_response(400, "bad_request", "The request body is not valid UTF-8.")

    @app.errorhandler(RecursionError)
    async def too_deep(error: RecursionError) -> ResponseReturnValue:
        # Python's JSON parser recurses once per level, so a small body of 100,000 "["
        # runs it out of stack. Parsing a request is the only deep recursion a request
        # reaches in Tac: the client's doing, not a fault of the server's.
        return await error_response(400, "bad_request", "The request body is nested too deeply.")

    @app.errorhandler(RequestSchemaValidationError)
    async def schema_error(error: RequestSchemaValidationError) -> ResponseReturnValue:
        return await error_response(422, "invalid", describe(error.validation_error))

    @app.errorhandler(HTTPException)
    async def http_error(error: HTTPException) -> ResponseReturnValue:
        status = error.code or 500
        code = (error.name or "error").lower().replace(" ", "_")
        response = await error_response(status, code, error.description or error.name)
        if isinstance(error, MethodNotAllowed) and error.valid_methods:
            response.headers["Allow"] = ", ".join(error.valid_methods)
        return response


def describe(error: Exception) -> str:
    """A request that does not fit its schema, said in one line: which field, and why."""
    if not isinstance(error, ValidationError):
        return "The request does not fit its schema."
    problems = [
        f"{'.'.join(str(part) for part in e['loc']) or 'body'}: {e['msg']}"
        for e in error.errors()[:5]
    ]
    return "; ".join(problems)
