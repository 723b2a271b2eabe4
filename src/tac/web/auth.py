"""Sign up, sign in, sign out; the session cookie; CSRF for forms."""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Awaitable, Callable
from functools import wraps
from typing import ParamSpec, TypeVar

from quart import (
    Blueprint,
    Quart,
    ResponseReturnValue,
    abort,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)

from tac.chat import accounts
from tac.chat.errors import ChatError, NotFound
from tac.models import User
from tac.web import chat
from tac.web.errors import STATUS

bp = Blueprint("auth", __name__)

P = ParamSpec("P")
R = TypeVar("R")


async def current_user() -> User | None:
    if "user" not in g:
        g.user = None
        uid = session.get("uid")
        if uid:
            try:
                g.user = await accounts.user_by_id(uid)
            except NotFound:
                session.clear()
    user: User | None = g.user
    return user


def login_required(
    view: Callable[P, Awaitable[R]],
) -> Callable[P, Awaitable[R | ResponseReturnValue]]:
    @wraps(view)
    async def wrapped(*args: P.args, **kwargs: P.kwargs) -> R | ResponseReturnValue:
        if await current_user() is None:
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
        return await view(*args, **kwargs)

    return wrapped


def csrf_token() -> str:
    token: str | None = session.get("csrf")
    if token is None:
        token = secrets.token_urlsafe(24)
        session["csrf"] = token
    return token


def csrf_ok() -> bool:
    sent = request.headers.get("X-CSRF-Token") or ""
    expected = session.get("csrf") or ""
    return bool(expected) and hmac.compare_digest(sent, expected)


def init_app(app: Quart) -> None:
    app.jinja_env.globals["csrf_token"] = csrf_token

    @app.before_request
    async def check_csrf() -> None:
        if request.method in ("GET", "HEAD", "OPTIONS") or request.path.startswith("/api/"):
            return
        form = await request.form
        sent = form.get("csrf_token") or request.headers.get("X-CSRF-Token") or ""
        expected = session.get("csrf") or ""
        if not expected or not hmac.compare_digest(sent, expected):
            abort(400, "The form expired. Reload the page and try again.")

    @app.context_processor
    async def inject_user() -> dict[str, object]:
        return {"me": await current_user()}


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return url_for("pages.index")


def _sign_in(user: User) -> None:
    session.clear()  # a new session on sign-in: no fixation
    session.permanent = True
    session["uid"] = str(user.id)


@bp.route("/register", methods=["GET", "POST"])
async def register() -> ResponseReturnValue:
    error: ChatError | None = None
    form = await request.form
    if request.method == "POST":
        try:
            user = await accounts.sign_up(
                chat(),
                form.get("username", ""),
                form.get("password", ""),
                form.get("display_name", ""),
            )
        except ChatError as e:
            error = e
        else:
            _sign_in(user)
            return redirect(url_for("pages.index"))
    status = 200 if error is None else (409 if error.code == "conflict" else 422)
    return await render_template("pages/register.html", error=error, form=form), status


@bp.route("/login", methods=["GET", "POST"])
async def login() -> ResponseReturnValue:
    error: ChatError | None = None
    form = await request.form
    if request.method == "POST":
        try:
            user = await accounts.authenticate(
                chat(), form.get("username", ""), form.get("password", "")
            )
        except ChatError as e:
            error = e
        else:
            _sign_in(user)
            return redirect(_safe_next(request.args.get("next")))
    status = 200 if error is None else STATUS.get(error.code, 400)
    return await render_template("pages/login.html", error=error, form=form), status


@bp.post("/logout")
async def logout() -> ResponseReturnValue:
    session.clear()
    return redirect(url_for("auth.login"))
