"""The only layer that knows HTTP: blueprints for pages, fragments, the API and sockets."""

from __future__ import annotations

from quart import Quart, current_app

from tac.chat import Chat
from tac.hub import Hub
from tac.runtime import Runtime
from tac.settings import Settings


def runtime() -> Runtime:
    rt: Runtime = current_app.extensions["tac"]
    return rt


def chat() -> Chat:
    return runtime().chat


def hub() -> Hub:
    return runtime().hub


def settings() -> Settings:
    s: Settings = current_app.extensions["tac.settings"]
    return s


def register_web(app: Quart) -> None:
    from tac.web import api, auth, errors, fragments, headers, ops, pages, token_page, ws
    from tac.web.markup import FILTERS

    app.jinja_env.globals["tac_settings"] = app.extensions["tac.settings"]
    app.jinja_env.filters.update(FILTERS)
    headers.init_app(app)
    auth.init_app(app)
    errors.init_app(app)
    app.register_blueprint(auth.bp)
    app.register_blueprint(pages.bp)
    app.register_blueprint(fragments.bp)
    app.register_blueprint(ws.bp)
    app.register_blueprint(ops.bp)
    api.init_app(app)
    app.register_blueprint(token_page.bp)
