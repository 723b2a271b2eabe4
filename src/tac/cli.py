"""`tac run`: serve Tac (src/tac/server.py), embedding MongoDB when TAC_MONGO_URL is unset."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import logging
import signal
import sys
import time
from collections.abc import Iterator

from tac.embedded import EmbeddedMongo
from tac.patches import send_directly
from tac.server import serve_app, tune_hypercorn
from tac.settings import Settings

log = logging.getLogger("tac")


def run(settings: Settings) -> None:
    embedded: EmbeddedMongo | None = None
    if not settings.mongo_url:
        embedded = EmbeddedMongo(
            settings.var_dir / "mongo", log_file=settings.var_dir / "mongo.log"
        )
        settings = settings.model_copy(update={"mongo_url": embedded.start()})
        log.info("embedded MongoDB-wire server on %s (data in %s)", embedded.url, embedded.data_dir)
    try:
        # The address is said once, by the server when it listens ("Running on ...").
        # With thousands of sockets, every collection walks many objects; fewer of them
        # cut the fan-out's CPU and its tail latency (BENCHMARKS.md).
        gc.set_threshold(*settings.gc_thresholds)
        send_directly()  # under either server: the socket's writer skips websocket.send()
        if settings.server == "hypercorn":
            tune_hypercorn(settings)
        if settings.event_loop == "uvloop":
            import uvloop

            uvloop.run(serve_app(settings))
        else:
            asyncio.run(serve_app(settings))
    finally:
        if embedded is not None:
            with patient_interrupts():
                started = time.monotonic()
                log.info("stopping the embedded database (it writes its data out)")
                embedded.stop()
                log.info("embedded database stopped in %.1f s", time.monotonic() - started)


@contextlib.contextmanager
def patient_interrupts() -> Iterator[None]:
    """While the database stops, another Ctrl+C says what is happening instead of leaving
    it half-stopped (a restart would then find its data locked)."""

    def say(signum: int, frame: object) -> None:
        log.info("still stopping the embedded database; a moment")

    previous = signal.signal(signal.SIGINT, say)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


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
    try:
        run(settings)
    except KeyboardInterrupt:  # Ctrl+C while starting: stopped, no traceback
        log.info("stopped")
        sys.exit(130)


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
