"""Tac: real-time, horizontally scalable group chat."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from quart import Quart

    from tac.settings import Settings


def create_app(settings: Settings | None = None) -> Quart:
    """The app (tac/app.py); imported on call, so importing any part of tac stays light."""
    from tac.app import create_app as make_app

    return make_app(settings)


__all__ = ["create_app"]
