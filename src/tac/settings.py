"""Every TAC_* setting, typed, with its default. No other module reads the environment."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TAC_", extra="ignore")

    # Where things live
    mongo_url: str | None = None
    """MongoDB URL. Unset: `tac run` starts the embedded MongoDB-wire server under var_dir."""
    mongo_db: str = "tac"
    redis_url: str | None = None
    """Redis URL for the event bus between instances. Unset: the in-process bus."""
    redis_prefix: str = "tac"
    """Prefix of every Redis channel and key, so several Tacs can share one Redis."""
    redis_cluster: bool = False
    """TAC_REDIS_URL names a node of a Redis Cluster: use the cluster client and sharded
    pub/sub (SSUBSCRIBE/SPUBLISH)."""
    secret_key: str | None = None
    """Signs session cookies. Unset: generated once and kept in var_dir/secret_key."""
    var_dir: Path = Path("var")
    host: str = "127.0.0.1"
    port: int = 8000
    unix_socket: Path | None = None
    """Also serve on this Unix socket, for a proxy on the same host (nginx): a write to it
    costs the kernel a third of one over loopback TCP."""
    instance_id: str = Field(default_factory=lambda: secrets.token_hex(3))
    """Names this instance in logs and metrics."""
    log_format: Literal["text", "json"] = "text"
    """`json`: one JSON object per log line (with the instance id), for log collectors."""
    cookie_secure: bool = False
    """Send the session cookie only over HTTPS (turn on behind TLS); also sends
    Strict-Transport-Security."""

    # Edge: what a browser, a proxy and a scraper may do
    hsts_max_age_seconds: int = 365 * 24 * 3600
    """Strict-Transport-Security's max-age, sent only when TAC_COOKIE_SECURE."""
    allowed_origins: list[str] = []
    """Origins (`scheme://host[:port]`, a JSON list) whose pages may open a room's socket.
    Empty: only the request's own origin (its scheme, Host and port)."""
    metrics_token: str | None = None
    """Set: /metrics answers only `Authorization: Bearer <this>` (401 otherwise). The
    shipped nginx configs never pass /metrics on: scrape each instance directly."""
    session_lifetime_days: float = 30.0
    """A sign-in session unused this long ends (each use moves its end forward)."""
    session_touch_seconds: float = 60.0
    """A session's last_seen_at (and end) is rewritten at most this often, not per request."""

    # Limits
    message_max_chars: int = 4000
    history_page_size: int = 50
    api_page_size_max: int = 200
    catchup_max_messages: int = 1000
    """At most this many missed messages are replayed on reconnect."""
    rate_limit_messages: int = 20
    rate_limit_window_seconds: float = 10.0
    login_attempts_max: int = 10
    """Sign-in attempts per (username, client address) per login_window_seconds (HTML form,
    API tokens, password change)."""
    login_window_seconds: float = 300.0
    login_address_attempts_max: int = 50
    """Sign-in attempts per client address (any usernames) per login_window_seconds."""
    login_username_attempts_max: int = 500
    """Sign-in attempts per username from all addresses together per login_window_seconds:
    high, so that locking a person out takes many addresses, not ten guesses."""
    trusted_proxy_hops: int = 0
    """Proxies in front of Tac whose X-Forwarded-For/-Proto/-Host are believed (nginx: 1;
    the shipped configs set those headers themselves). The client's address is read that
    many entries from the right of X-Forwarded-For, and the scheme and host the proxy saw
    are used (Hypercorn's ProxyFixMiddleware); 0: the socket's own peer, scheme and Host."""
    username_min_chars: int = 3
    username_max_chars: int = 32
    password_min_chars: int = 8
    password_max_chars: int = 256
    display_name_max_chars: int = 64
    room_title_max_chars: int = 80
    room_topic_max_chars: int = 300
    ws_send_queue_max: int = 512
    """Fragments waiting for one socket before it counts as slow and is closed (1013)."""
    ws_hello_timeout_seconds: float = 10.0
    ws_ping_interval_seconds: float = 20.0
    ws_reconnect_max_seconds: float = 1.5
    """The page's longest wait between two tries to reconnect its socket (jittered). It tries
    at once after a drop, a 1012 restart or the browser's `online` event; then it backs off
    up to this, so a page is back within about this long after its server is."""
    ws_max_message_bytes: int = 64 * 1024
    ws_coalesce_seconds: float = 0.025
    """A busy instance pushes to its sockets at most once per this window, so one frame
    carries every message of the window (fewer, fuller frames). A quiet room is not delayed."""
    ws_busy_deliveries_per_second: float = 12_000.0
    """Above this many deliveries/s (messages x sockets, on one instance) the window grows
    with the load, as (load / this) ** 1.5, so frames get fuller as load rises."""
    ws_coalesce_max_seconds: float = 0.25
    """The widest the window grows under load."""
    gap_repair_seconds: float = 1.0
    """How long the hub waits for a missing seq before reading it from MongoDB."""
    write_batch_max: int = Field(default=500, ge=1)
    """Messages stored by one write at most: posts that wait while a write is on its way
    go together in the next one."""
    seq_counter_idle_seconds: int = Field(default=7 * 24 * 3600, ge=60)
    """A room's counter in Redis expires after this long without posts (it starts again
    from the highest seq stored)."""
    seq_abandoned_seconds: float = 30.0
    """A seq taken this long ago whose message is not stored belongs to a post that failed:
    catch-ups neither wait for it nor stop at it."""

    # Unread, typing
    unread_count_max: int = 99
    """Unread messages counted per room at most (a badge shows 99+ beyond): each count reads
    up to this many of the room's newest messages, for each room of a page's user."""
    badge_interval_seconds: float = 1.0
    """A socket gets at most one sidebar badge update per room per this long, carrying the
    latest counts: never one frame per message per member."""
    mention_suggestions_max: int = 8
    """People offered after `@` in the composer, at most."""
    room_mention_members_max: int = 50
    """`@room` (which notifies every member) is refused in rooms with more members."""
    typing_throttle_seconds: float = 3.0
    """A typist's "is typing" goes out at most once per this long per room."""
    typing_expire_seconds: float = 6.0
    """"is typing" disappears by itself this long after the last typing event."""

    # Presence
    presence_ttl_seconds: float = 30.0
    """A user drops off this long after their instance stopped heartbeating."""
    presence_heartbeat_seconds: float = 10.0
    presence_debounce_seconds: float = 0.5
    """Changes of who is online in a room are pushed at most this often, as one update."""
    presence_push_sockets: int = Field(default=1000, ge=0)
    """A room with more sockets than this on one instance gets its presence pushed less
    often, the debounce growing in proportion (0: never)."""
    presence_list_max: int = 100
    """At most this many online people are listed by name beside a room."""
    presence_online_fresh_seconds: float = Field(default=0.25, ge=0)
    """Who is online anywhere (everyone's marks) is read at most this often per instance;
    at most half of TAC_PRESENCE_DEBOUNCE_SECONDS, so an update pushed after a change
    always reads marks newer than the change."""
    presence_members_fresh_seconds: float = 5.0
    """A room's member list, which presence needs on every update, is read again after this
    long (or after a second when someone online is not in it)."""

    # Shutdown
    shutdown_step_seconds: float = 3.0

    # Hypercorn
    backlog: int = 4096
    graceful_timeout_seconds: float = 5.0
    server: Literal["hypercorn", "uvicorn"] = "hypercorn"
    """`tac run`'s ASGI server. uvicorn (`pip install 'tac[bench]'`) is there to compare."""
    gc_thresholds: tuple[int, int, int] = (50_000, 20, 100)
    """Python's garbage collector thresholds for `tac run` (Python's default: 700, 10, 10).
    Rarer collections cost less CPU and shorter pauses with many sockets."""
    event_loop: Literal["uvloop", "asyncio"] = "uvloop"
    """`tac run`'s event loop: uvloop (less CPU per socket write) or Python's own asyncio."""
    ws_compression: bool = False
    """Accept permessage-deflate when a browser offers it. Off by default: it costs a zlib
    stream per socket (about 250 KB of RAM) and a compression per socket per frame."""
    ws_frame_cache_entries: int = 256
    """Hypercorn: the last this many WebSocket text frames are kept to be reused, so a
    fragment sent to every socket of a room is framed once (0: frame for every socket)."""

    # API
    api_registration_open: bool = True
    """Anyone may create an account with POST /api/v1/users."""
    api_tokens_per_user_max: int = 20
    """API tokens one person may hold at once."""
    api_token_name_max_chars: int = 64
    """Longest name of an API token."""
    api_token_touch_seconds: float = 60.0
    """A token's last_used_at is rewritten at most this often (one write, not one per call)."""
    api_stream_catchup_batch: int = 50
    """Missed events per frame when the event stream catches a client up."""

    def resolved_secret_key(self) -> str:
        if self.secret_key:
            return self.secret_key
        path = self.var_dir / "secret_key"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(48))
            path.chmod(0o600)
        return path.read_text().strip()
