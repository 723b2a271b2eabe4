"""`tac run`: serve Tac with Hypercorn, embedding MongoDB when TAC_MONGO_URL is unset."""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import logging
import signal
from typing import Any

from hypercorn.asyncio import serve
from hypercorn.config import Config
from quart import Quart

from tac.app import close_sockets_for_restart, create_app
from tac.embedded import EmbeddedMongo
from tac.settings import Settings

log = logging.getLogger("tac")


def hypercorn_config(settings: Settings) -> Config:
    config = Config()
    config.bind = [f"{settings.host}:{settings.port}"]
    config.backlog = settings.backlog
    config.websocket_ping_interval = settings.ws_ping_interval_seconds
    config.websocket_max_message_size = settings.ws_max_message_bytes
    config.graceful_timeout = settings.graceful_timeout_seconds
    config.accesslog = None
    return config


def refuse_ws_compression() -> None:
    """Make Hypercorn decline permessage-deflate; it has no setting of its own for that.

    Hypercorn accepts the extension whenever the client offers it, and browsers always do.
    Then every socket keeps its own zlib stream and compresses every frame itself: the same
    fragment is compressed once per socket, not once per room (TAC_WS_COMPRESSION).
    """
    from hypercorn.protocol import ws_stream

    accept = ws_stream.Handshake.accept
    if getattr(accept, "refuses_compression", False):
        return

    def accept_uncompressed(self: Any, *args: Any, **kwargs: Any) -> Any:
        self.extensions = None  # as if the client had offered none
        return accept(self, *args, **kwargs)

    accept_uncompressed.refuses_compression = True  # type: ignore[attr-defined]
    ws_stream.Handshake.accept = accept_uncompressed  # type: ignore[method-assign]


async def serve_app(settings: Settings) -> None:
    app = create_app(settings)
    if settings.server == "uvicorn":
        await serve_with_uvicorn(app, settings)
        return
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    async def shutdown_trigger() -> None:
        await stop.wait()
        await close_sockets_for_restart(app)

    await serve(app, hypercorn_config(settings), shutdown_trigger=shutdown_trigger)


async def serve_with_uvicorn(app: Quart, settings: Settings) -> None:
    """The same app under uvicorn, for comparison (BENCHMARKS.md). uvicorn handles SIGTERM
    itself and closes sockets with 1012 on shutdown."""
    import uvicorn

    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        backlog=settings.backlog,
        ws_ping_interval=settings.ws_ping_interval_seconds,
        ws_max_size=settings.ws_max_message_bytes,
        ws_per_message_deflate=settings.ws_compression,
        timeout_graceful_shutdown=int(settings.graceful_timeout_seconds),
        lifespan="on",
        access_log=False,
        log_config=None,
    )
    await uvicorn.Server(config).serve()


def run(settings: Settings) -> None:
    embedded: EmbeddedMongo | None = None
    if not settings.mongo_url:
        embedded = EmbeddedMongo(
            settings.var_dir / "mongo", log_file=settings.var_dir / "mongo.log"
        )
        settings = settings.model_copy(update={"mongo_url": embedded.start()})
        log.info("embedded MongoDB-wire server on %s (data in %s)", embedded.url, embedded.data_dir)
    try:
        log.info("Tac on http://%s:%d", settings.host, settings.port)
        # With thousands of sockets, every collection walks many objects; fewer of them
        # cut the fan-out's CPU and its tail latency (BENCHMARKS.md).
        gc.set_threshold(*settings.gc_thresholds)
        if not settings.ws_compression:
            refuse_ws_compression()
        if settings.event_loop == "uvloop":
            import uvloop

            uvloop.run(serve_app(settings))
        else:
            asyncio.run(serve_app(settings))
    finally:
        if embedded is not None:
            embedded.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="tac", description="Tac group chat")
    sub = parser.add_subparsers(dest="command", required=True)
    run_parser = sub.add_parser("run", help="serve the chat (settings from TAC_* variables)")
    run_parser.add_argument("--host", help="overrides TAC_HOST")
    run_parser.add_argument("--port", type=int, help="overrides TAC_PORT")
    args = parser.parse_args(argv)

    settings = Settings()
    overrides = {k: v for k, v in (("host", args.host), ("port", args.port)) if v is not None}
    settings = settings.model_copy(update=overrides)
    configure_logging(settings)
    run(settings)


class JsonFormatter(logging.Formatter):
    def __init__(self, instance: str) -> None:
        super().__init__()
        self.instance = instance

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record),
            "level": record.levelname,
            "instance": self.instance,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry)


def configure_logging(settings: Settings) -> None:
    handler = logging.StreamHandler()
    if settings.log_format == "json":
        handler.setFormatter(JsonFormatter(settings.instance_id))
    else:
        handler.setFormatter(
            logging.Formatter(
                f"%(asctime)s %(levelname)s instance={settings.instance_id} %(name)s: %(message)s"
            )
        )
    logging.basicConfig(level=logging.INFO, handlers=[handler], force=True)


if __name__ == "__main__":
    main()
