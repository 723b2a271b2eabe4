"""The app factory: blueprints, and the startup and shutdown of db, bus and hub."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta
from functools import partial
from typing import Any

from hypercorn.middleware import ProxyFixMiddleware
from quart import Quart

from tac import db
from tac.bus import Bus
from tac.bus.local import LocalBus
from tac.bus.redis import RedisBus, redis_client
from tac.chat import Chat
from tac.chat.messages import messages_from, room_top
from tac.chat.presence import Presence, presence_of_room
from tac.chat.rooms import ensure_general
from tac.chat.writer import MessageWriter
from tac.hub import Hub
from tac.runtime import Runtime
from tac.settings import Settings
from tac.stores.presence import LocalPresenceStore, PresenceStore, RedisPresenceStore
from tac.stores.ratelimit import LocalRateLimiter, RateLimiter, RedisRateLimiter
from tac.stores.seq import LocalSeqCounter, RedisSeqCounter, SeqCounter
from tac.web import register_web
from tac.web.pushes import make_renderer

log = logging.getLogger(__name__)


def make_bus(settings: Settings) -> Bus:
    if settings.redis_url:
        return RedisBus(
            settings.redis_url,
            settings.redis_prefix,
            cluster=settings.redis_cluster,
            name=settings.instance_id,
        )
    return LocalBus()


async def close_sockets_for_restart(app: Quart) -> None:
    """1012 "service restart": htmx reconnects (through nginx, to another instance) and
    catches up by seq. A clean 1000 would leave the page disconnected for good."""
    runtime: Runtime | None = app.extensions.get("tac")
    if runtime is not None and runtime.hub.connections:
        runtime.hub.close_all(1012)
        await asyncio.sleep(0.2)  # let the handlers send their close frames


def websocket_schemes(asgi_app: Any) -> Any:
    """Hypercorn 0.18's ProxyFixMiddleware gives a WebSocket the proxy's X-Forwarded-Proto
    as its scheme ("http"), which Quart refuses with 400: a socket's scheme is ws or wss."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "websocket" and scope.get("scheme") in ("http", "https"):
            scope = {**scope, "scheme": "wss" if scope["scheme"] == "https" else "ws"}
        await asgi_app(scope, receive, send)

    return app


def create_app(settings: Settings | None = None) -> Quart:
    settings = settings or Settings()
    app = Quart(__name__)
    app.config.update(
        SECRET_KEY=settings.resolved_secret_key(),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.cookie_secure,
        PERMANENT_SESSION_LIFETIME=timedelta(days=settings.session_lifetime_days),
        MAX_CONTENT_LENGTH=1024 * 1024,
        SEND_FILE_MAX_AGE_DEFAULT=timedelta(hours=1),
    )
    app.extensions["tac.settings"] = settings
    register_web(app)
    if settings.trusted_proxy_hops > 0:
        # The scheme, client and host the proxy saw (the socket's origin check needs the
        # scheme); without trusted hops, a client's X-Forwarded-* headers are ignored.
        app.asgi_app = ProxyFixMiddleware(  # type: ignore[method-assign]
            websocket_schemes(app.asgi_app), mode="legacy", trusted_hops=settings.trusted_proxy_hops
        )

    @app.before_serving
    async def startup() -> None:
        app.extensions["tac"] = await start_runtime(app, settings)

    @app.after_serving
    async def shutdown() -> None:
        runtime: Runtime | None = app.extensions.pop("tac", None)
        if runtime is not None:
            await stop_runtime(runtime)

    return app


async def start_runtime(app: Quart, settings: Settings) -> Runtime:
    if not settings.mongo_url:
        raise RuntimeError("TAC_MONGO_URL is unset: start Tac with `tac run`, which embeds one.")
    mongo = await db.connect(settings.mongo_url, settings.mongo_db)
    await ensure_general()
    bus = make_bus(settings)
    chat = make_chat(settings, bus)

    hub = Hub(
        bus,
        make_renderer(app),
        room_top=room_top,
        read_messages=messages_from,
        load_presence=partial(presence_of_room, chat.presence, settings.presence_list_max),
        gap_repair_seconds=settings.gap_repair_seconds,
        presence_debounce_seconds=settings.presence_debounce_seconds,
        coalesce_seconds=settings.ws_coalesce_seconds,
        coalesce_max_seconds=settings.ws_coalesce_max_seconds,
        busy_deliveries_per_second=settings.ws_busy_deliveries_per_second,
        presence_push_sockets=settings.presence_push_sockets,
        badge_interval_seconds=settings.badge_interval_seconds,
        typing_expire_seconds=settings.typing_expire_seconds,
    )
    await hub.start()
    await chat.presence.start()
    log.info("instance %s ready", settings.instance_id)
    return Runtime(settings=settings, chat=chat, hub=hub, mongo=mongo)


def make_chat(settings: Settings, bus: Bus) -> Chat:
    """Presence and rate limits live in Redis when there is one, so instances share them."""
    store: PresenceStore
    limiter: RateLimiter
    logins: dict[str, RateLimiter]
    seqs: SeqCounter
    limit, window = settings.rate_limit_messages, settings.rate_limit_window_seconds
    login_window = settings.login_window_seconds
    login_limits = {
        "pair": settings.login_attempts_max,
        "address": settings.login_address_attempts_max,
        "username": settings.login_username_attempts_max,
    }
    if settings.redis_url:
        client = redis_client(settings.redis_url, settings.redis_cluster)
        store = RedisPresenceStore(client, settings.redis_prefix)
        limiter = RedisRateLimiter(client, settings.redis_prefix, limit, window)
        seqs = RedisSeqCounter(client, settings.redis_prefix, settings.seq_counter_idle_seconds)
        logins = {
            kind: RedisRateLimiter(client, f"{settings.redis_prefix}:login:{kind}", n, login_window)
            for kind, n in login_limits.items()
        }
    else:
        store = LocalPresenceStore()
        limiter = LocalRateLimiter(limit, window)
        seqs = LocalSeqCounter()
        logins = {kind: LocalRateLimiter(n, login_window) for kind, n in login_limits.items()}
    presence = Presence(
        store,
        bus,
        settings.instance_id,
        settings.presence_ttl_seconds,
        settings.presence_heartbeat_seconds,
        settings.presence_members_fresh_seconds,
        min(settings.presence_online_fresh_seconds, settings.presence_debounce_seconds / 2),
    )
    return Chat(
        settings=settings,
        bus=bus,
        rate_limiter=limiter,
        presence=presence,
        login_limiter=logins["pair"],
        login_address_limiter=logins["address"],
        login_username_limiter=logins["username"],
        seqs=seqs,
        writer=MessageWriter(bus, settings.write_batch_max),
    )


async def stop_runtime(runtime: Runtime) -> None:
    """Each step is bounded: Redis or MongoDB may already be gone."""
    step = runtime.settings.shutdown_step_seconds
    for name, closing in [
        ("writer", runtime.chat.writer.stop()),
        ("presence", runtime.chat.presence.stop()),
        ("hub", runtime.hub.stop()),
        ("bus", runtime.hub.bus.stop()),
        ("mongo", db.close(runtime.mongo, step)),
    ]:
        try:
            await asyncio.wait_for(closing, step)
        except (TimeoutError, Exception):
            log.warning("shutdown: %s did not stop cleanly within %.1f s", name, step)
    with contextlib.suppress(Exception):
        logging.getLogger("tac").info("instance %s stopped", runtime.settings.instance_id)
