"""Every place where Tac reaches into a library's internals for speed, in one module.

Each patch says what it replaces, why (the numbers are in BENCHMARKS.md) and the exact
version of the library it was written for; that library is pinned to that version in
pyproject.toml and in the lock files (requirements/*.lock), and tests/test_patches.py
fails when a pin and a patch disagree or when a patch stops taking effect.

A patch is applied explicitly (`tac run`, through `server.tune_hypercorn` and
`send_directly`) and can be reverted, so a test can turn it off or apply it again with
other settings: applying again replaces what was applied before. Before applying, a patch
checks that its target still has the shape it relies on and raises `PatchError` if not;
an installed version other than the one it was written for is logged as an ERROR.
"""

from __future__ import annotations

import importlib.metadata
import logging
from collections.abc import Callable, Coroutine
from typing import Any

log = logging.getLogger(__name__)

Send = Callable[[str], Coroutine[Any, Any, None]]

HYPERCORN_VERSION = "0.18.0"
WSPROTO_VERSION = "1.3.2"
QUART_VERSION = "0.22.0"


class PatchError(RuntimeError):
    """A library no longer has the shape a patch relies on: the patch must be revisited."""


class Patch:
    """A change to `library`'s behaviour, written for `written_for`, that can be undone."""

    library = ""
    written_for = ""

    def __init__(self) -> None:
        self.applied = False

    @property
    def name(self) -> str:
        return type(self).__name__

    def check(self) -> None:
        """Raise PatchError unless the target has the shape this patch relies on."""

    def install(self) -> None:
        raise NotImplementedError

    def uninstall(self) -> None:
        raise NotImplementedError

    def apply(self) -> None:
        """Apply the patch, replacing this patch's earlier application if there was one."""
        self.revert()
        installed = importlib.metadata.version(self.library)
        if installed != self.written_for:
            log.error(
                "patch %s was written for %s %s but %s is installed: the shape checks "
                "decide whether it still applies; review it and the pin in pyproject.toml",
                self.name, self.library, self.written_for, installed,
            )  # fmt: skip
        self.check()
        self.install()
        self.applied = True

    def revert(self) -> None:
        """Put back the library's own behaviour (nothing to do if not applied)."""
        if self.applied:
            self.uninstall()
            self.applied = False

    def turn(self, on: bool) -> None:
        """Apply (True) or revert (False)."""
        if on:
            self.apply()
        else:
            self.revert()


class MethodPatch(Patch):
    """Replaces `owner.attribute` (a function of the library itself) by a wrapper of it."""

    def target(self) -> tuple[type, str]:
        raise NotImplementedError

    def wrap(self, original: Callable[..., Any]) -> Callable[..., Any]:
        raise NotImplementedError

    def check(self) -> None:
        owner, attribute = self.target()
        original = owner.__dict__.get(attribute)
        module = self.library.replace("-", "_").lower()
        if not callable(original) or not getattr(original, "__module__", "").startswith(module):
            raise PatchError(
                f"patch {self.name}: {owner.__qualname__}.{attribute} is not {self.library}'s "
                f"own function (found {original!r}); written for {self.library} "
                f"{self.written_for}"
            )

    def install(self) -> None:
        owner, attribute = self.target()
        self._original = owner.__dict__[attribute]
        setattr(owner, attribute, self.wrap(self._original))

    def uninstall(self) -> None:
        owner, attribute = self.target()
        setattr(owner, attribute, self._original)


class RefuseWsCompression(MethodPatch):
    """Replaces Hypercorn's `Handshake.accept` (hypercorn.protocol.ws_stream, Hypercorn
    0.18.0) by one that answers as if the client had offered no extension.

    Why: Hypercorn accepts permessage-deflate whenever the client offers it (browsers always
    do) and has no setting to refuse it. Then every socket keeps its own zlib stream and
    compresses every frame itself: the same fragment is compressed once per socket, not
    once per room, and RSS per socket goes from 53-66 KB to 320-385 KB (BENCHMARKS.md).
    Not applied when TAC_WS_COMPRESSION is true.

    Relies on: `Handshake.accept(self, subprotocol, additional_headers)` reading the offer
    from `self.extensions` (None when no offer was made).
    """

    library = "hypercorn"
    written_for = HYPERCORN_VERSION

    def target(self) -> tuple[type, str]:
        from hypercorn.protocol import ws_stream

        return ws_stream.Handshake, "accept"

    def check(self) -> None:
        super().check()
        from hypercorn.protocol.ws_stream import Handshake

        offered = Handshake([(b"sec-websocket-extensions", b"permessage-deflate")], "1.1")
        if getattr(offered, "extensions", None) != ["permessage-deflate"]:
            raise PatchError(
                f"patch {self.name}: Hypercorn's Handshake no longer keeps the client's offer "
                f"in `extensions`; written for hypercorn {self.written_for}"
            )

    def wrap(self, original: Callable[..., Any]) -> Callable[..., Any]:
        def accept_uncompressed(self: Any, *args: Any, **kwargs: Any) -> Any:
            self.extensions = None  # as if the client had offered none
            return original(self, *args, **kwargs)

        return accept_uncompressed


class CacheTextFrames(MethodPatch):
    """Replaces wsproto's `Connection.send` (wsproto.connection, wsproto 1.3.2) by one that
    frames each text once for all sockets, keeping the last `entries` frames by their text.

    Why: wsproto builds the frame again for every socket: it encodes the text to UTF-8,
    builds the header and copies the payload, 12 % of an instance's samples in the fan-out
    at N=2,000 (BENCHMARKS.md). A server's frame is not masked, so without an extension it
    depends on the text alone, and the hub hands every socket of a room the same string.
    Frames under an extension (compression), continuation frames and other events are
    built by wsproto as before (TAC_WS_FRAME_CACHE_ENTRIES; 0 turns the cache off).

    Relies on: `Connection._state`, `Connection._proto` (a FrameProtocol) with `client`,
    `extensions` and `_outbound_opcode` (None unless a fragmented message is under way).
    """

    library = "wsproto"
    written_for = WSPROTO_VERSION

    def __init__(self) -> None:
        super().__init__()
        self.entries = 256

    def target(self) -> tuple[type, str]:
        from wsproto.connection import Connection

        return Connection, "send"

    def check(self) -> None:
        super().check()
        from wsproto import ConnectionType
        from wsproto.connection import Connection, ConnectionState

        conn = Connection(ConnectionType.SERVER)
        proto = getattr(conn, "_proto", None)
        if getattr(conn, "_state", None) is not ConnectionState.OPEN or not all(
            hasattr(proto, name) for name in ("client", "extensions", "_outbound_opcode")
        ):
            raise PatchError(
                f"patch {self.name}: wsproto's Connection no longer has `_state` and a "
                f"`_proto` with client, extensions and _outbound_opcode; written for "
                f"wsproto {self.written_for}"
            )

    def wrap(self, original: Callable[..., Any]) -> Callable[..., Any]:
        from wsproto.connection import Connection, ConnectionState
        from wsproto.events import TextMessage

        entries = self.entries
        frames: dict[str, bytes] = {}  # a new cache for every application

        def send_cached(self: Connection, event: Any) -> bytes:
            if type(event) is TextMessage and event.message_finished:
                proto = self._proto
                if (
                    self._state is ConnectionState.OPEN
                    and not proto.client
                    and not proto.extensions
                    and proto._outbound_opcode is None
                ):
                    text = event.data
                    frame = frames.get(text)
                    if frame is None:
                        frame = frames[text] = bytes(original(self, event))
                        if len(frames) > entries:
                            del frames[next(iter(frames))]  # the oldest
                    return frame
            sent: bytes = original(self, event)
            return sent

        return send_cached


class SendDirectly(Patch):
    """Hands a live socket's writer Quart's private `Websocket._send` (quart.wrappers.websocket,
    Quart 0.22.0) instead of the public `websocket.send()`; nothing in Quart is replaced.

    Why: `Websocket.send()` first does `await asyncio.sleep(0)` (a task step per frame, for
    apps that send in a tight loop) and `accept()`, and `websocket` is a context-local
    proxy; the hub flushes every socket from its own task, and a send that completes at once
    is done in the hub's step (BENCHMARKS.md, "the room socket's writer sends with the
    accepted socket's own sender"). When reverted, `fast_websocket_send` returns the public
    `send` of the socket.

    Relies on: `Websocket.__init__(..., send, ...)` keeping `send` (Quart's ASGI sender of
    one frame) as `self._send`, and werkzeug's `LocalProxy._get_current_object()`.
    """

    library = "quart"
    written_for = QUART_VERSION

    def check(self) -> None:
        from quart.globals import websocket
        from quart.wrappers.websocket import Websocket
        from werkzeug.datastructures import Headers

        async def send(data: str | bytes) -> None:
            return None

        try:
            socket = Websocket(
                "/", b"", "ws", Headers(), "", "1.1", [], send, send, send, send,
                {"type": "websocket"},  # type: ignore[typeddict-item]
            )  # fmt: skip
            keeps_sender = socket._send is send
        except (TypeError, AttributeError):
            keeps_sender = False
        if not keeps_sender or not hasattr(websocket, "_get_current_object"):
            raise PatchError(
                f"patch {self.name}: Quart's Websocket no longer keeps its sender as `_send` "
                f"(or its proxy has no _get_current_object); written for quart "
                f"{self.written_for}"
            )

    def install(self) -> None:
        """Nothing to replace: `fast_websocket_send` reads `applied`."""

    def uninstall(self) -> None:
        """Nothing to put back."""


class CloseRefusedSockets(MethodPatch):
    """Replaces Hypercorn's `WSStream._handle_events` (hypercorn.protocol.ws_stream,
    Hypercorn 0.18.0) by one that closes a socket whose client sent what the protocol
    refuses, with a close frame that says why, and at once.

    Why: not speed but safety (issue 10). Two cases:
    - A frame over websocket_max_message_size: Hypercorn answers with a 1009 close and
      stops reading, but keeps the TCP connection, and the app waits until the client
      answers the close, which a client sending oversized frames need not do: the socket
      stayed up to a ping interval. After the 1009, the stream is ended now.
    - Data wsproto cannot parse (a text frame that is not UTF-8, a protocol error): wsproto
      reports it as a CloseConnection event carrying the code (1007, 1002) without sending
      anything, and Hypercorn answers a close only when the client began one, so it dropped
      the connection and the client saw 1006. The close frame with wsproto's code is sent
      first.

    Relies on: `WSStream.connection` being wsproto's `Connection` (its `events()` read once
    here and handed on, its `state` OPEN while such a refusal is reported, LOCAL_CLOSING
    after Hypercorn's 1009), `WSStream.state` (ASGIWebsocketState) staying CONNECTED, and
    `WSStream.send(StreamClosed(stream_id=...))` ending the stream.
    """

    library = "hypercorn"
    written_for = HYPERCORN_VERSION

    def target(self) -> tuple[type, str]:
        from hypercorn.protocol import ws_stream

        return ws_stream.WSStream, "_handle_events"

    def check(self) -> None:
        super().check()
        from hypercorn.protocol import ws_stream

        if not hasattr(ws_stream, "ASGIWebsocketState") or not hasattr(
            ws_stream.ASGIWebsocketState, "CONNECTED"
        ):
            raise PatchError(
                f"patch {self.name}: Hypercorn's ws_stream has no ASGIWebsocketState.CONNECTED; "
                f"written for hypercorn {self.written_for}"
            )

    def wrap(self, original: Callable[..., Any]) -> Callable[..., Any]:
        from hypercorn.protocol import ws_stream
        from hypercorn.protocol.events import StreamClosed
        from wsproto.connection import ConnectionState
        from wsproto.events import CloseConnection

        async def handle_then_close(self: Any) -> None:
            connection = self.connection
            events = list(connection.events())
            refused = next((e for e in events if isinstance(e, CloseConnection)), None)
            if refused is not None and connection.state is ConnectionState.OPEN:
                # wsproto refused the client's data: the client did not begin a close
                # (that would be REMOTE_CLOSING), so say why before the stream ends.
                await self._send_wsproto_event(refused)
            connection.events = lambda: iter(events)  # what the original reads
            try:
                await original(self)
            finally:
                del connection.events
            # Only the 1009 refusal leaves the app's side open with our close sent (the
            # app's own close moves self.state to CLOSED first).
            if (
                self.state is ws_stream.ASGIWebsocketState.CONNECTED
                and connection.state is ConnectionState.LOCAL_CLOSING
            ):
                await self.send(StreamClosed(stream_id=self.stream_id))

        return handle_then_close


class PingsEndAtShutdown(MethodPatch):
    """Replaces Hypercorn's `WSStream._send_pings` (hypercorn.protocol.ws_stream,
    Hypercorn 0.18.0) by a loop that ends as soon as the server is stopping.

    Why: not speed but a prompt stop (issue 13). The ping loop sleeps a whole
    websocket_ping_interval between pings and only then sees that its socket closed; its
    task belongs to the connection's task group, so the connection lives on that long.
    A server stopping with sockets open closes them (1012) at once, and then waited for
    every such loop until its graceful timeout (TAC_GRACEFUL_TIMEOUT_SECONDS, 5 s) before
    it could stop. The loop now sleeps on the worker's `terminated` event with the same
    interval as a deadline: no extra task, and it wakes when the server stops.

    Relies on: `WSStream.context.terminated` (Hypercorn's EventWrapper: `wait()`,
    `is_set()`), set when the server begins to stop, `WSStream.closed`,
    `WSStream._send_wsproto_event` and `config.websocket_ping_interval`.
    """

    library = "hypercorn"
    written_for = HYPERCORN_VERSION

    def target(self) -> tuple[type, str]:
        from hypercorn.protocol import ws_stream

        return ws_stream.WSStream, "_send_pings"

    def check(self) -> None:
        super().check()
        from hypercorn.asyncio.worker_context import WorkerContext

        terminated = getattr(WorkerContext(None), "terminated", None)
        if not (hasattr(terminated, "wait") and hasattr(terminated, "is_set")):
            raise PatchError(
                f"patch {self.name}: Hypercorn's WorkerContext has no `terminated` event; "
                f"written for hypercorn {self.written_for}"
            )

    def wrap(self, original: Callable[..., Any]) -> Callable[..., Any]:
        import asyncio

        from wsproto.events import Ping

        async def send_pings(self: Any) -> None:
            terminated = self.context.terminated
            while not self.closed and not terminated.is_set():
                await self._send_wsproto_event(Ping())
                try:
                    async with asyncio.timeout(self.config.websocket_ping_interval):
                        await terminated.wait()
                except TimeoutError:
                    pass

        return send_pings


REFUSE_WS_COMPRESSION = RefuseWsCompression()
CACHE_TEXT_FRAMES = CacheTextFrames()
SEND_DIRECTLY = SendDirectly()
CLOSE_REFUSED_SOCKETS = CloseRefusedSockets()
PINGS_END_AT_SHUTDOWN = PingsEndAtShutdown()
ALL: tuple[Patch, ...] = (
    REFUSE_WS_COMPRESSION,
    CACHE_TEXT_FRAMES,
    SEND_DIRECTLY,
    CLOSE_REFUSED_SOCKETS,
    PINGS_END_AT_SHUTDOWN,
)


def close_refused_sockets(enabled: bool = True) -> None:
    """Close a socket whose client sent what the protocol refuses (an oversized frame, bad
    UTF-8) with a close frame that says why, and end its connection at once."""
    CLOSE_REFUSED_SOCKETS.turn(enabled)


def pings_end_at_shutdown(enabled: bool = True) -> None:
    """End each socket's ping loop when the server stops, not a ping interval later."""
    PINGS_END_AT_SHUTDOWN.turn(enabled)


def refuse_ws_compression(refuse: bool = True) -> None:
    """Refuse permessage-deflate in Hypercorn (or, with False, accept it again)."""
    REFUSE_WS_COMPRESSION.turn(refuse)


def cache_text_frames(entries: int) -> None:
    """Keep the last `entries` text frames (0: no cache); replaces an earlier cache."""
    CACHE_TEXT_FRAMES.entries = entries
    CACHE_TEXT_FRAMES.turn(entries > 0)


def send_directly(enabled: bool = True) -> None:
    """Let live sockets send with Quart's own sender (or, with False, `websocket.send`)."""
    SEND_DIRECTLY.turn(enabled)


def fast_websocket_send(websocket: Any) -> Send:
    """The sender of the socket behind Quart's `websocket` proxy: its private `_send` while
    SEND_DIRECTLY is applied, its public `send` when that was turned off."""
    socket = websocket._get_current_object()
    send: Send = socket._send if SEND_DIRECTLY.applied else socket.send
    return send
