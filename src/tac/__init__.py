"""Tac: real-time, horizontally scalable group chat."""

from tac.app import create_app

__all__ = ["create_app"]
