"""Sign up, sign in, sign out; the session cookie; CSRF for forms."""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Awaitable, Callable
from functools import wraps
from typing import ParamSpec, TypeVar
from urllib.parse import unquote, urlsplit

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

from tac.chat import accounts, sessions
from tac.chat.errors import ChatError
from tac.models import User
from tac.web import chat, settings
from tac.web.errors import STATUS

bp = Blueprint("auth", __name__)

NEXT_MAX_CHARS = 2000
"""Longest `next` page accepted after sign-in (a URL, not a payload)."""

P = ParamSpec("P")
R = TypeVar("R")


async def current_user() -> User | None:
    """The signed-in user, read from the session store once per request or handshake."""
    if "user" not in g:
        g.user = None
        g.session_id = ""
        secret = session.get("sid")
        if secret:
            try:
                found = await sessions.signed_in(chat(), str(secret))
            except ChatError:
                session.clear()
            else:
                g.user, g.session_id = found.user, found.session
    user: User | None = g.user
    return user


async def current_session_id() -> str:
    """The id of the request's sign-in session ("" when signed out): its sockets carry it."""
    await current_user()
    sid: str = g.session_id
    return sid


def client_address() -> str:
    """The client's address: the peer's, or behind TAC_TRUSTED_PROXY_HOPS proxies the entry
    of X-Forwarded-For that the outermost trusted proxy wrote (what the client sent itself
    lies further left and is not believed)."""
    hops = settings().trusted_proxy_hops
    if hops > 0:
        forwarded = [
            part.strip()
            for value in request.headers.getlist("X-Forwarded-For")
            for part in value.split(",")
        ]
        if len(forwarded) >= hops:
            return forwarded[-hops][:64]
        return ""
    return (request.remote_addr or "")[:64]


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


def safe_next(target: str | None) -> str | None:
    """`target` when a browser would read it as a path on this site, else None.

    Browsers drop tabs and newlines anywhere in a URL, strip leading control characters
    and spaces, and read `\\` as `/`: `/\\evil.example` and `/<TAB>/evil.example` are
    `//evil.example`, another site. So a control character or a backslash anywhere is
    refused; what is left a browser parses as `urlsplit` does, and it must be a path that
    starts with one `/` (no scheme, no host). The same must hold once percent-decoded
    (a proxy or a later step could decode it): `/%09/evil.example` is refused too.
    """
    if not target or len(target) > NEXT_MAX_CHARS:
        return None
    for form in (target, unquote(target)):
        if any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in form) or "\\" in form:
            return None
        if not form.startswith("/") or form.startswith("//"):
            return None
        parts = urlsplit(form)
        if parts.scheme or parts.netloc:
            return None
    return target


def _next_page() -> str:
    return safe_next(request.args.get("next")) or url_for("pages.index")


async def _sign_in(user: User) -> None:
    secret = await sessions.begin_session(
        chat(),
        user,
        user_agent=request.headers.get("User-Agent", ""),
        address=client_address(),
    )
    session.clear()  # a new session on sign-in: no fixation
    session.permanent = True
    session["sid"] = secret


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
            await _sign_in(user)
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
                chat(), form.get("username", ""), form.get("password", ""), client_address()
            )
        except ChatError as e:
            error = e
        else:
            await _sign_in(user)
            return redirect(_next_page())
    status = 200 if error is None else STATUS.get(error.code, 400)
    return await render_template("pages/login.html", error=error, form=form), status


@bp.post("/logout")
async def logout() -> ResponseReturnValue:
    """This session ends on every instance, and its open sockets close."""
    await sessions.end_session(chat(), str(session.get("sid") or ""))
    session.clear()
    return redirect(url_for("auth.login"))


@bp.post("/logout/everywhere")
async def logout_everywhere() -> ResponseReturnValue:
    """Every session of the signed-in person ends (other browsers too), with their sockets."""
    user = await current_user()
    if user is not None:
        await sessions.end_sessions(chat(), user)
    session.clear()
    return redirect(url_for("auth.login"))


@bp.route("/settings/password", methods=["GET", "POST"])
@login_required
async def change_password() -> ResponseReturnValue:
    """Change the password: this session stays, every other one ends."""
    user = await current_user()
    assert user is not None  # login_required ran first
    error: ChatError | None = None
    done = False
    status = 200
    if request.method == "POST":
        form = await request.form
        try:
            await accounts.change_password(
                chat(),
                user,
                form.get("current_password", ""),
                form.get("new_password", ""),
                keep_session=await current_session_id(),
                address=client_address(),
            )
        except ChatError as e:
            error = e
            status = STATUS.get(e.code, 400)
        else:
            done = True
    return await render_template("pages/password.html", error=error, done=done), status
