"""Prometheus metrics of one instance, served at /metrics."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

OPEN_SOCKETS = Gauge("tac_open_sockets", "WebSockets open on this instance")
MESSAGES_POSTED = Counter("tac_messages_posted_total", "Messages stored and published")
DELIVERIES = Counter("tac_deliveries_total", "Fragments queued for local sockets")
DELIVERY_LATENCY = Histogram(
    "tac_delivery_latency_seconds",
    "From a message being stored to its fragment queued for this instance's sockets",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
BUS_RECONNECTS = Counter("tac_bus_reconnects_total", "Times the bus got its connection back")
SLOW_CONSUMER_CLOSES = Counter(
    "tac_slow_consumer_closes_total", "Sockets closed because their send queue was full"
)
