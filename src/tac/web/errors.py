"""Domain and HTTP errors, mapped once: JSON under /api/, a fragment for htmx, else a page."""

from __future__ import annotations

from quart import (
    Quart,
    Response,
    ResponseReturnValue,
    has_websocket_context,
    jsonify,
    render_template,
    request,
)
from werkzeug.exceptions import HTTPException

from tac.chat.errors import ChatError, RateLimited

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
        page = await render_template("pages/error.html", status=status, message=message)
        response = Response(page)
    response.status_code = status
    return response


def init_app(app: Quart) -> None:
    @app.errorhandler(ChatError)
    async def chat_error(error: ChatError) -> ResponseReturnValue:
        status = STATUS.get(error.code, 400)
        response = await error_response(status, error.code, error.message)
        if isinstance(error, RateLimited):
            response.headers["Retry-After"] = str(max(1, round(error.retry_after)))
        return response

    @app.errorhandler(HTTPException)
    async def http_error(error: HTTPException) -> ResponseReturnValue:
        status = error.code or 500
        code = (error.name or "error").lower().replace(" ", "_")
        return await error_response(status, code, error.description or error.name)
