"""`tac run`: serve Tac with Hypercorn, embedding MongoDB when TAC_MONGO_URL is unset."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal

from hypercorn.asyncio import serve
from hypercorn.config import Config

from tac.app import Runtime, create_app
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


async def serve_app(settings: Settings) -> None:
    app = create_app(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    async def shutdown_trigger() -> None:
        await stop.wait()
        # 1012 "service restart": htmx reconnects (through nginx, to another instance)
        # and catches up by seq. A clean 1000 would leave the page disconnected.
        runtime: Runtime | None = app.extensions.get("tac")
        if runtime is not None:
            runtime.hub.close_all(1012)
            await asyncio.sleep(0.2)

    await serve(app, hypercorn_config(settings), shutdown_trigger=shutdown_trigger)


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
    logging.basicConfig(
        level=logging.INFO,
        format=f"%(asctime)s %(levelname)s instance={settings.instance_id} %(name)s: %(message)s",
    )
    run(settings)


if __name__ == "__main__":
    main()
